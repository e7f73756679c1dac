// Deterministic train/validation split by a hash of the SOP Instance UID: a file keeps its split
// when files are added or removed, and every frame of a file lands in the same split.
import { createHash } from 'node:crypto';

export type Split = 'train' | 'validation';

export function splitOf(sopInstanceUid: string, validationFraction: number): Split {
  const h = createHash('sha256').update(sopInstanceUid).digest();
  return h.readUInt32BE(0) / 2 ** 32 < validationFraction ? 'validation' : 'train';
}
