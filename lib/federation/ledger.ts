// The run's replay ledger: one small object per accepted update, keyed by the update's SHA-256
// (models bucket, runs/<runId>/ledger/<sha256>.json, written once by aggregation). The gate looks an
// update's hash up before accepting it, so the same bytes are never accepted twice in a run.
import { z } from 'zod';
import { type BlobStore, ObjectNotFoundError, putOnce } from '../storage/blob-store.js';
import { keys } from '../storage/keys.js';

export const LedgerEntrySchema = z.object({ siteId: z.string(), round: z.number().int().min(0) }).strict();
export type LedgerEntry = z.infer<typeof LedgerEntrySchema>;

export async function readLedgerEntry(store: BlobStore, modelsBucket: string, runId: string, updateSha256: string): Promise<LedgerEntry | undefined> {
  try {
    return LedgerEntrySchema.parse(JSON.parse(new TextDecoder().decode(await store.get(modelsBucket, keys.ledgerEntry(runId, updateSha256)))));
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
}

/** Records an accepted update. A re-run of the same round writes the same bytes (success); another round's entry stands. */
export async function recordLedgerEntry(store: BlobStore, modelsBucket: string, runId: string, updateSha256: string, entry: LedgerEntry): Promise<void> {
  await putOnce(store, modelsBucket, keys.ledgerEntry(runId, updateSha256), `${JSON.stringify(entry)}\n`, 'application/json').catch((err) => {
    if ((err as Error).name !== 'ObjectExistsError') throw err;
  });
}
