// The gate every update passes before any strategy sees it. A bad update is data, not an
// exception: it comes back rejected, with a stable reason code and one line per problem that names
// the field and what would be right. Text from the files is escaped and bounded, never echoed.
// The update file is read by ranges (header first, then tensor by tensor in chunks), never whole:
// memory stays at the global model's structure plus one chunk whatever the file claims. Every read
// is pinned to the version seen first, and the accepted outcome carries that version: aggregation
// reads exactly the bytes checked here, or drops the update as tampered.
import { createHash } from 'node:crypto';
import { decodeModel } from '../model/onnx-io.js';
import { type RangeReader, readFloats, readSafetensorsIndex, SafetensorsFormatError, type SafetensorsIndex } from '../model/safetensors-stream.js';
import { formatIssues } from '../schemas/format.js';
import type { SiteOutcome } from '../schemas/lineage.js';
import { type GateConfig, GateConfigSchema } from '../schemas/strategy.js';
import { type UpdateManifest, UpdateManifestSchema } from '../schemas/update-manifest.js';
import { type BlobStore, ObjectChangedError, ObjectRefusedError, type ReadOptions } from '../storage/blob-store.js';
import { keys } from '../storage/keys.js';
import { parseStrictJson } from '../util/strict-json.js';
import { escapeUntrusted, quoteUntrusted } from '../util/untrusted-text.js';
import { readRefusal } from '../site/refusal.js';
import { readLedgerEntry } from './ledger.js';
import type { ValidateInput } from './round-state.js';
import { updatableInitializers } from './update.js';

/** Every code a rejection may carry (the gate's and aggregation's); documented in docs/update-gate.md. */
export const REASON_CODES = [
  'missing-manifest', 'missing-update', 'oversized', 'not-a-regular-object', 'changed-while-read',
  'malformed-manifest', 'duplicate-key', 'site-mismatch', 'wrong-round', 'stale-base-model', 'sample-count',
  'malformed', 'bad-metadata', 'metadata-mismatch', 'unknown-tensor', 'missing-tensor', 'wrong-shape',
  'non-finite', 'checksum-mismatch', 'norm-bound', 'no-progress', 'replayed',
  // aggregation, over the whole round
  'norm-over-median', 'duplicate-update', 'tampered',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number] | 'more';
export type Reason = { code: ReasonCode; message: string };

/** Reasons kept per update, and message length: 50 rejected sites stay far below Step Functions' 256 KiB. */
export const MAX_REASONS = 5;
export const MAX_MESSAGE = 240;
/** Values read at a time while checking an update. */
export const CHUNK_VALUES = 1 << 18;
/** Largest manifest accepted, bytes. */
export const MAX_MANIFEST_BYTES = 64 * 1024;

export function storeReader(store: BlobStore, bucket: string, key: string, size: number, options: ReadOptions = {}): RangeReader {
  const reader: RangeReader = { size, read: (start, end) => store.getRange(bucket, key, start, Math.min(end, size), options) };
  if (store.readRangeInto) reader.readInto = (start, target) => store.readRangeInto!(bucket, key, start, target, options);
  return reader;
}

export function rejected(siteId: string, reasons: Reason[]): SiteOutcome {
  const kept = reasons.slice(0, MAX_REASONS).map((r) => ({ code: r.code, message: r.message.length > MAX_MESSAGE ? `${r.message.slice(0, MAX_MESSAGE - 1)}…` : r.message }));
  if (reasons.length > MAX_REASONS) kept.push({ code: 'more', message: `and ${reasons.length - MAX_REASONS} more problem(s)` });
  return { siteId, status: 'rejected', reasons: kept };
}

/** Metadata keys that, when an update's header has them, must name this update's site, run and round. */
const METADATA_IDS = { siteId: 'siteId', runId: 'runId', round: 'round' } as const;

/** Carries a recorded refusal out of the checks: the site did not fail the gate, it declined the task. */
class SiteRefusedTask extends Error {
  constructor(readonly outcome: SiteOutcome) {
    super('the site refused the task');
  }
}

export async function validateUpdate(store: BlobStore, input: ValidateInput): Promise<SiteOutcome> {
  const reasons: Reason[] = [];
  try {
    const outcome = await checkUpdate(store, input, reasons);
    return outcome ?? rejected(input.siteId, reasons);
  } catch (err) {
    if (err instanceof SiteRefusedTask) return err.outcome;
    // what a site controls (a link where an object should be, an object replaced while read) is its rejection, not the gate's crash
    if (err instanceof ObjectRefusedError) reasons.push({ code: 'not-a-regular-object', message: `${err.message.replace(/^s3:\/\/[^ ]+ is refused: /, `s3://${input.siteBucket}/… is refused: `)}` });
    else if (err instanceof ObjectChangedError) reasons.push({ code: 'changed-while-read', message: `${(err.context.key as string) ?? 'an object'} changed while the gate read it; a site writes its update and manifest once` });
    else throw err;
    return rejected(input.siteId, reasons);
  }
}

async function readManifest(store: BlobStore, input: ValidateInput, reasons: Reason[]): Promise<UpdateManifest | undefined> {
  const key = keys.updateManifest(input.runId, input.round);
  const info = await store.head(input.siteBucket, key);
  if (!info) {
    // a site whose policy refused the task recorded why instead of training: that is a failed site, with the rule
    const refusal = await readRefusal(store, input.siteBucket, input.siteId, input.runId, input.round);
    if (refusal) throw new SiteRefusedTask(refusal);
    reasons.push({ code: 'missing-manifest', message: `no update manifest at s3://${input.siteBucket}/${key}; the site's job writes manifest.json after its update` });
    return undefined;
  }
  if (info.size > MAX_MANIFEST_BYTES) {
    reasons.push({ code: 'oversized', message: `the update manifest has ${info.size} bytes; the limit is ${MAX_MANIFEST_BYTES}` });
    return undefined;
  }
  const bytes = await store.get(input.siteBucket, key, { version: info.version });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    reasons.push({ code: 'malformed-manifest', message: 'the update manifest is not UTF-8 text; it must be a JSON object' });
    return undefined;
  }
  const json = parseStrictJson(text);
  if (!json.ok) {
    reasons.push({ code: json.problem.code === 'duplicate-key' ? 'duplicate-key' : 'malformed-manifest', message: `the update manifest ${json.problem.message}` });
    return undefined;
  }
  const parsed = UpdateManifestSchema.safeParse(json.value);
  if (!parsed.success) {
    reasons.push({ code: 'malformed-manifest', message: `update manifest field ${escapeUntrusted(formatIssues(parsed.error), 200)}` });
    return undefined;
  }
  return parsed.data;
}

/** The accepted outcome, or undefined with `reasons` filled. */
async function checkUpdate(store: BlobStore, input: ValidateInput, reasons: Reason[]): Promise<SiteOutcome | undefined> {
  const gate: GateConfig = GateConfigSchema.parse(input.gate ?? {});
  const manifest = await readManifest(store, input, reasons);
  if (!manifest) return undefined;
  if (manifest.siteId !== input.siteId) reasons.push({ code: 'site-mismatch', message: `the manifest's siteId is ${quoteUntrusted(manifest.siteId)} but it came from the bucket of site '${input.siteId}'; it must be '${input.siteId}'` });
  if (manifest.runId !== input.runId || manifest.round !== input.round) reasons.push({ code: 'wrong-round', message: `the manifest is for run ${quoteUntrusted(manifest.runId)} round ${manifest.round}, not run '${input.runId}' round ${input.round} (replayed?)` });
  if (manifest.baseModelSha256 !== input.globalModelSha256) reasons.push({ code: 'stale-base-model', message: `the manifest's baseModelSha256 ${manifest.baseModelSha256.slice(0, 12)}… is not this round's model ${input.globalModelSha256.slice(0, 12)}…` });
  if (manifest.sampleCount < gate.minSamples || manifest.sampleCount > gate.maxSamples) reasons.push({ code: 'sample-count', message: `the manifest's sampleCount ${manifest.sampleCount} is out of range; it must be in [${gate.minSamples}, ${gate.maxSamples}]` });

  const updateKey = keys.update(input.runId, input.round);
  const info = await store.head(input.siteBucket, updateKey);
  if (!info) {
    reasons.push({ code: 'missing-update', message: `no update file at s3://${input.siteBucket}/${updateKey}` });
    return undefined;
  }
  if (info.size > gate.maxUpdateBytes) {
    reasons.push({ code: 'oversized', message: `the update file has ${info.size} bytes; the limit is ${gate.maxUpdateBytes} (gate.maxUpdateBytes)` });
    return undefined;
  }
  const reader = storeReader(store, input.siteBucket, updateKey, info.size, { version: info.version });
  let index: SafetensorsIndex;
  try {
    index = await readSafetensorsIndex(reader, 'the update file');
  } catch (err) {
    if (!(err instanceof SafetensorsFormatError)) throw err;
    reasons.push({ code: err.code, message: err.message });
    return undefined;
  }
  const meta = index.metadata;
  const want: Record<keyof typeof METADATA_IDS, string> = { siteId: input.siteId, runId: input.runId, round: String(input.round) };
  for (const field of Object.keys(METADATA_IDS) as (keyof typeof METADATA_IDS)[]) {
    if (field in meta && meta[field] !== want[field]) reasons.push({ code: 'metadata-mismatch', message: `the update's __metadata__.${field} is ${quoteUntrusted(meta[field])}; it must be '${want[field]}' or absent` });
  }
  // Only names, dtypes and shapes are needed: the weights themselves are not decoded.
  const expected = updatableInitializers(decodeModel(await store.get(input.modelsBucket, input.globalModelKey), input.globalModelKey, { withoutValues: true }));
  const present = new Set(index.entries.map((e) => e.name));
  for (const e of index.entries) {
    const g = expected.get(e.name);
    if (!g) reasons.push({ code: 'unknown-tensor', message: `tensor ${quoteUntrusted(e.name)} is not an initializer of the global model; name tensors exactly as its initializers` });
    else if (e.dims.join(',') !== g.dims.join(',')) reasons.push({ code: 'wrong-shape', message: `tensor ${quoteUntrusted(e.name)} is float32[${e.dims}]; the model has ${g.dtype}[${g.dims}]` });
  }
  for (const name of expected.keys()) if (!present.has(name)) reasons.push({ code: 'missing-tensor', message: `tensor '${escapeUntrusted(name)}' of the global model is missing from the update` });
  if (reasons.length) return undefined;

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
    if (nonFinite >= 0) reasons.push({ code: 'non-finite', message: `tensor ${quoteUntrusted(e.name)} holds a NaN or infinite value at index ${nonFinite}; every value must be finite` });
  }
  const sha = hash.digest('hex');
  if (sha !== manifest.updateSha256) reasons.push({ code: 'checksum-mismatch', message: `the update file's SHA-256 ${sha.slice(0, 12)}… differs from the manifest's updateSha256 ${manifest.updateSha256.slice(0, 12)}…` });
  if (reasons.length) return undefined;
  const norm = Math.sqrt(sumSquares);
  if (gate.maxNorm !== undefined && norm > gate.maxNorm) reasons.push({ code: 'norm-bound', message: `the update's L2 norm ${norm.toPrecision(4)} exceeds the bound ${gate.maxNorm} (gate.maxNorm)` });
  if (norm === 0 && !gate.allowNoProgress) reasons.push({ code: 'no-progress', message: 'every value of the update is zero: the site trained nothing (a run that expects this sets gate.allowNoProgress)' });
  const earlier = await readLedgerEntry(store, input.modelsBucket, input.runId, sha);
  if (earlier && (earlier.round !== input.round || earlier.siteId !== input.siteId)) {
    reasons.push({ code: 'replayed', message: `these exact update bytes (SHA-256 ${sha.slice(0, 12)}…) were accepted from site '${earlier.siteId}' in round ${earlier.round} of this run; an update is accepted once` });
  }
  if (reasons.length) return undefined;
  return { siteId: input.siteId, status: 'accepted', sampleCount: manifest.sampleCount, weight: 0, norm, updateSha256: sha, updateVersion: info.version, globalMetrics: manifest.globalMetrics, localMetrics: manifest.localMetrics, trainingSeconds: manifest.seconds };
}
