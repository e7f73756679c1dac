// The gate every update passes before any strategy sees it. A bad update is data, not an
// exception: it comes back rejected, with a reason code and a message per problem. The update file
// is read by ranges (header first, then tensor by tensor in chunks), never whole: memory stays at
// one chunk whatever the file claims.
import { createHash } from 'node:crypto';
import { ModelFormatError } from '../errors.js';
import { decodeModel } from '../model/onnx-io.js';
import { type RangeReader, readFloats, readSafetensorsIndex } from '../model/safetensors-stream.js';
import type { SiteOutcome } from '../schemas/lineage.js';
import { type GateConfig, GateConfigSchema } from '../schemas/strategy.js';
import { type UpdateManifest, UpdateManifestSchema } from '../schemas/update-manifest.js';
import { type BlobStore, ObjectNotFoundError } from '../storage/blob-store.js';
import { keys } from '../storage/keys.js';
import type { ValidateInput } from './round-state.js';
import { updatableInitializers } from './update.js';

export type Reason = { code: string; message: string };

/** Reasons kept per update, and message length: 50 rejected sites stay far below Step Functions' 256 KiB. */
export const MAX_REASONS = 5;
export const MAX_MESSAGE = 240;
/** Values read at a time while checking an update. */
export const CHUNK_VALUES = 1 << 18;

export function storeReader(store: BlobStore, bucket: string, key: string, size: number): RangeReader {
  const reader: RangeReader = { size, read: (start, end) => store.getRange(bucket, key, start, Math.min(end, size)) };
  if (store.readRangeInto) reader.readInto = (start, target) => store.readRangeInto!(bucket, key, start, target);
  return reader;
}

async function readOrUndefined(store: BlobStore, bucket: string, key: string): Promise<Uint8Array | undefined> {
  try {
    return await store.get(bucket, key);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
}

export async function validateUpdate(store: BlobStore, input: ValidateInput): Promise<SiteOutcome> {
  const gate: GateConfig = GateConfigSchema.parse(input.gate ?? {});
  const reasons: Reason[] = [];
  const reject = (): SiteOutcome => {
    const kept = reasons.slice(0, MAX_REASONS).map((r) => ({ code: r.code, message: r.message.length > MAX_MESSAGE ? `${r.message.slice(0, MAX_MESSAGE - 1)}…` : r.message }));
    if (reasons.length > MAX_REASONS) kept.push({ code: 'more', message: `and ${reasons.length - MAX_REASONS} more problem(s)` });
    return { siteId: input.siteId, status: 'rejected', reasons: kept };
  };
  const manifestKey = keys.updateManifest(input.runId, input.round);
  const manifestInfo = await store.head(input.siteBucket, manifestKey);
  if (!manifestInfo) {
    reasons.push({ code: 'missing-manifest', message: `no update manifest at s3://${input.siteBucket}/${manifestKey}` });
    return reject();
  }
  if (manifestInfo.size > 64 * 1024) {
    reasons.push({ code: 'oversized', message: `the update manifest has ${manifestInfo.size} bytes; the limit is 65536` });
    return reject();
  }
  let manifest: UpdateManifest;
  try {
    manifest = UpdateManifestSchema.parse(JSON.parse(new TextDecoder().decode(await readOrUndefined(store, input.siteBucket, manifestKey))));
  } catch (err) {
    reasons.push({ code: 'malformed-manifest', message: `the update manifest is not valid: ${(err as Error).message}` });
    return reject();
  }
  if (manifest.siteId !== input.siteId) reasons.push({ code: 'site-mismatch', message: `the manifest claims site '${manifest.siteId}' but came from the bucket of site '${input.siteId}'` });
  if (manifest.runId !== input.runId || manifest.round !== input.round) reasons.push({ code: 'wrong-round', message: `the manifest is for run '${manifest.runId}' round ${manifest.round}, not run '${input.runId}' round ${input.round} (replayed?)` });
  if (manifest.baseModelSha256 !== input.globalModelSha256) reasons.push({ code: 'stale-base-model', message: `the update was trained on model ${manifest.baseModelSha256.slice(0, 12)}…, not this round's model ${input.globalModelSha256.slice(0, 12)}…` });
  if (manifest.sampleCount < gate.minSamples || manifest.sampleCount > gate.maxSamples) reasons.push({ code: 'sample-count', message: `sample count ${manifest.sampleCount} is out of range [${gate.minSamples}, ${gate.maxSamples}]` });

  const updateKey = keys.update(input.runId, input.round);
  const info = await store.head(input.siteBucket, updateKey);
  if (!info) {
    reasons.push({ code: 'missing-update', message: `no update file at s3://${input.siteBucket}/${updateKey}` });
    return reject();
  }
  if (info.size > gate.maxUpdateBytes) {
    reasons.push({ code: 'oversized', message: `the update file has ${info.size} bytes; the limit is ${gate.maxUpdateBytes}` });
    return reject();
  }
  const reader = storeReader(store, input.siteBucket, updateKey, info.size);
  let index;
  try {
    index = await readSafetensorsIndex(reader, 'update');
  } catch (err) {
    if (!(err instanceof ModelFormatError)) throw err;
    reasons.push({ code: 'malformed', message: err.message });
    return reject();
  }
  // Only names, dtypes and shapes are needed: the weights themselves are not decoded.
  const expected = updatableInitializers(decodeModel(await store.get(input.modelsBucket, input.globalModelKey), input.globalModelKey, { withoutValues: true }));
  const present = new Set(index.entries.map((e) => e.name));
  for (const e of index.entries) {
    const g = expected.get(e.name);
    if (!g) reasons.push({ code: 'unknown-tensor', message: `tensor '${e.name}' is not an initializer of the global model` });
    else if (e.dims.join(',') !== g.dims.join(',')) reasons.push({ code: 'wrong-shape', message: `tensor '${e.name}' is float32[${e.dims}], the model has ${g.dtype}[${g.dims}]` });
  }
  for (const name of expected.keys()) if (!present.has(name)) reasons.push({ code: 'missing-tensor', message: `tensor '${name}' is missing` });
  if (reasons.length) return reject();

  // One pass in file order: hash every byte, check every value is finite, sum the squares.
  const hash = createHash('sha256').update(index.headerBytes);
  let sumSquares = 0;
  const scratch = new Float32Array(CHUNK_VALUES);
  for (const e of index.entries) {
    const count = (e.end - e.begin) / 4;
    let nonFinite = -1;
    for (let from = 0; from < count; from += CHUNK_VALUES) {
      const values = await readFloats(reader, e, from, Math.min(count, from + CHUNK_VALUES), scratch);
      hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (!Number.isFinite(v)) {
          if (nonFinite < 0) nonFinite = from + i;
        } else sumSquares += v * v;
      }
    }
    if (nonFinite >= 0) reasons.push({ code: 'non-finite', message: `tensor '${e.name}' holds a NaN or infinite value at index ${nonFinite}` });
  }
  const sha = hash.digest('hex');
  if (sha !== manifest.updateSha256) reasons.push({ code: 'checksum-mismatch', message: `the update file's SHA-256 ${sha.slice(0, 12)}… differs from the manifest's ${manifest.updateSha256.slice(0, 12)}…` });
  const norm = Math.sqrt(sumSquares);
  if (gate.maxNorm !== undefined && norm > gate.maxNorm) reasons.push({ code: 'norm-bound', message: `the update's L2 norm ${norm.toPrecision(4)} exceeds the bound ${gate.maxNorm}` });
  if (reasons.length) return reject();
  return { siteId: input.siteId, status: 'accepted', sampleCount: manifest.sampleCount, weight: 0, norm, updateSha256: manifest.updateSha256, globalMetrics: manifest.globalMetrics, localMetrics: manifest.localMetrics, trainingSeconds: manifest.seconds };
}
