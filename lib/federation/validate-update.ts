// The gate every update passes before any strategy sees it. A bad update is data, not an
// exception: it comes back rejected, with a reason code and a message per problem.
import { decodeModel, sha256 } from '../model/onnx-io.js';
import { decodeSafetensors } from '../model/safetensors.js';
import { ModelFormatError } from '../errors.js';
import type { SiteOutcome } from '../schemas/lineage.js';
import { type UpdateManifest, UpdateManifestSchema } from '../schemas/update-manifest.js';
import { type BlobStore, ObjectNotFoundError } from '../storage/blob-store.js';
import { keys } from '../storage/keys.js';
import type { ValidateInput } from './round-state.js';
import { updatableInitializers } from './update.js';

export type Reason = { code: string; message: string };

/** Largest update file the gate reads (bytes). */
export const MAX_UPDATE_BYTES = 2 * 1024 * 1024 * 1024;

async function readOrUndefined(store: BlobStore, bucket: string, key: string): Promise<Uint8Array | undefined> {
  try {
    return await store.get(bucket, key);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
}

/** Reasons kept per update, and message length: 50 rejected sites stay far below Step Functions' 256 KiB. */
export const MAX_REASONS = 5;
export const MAX_MESSAGE = 240;

export async function validateUpdate(store: BlobStore, input: ValidateInput): Promise<SiteOutcome> {
  const reasons: Reason[] = [];
  const reject = (): SiteOutcome => {
    const kept = reasons.slice(0, MAX_REASONS).map((r) => ({ code: r.code, message: r.message.length > MAX_MESSAGE ? `${r.message.slice(0, MAX_MESSAGE - 1)}…` : r.message }));
    if (reasons.length > MAX_REASONS) kept.push({ code: 'more', message: `and ${reasons.length - MAX_REASONS} more problem(s)` });
    return { siteId: input.siteId, status: 'rejected', reasons: kept };
  };
  const manifestBytes = await readOrUndefined(store, input.siteBucket, keys.updateManifest(input.runId, input.round));
  if (!manifestBytes) {
    reasons.push({ code: 'missing-manifest', message: `no update manifest at s3://${input.siteBucket}/${keys.updateManifest(input.runId, input.round)}` });
    return reject();
  }
  let manifest: UpdateManifest;
  try {
    manifest = UpdateManifestSchema.parse(JSON.parse(new TextDecoder().decode(manifestBytes)));
  } catch (err) {
    reasons.push({ code: 'malformed-manifest', message: `the update manifest is not valid: ${(err as Error).message.slice(0, 500)}` });
    return reject();
  }
  if (manifest.siteId !== input.siteId) reasons.push({ code: 'site-mismatch', message: `the manifest claims site '${manifest.siteId}' but came from the bucket of site '${input.siteId}'` });
  if (manifest.runId !== input.runId || manifest.round !== input.round) reasons.push({ code: 'wrong-round', message: `the manifest is for run '${manifest.runId}' round ${manifest.round}, not run '${input.runId}' round ${input.round} (replayed?)` });
  if (manifest.baseModelSha256 !== input.globalModelSha256) reasons.push({ code: 'stale-base-model', message: `the update was trained on model ${manifest.baseModelSha256.slice(0, 12)}…, not this round's model ${input.globalModelSha256.slice(0, 12)}…` });
  if (manifest.sampleCount < 1) reasons.push({ code: 'sample-count', message: `sample count ${manifest.sampleCount} is out of range (at least 1)` });

  const info = await store.head(input.siteBucket, keys.update(input.runId, input.round));
  if (!info) {
    reasons.push({ code: 'missing-update', message: `no update file at s3://${input.siteBucket}/${keys.update(input.runId, input.round)}` });
    return reject();
  }
  if (info.size > MAX_UPDATE_BYTES) {
    reasons.push({ code: 'oversized', message: `the update file has ${info.size} bytes; the limit is ${MAX_UPDATE_BYTES}` });
    return reject();
  }
  const bytes = await store.get(input.siteBucket, keys.update(input.runId, input.round));
  if (sha256(bytes) !== manifest.updateSha256) reasons.push({ code: 'checksum-mismatch', message: `the update file's SHA-256 ${sha256(bytes).slice(0, 12)}… differs from the manifest's ${manifest.updateSha256.slice(0, 12)}…` });
  let tensors;
  try {
    tensors = decodeSafetensors(bytes, 'update').tensors;
  } catch (err) {
    if (!(err instanceof ModelFormatError)) throw err;
    reasons.push({ code: 'malformed', message: err.message });
    return reject();
  }
  const expected = updatableInitializers(decodeModel(await store.get(input.modelsBucket, input.globalModelKey), input.globalModelKey));
  for (const name of tensors.keys()) if (!expected.has(name)) reasons.push({ code: 'unknown-tensor', message: `tensor '${name}' is not an initializer of the global model` });
  for (const [name, g] of expected) {
    const t = tensors.get(name);
    if (!t) {
      reasons.push({ code: 'missing-tensor', message: `tensor '${name}' is missing` });
      continue;
    }
    if (t.dtype !== g.dtype || t.dims.join(',') !== g.dims.join(',')) {
      reasons.push({ code: 'wrong-shape', message: `tensor '${name}' is ${t.dtype}[${t.dims}], the model has ${g.dtype}[${g.dims}]` });
      continue;
    }
    const data = t.data as Float32Array;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        reasons.push({ code: 'non-finite', message: `tensor '${name}' holds ${data[i]} at index ${i}` });
        break;
      }
    }
  }
  if (reasons.length) return reject();
  return { siteId: input.siteId, status: 'accepted', sampleCount: manifest.sampleCount, weight: 0, updateSha256: manifest.updateSha256, globalMetrics: manifest.globalMetrics, localMetrics: manifest.localMetrics };
}
