// A corpus of hostile updates, as an attacking site would write them, and the harness that puts each
// through the gate (validateUpdate) and then the round-wide rules (applyRoundBounds) beside three
// honest sites. Shared by test/unit/federation/hostile-updates.test.ts and `npm run bench:gate`.
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { applyRoundBounds } from '../../lib/federation/aggregate-round.js';
import { recordLedgerEntry } from '../../lib/federation/ledger.js';
import type { ValidateInput } from '../../lib/federation/round-state.js';
import { updatableInitializers } from '../../lib/federation/update.js';
import { type ReasonCode, validateUpdate } from '../../lib/federation/validate-update.js';
import { floatTensor, type Model, type TensorData } from '../../lib/model/graph.js';
import { encodeModel, sha256 } from '../../lib/model/onnx-io.js';
import { encodeSafetensors } from '../../lib/model/safetensors.js';
import { buildZooModel } from '../../lib/model/zoo/index.js';
import type { SiteOutcome } from '../../lib/schemas/lineage.js';
import { GateConfigSchema } from '../../lib/schemas/strategy.js';
import type { UpdateManifest } from '../../lib/schemas/update-manifest.js';
import { FolderBlobStore } from '../../lib/storage/folder-store.js';
import { keys } from '../../lib/storage/keys.js';
import { Random } from '../../lib/util/random.js';

export const RUN_ID = 'hostile-run';
export const ROUND = 1;
export const MODELS = 'fedrad-h-models';
export const HOSTILE = 'site-a';
export const HONEST = ['site-b', 'site-c', 'site-d'];
/** Something only a file outside the store holds: no message may ever contain it. */
export const SECRET = 'SECRET-PATIENT-LIST-0042';
const bucketOf = (site: string) => `fedrad-h-${site}`;

export class GateFixture {
  readonly store: FolderBlobStore;
  model!: Model;
  modelBytes!: Uint8Array;
  private honestOutcomes: SiteOutcome[] = [];
  private constructor(readonly root: string) {
    this.store = new FolderBlobStore(join(root, 'buckets'));
  }

  static async create(root: string, zoo: { name: string; norm?: 'batch' | 'group' } = { name: 'cnn-classifier' }): Promise<GateFixture> {
    const f = new GateFixture(root);
    f.model = buildZooModel(zoo.name, { inputSize: 16, width: 4, norm: zoo.norm });
    f.modelBytes = encodeModel(f.model);
    await f.store.put(MODELS, keys.globalModel(RUN_ID, ROUND), f.modelBytes);
    await writeFile(join(root, 'outside.txt'), `${SECRET}\n`);
    for (const [i, site] of HONEST.entries()) {
      // the last honest site writes no metadata, as a third-party trainer may not
      const bytes = encodeSafetensors(f.tensors(100 + i), i < HONEST.length - 1 ? { siteId: site, runId: RUN_ID, round: String(ROUND) } : {});
      await f.store.put(bucketOf(site), keys.update(RUN_ID, ROUND), bytes);
      await f.store.put(bucketOf(site), keys.updateManifest(RUN_ID, ROUND), JSON.stringify(f.manifest(bytes, { siteId: site })));
      f.honestOutcomes.push(await validateUpdate(f.store, f.input(site)));
    }
    return f;
  }

  input(site = HOSTILE, gate: ValidateInput['gate'] = undefined): ValidateInput {
    return { runId: RUN_ID, round: ROUND, siteId: site, siteBucket: bucketOf(site), modelsBucket: MODELS, globalModelKey: keys.globalModel(RUN_ID, ROUND), globalModelSha256: sha256(this.modelBytes), ...(gate ? { gate } : {}) };
  }

  get honest(): SiteOutcome[] {
    return this.honestOutcomes;
  }

  /** A plausible update: every updatable tensor, small random values (seeded). */
  tensors(seed = 1, scale = 0.01): Map<string, TensorData> {
    const rng = new Random(seed);
    return new Map([...updatableInitializers(this.model)].map(([n, t]) => [n, floatTensor(t.dims, Float32Array.from({ length: t.data.length }, () => rng.normal() * scale))]));
  }

  validBytes(metadata: Record<string, string> = { siteId: HOSTILE, runId: RUN_ID, round: String(ROUND) }): Uint8Array {
    return encodeSafetensors(this.tensors(), metadata);
  }

  manifest(bytes: Uint8Array, over: Partial<Record<keyof UpdateManifest, unknown>> = {}): Record<string, unknown> {
    const m: UpdateManifest = { version: 1, siteId: HOSTILE, runId: RUN_ID, round: ROUND, baseModelSha256: sha256(this.modelBytes), updateSha256: sha256(bytes), sampleCount: 50, globalMetrics: { accuracy: 0.5 }, localMetrics: { accuracy: 0.6, rocAuc: 0.7 }, trainLoss: 0.4, steps: 3, executionProvider: 'cpu', seconds: 2.5 };
    return { ...m, ...over };
  }

  hostilePath(which: 'update' | 'manifest'): string {
    return join(this.root, 'buckets', bucketOf(HOSTILE), which === 'update' ? keys.update(RUN_ID, ROUND) : keys.updateManifest(RUN_ID, ROUND));
  }

  async writeUpdate(bytes: Uint8Array | string): Promise<void> {
    await this.store.put(bucketOf(HOSTILE), keys.update(RUN_ID, ROUND), bytes);
  }

  async writeManifest(body: Record<string, unknown> | string | Uint8Array): Promise<void> {
    await this.store.put(bucketOf(HOSTILE), keys.updateManifest(RUN_ID, ROUND), typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body));
  }

  /** A valid update with the manifest that signs it. */
  async writeSigned(bytes: Uint8Array, over: Partial<Record<keyof UpdateManifest, unknown>> = {}): Promise<void> {
    await this.writeUpdate(bytes);
    await this.writeManifest(this.manifest(bytes, over));
  }

  async reset(): Promise<void> {
    await rm(join(this.root, 'buckets', bucketOf(HOSTILE)), { recursive: true, force: true });
    await rm(join(this.root, 'buckets', MODELS, 'runs', RUN_ID, 'ledger'), { recursive: true, force: true });
  }

  async symlinkAt(which: 'update' | 'manifest', target: string): Promise<void> {
    const path = this.hostilePath(which);
    await mkdir(dirname(path), { recursive: true });
    await rm(path, { force: true });
    await symlink(target, path);
  }
}

/** Raw safetensors bytes: the 8-byte length, this header text, these data bytes. */
export function rawSafetensors(header: string, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** The header object and data of a valid update, to be bent by a case. */
function parts(f: GateFixture): { header: Record<string, any>; data: Uint8Array; names: string[] } {
  const bytes = f.validBytes({});
  const len = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len)));
  return { header, data: bytes.subarray(8 + len), names: Object.keys(header).filter((k) => k !== '__metadata__') };
}

/** Writes a bent header (as an object or raw text) over the valid data, signed by a matching manifest. */
async function bent(f: GateFixture, bend: (h: Record<string, any>, names: string[]) => Record<string, any> | string, data?: (d: Uint8Array) => Uint8Array): Promise<void> {
  const p = parts(f);
  const h = bend(p.header, p.names);
  const bytes = rawSafetensors(typeof h === 'string' ? h : JSON.stringify(h), data ? data(p.data) : p.data);
  await f.writeSigned(bytes);
}

/** A valid update whose values are changed by `edit` (first tensor's values, or all). */
async function valued(f: GateFixture, edit: (values: Float32Array, name: string) => void, over: Partial<Record<keyof UpdateManifest, unknown>> = {}): Promise<void> {
  const tensors = f.tensors();
  for (const [name, t] of tensors) edit(t.data as Float32Array, name);
  await f.writeSigned(encodeSafetensors(tensors, { siteId: HOSTILE, runId: RUN_ID, round: String(ROUND) }), over);
}

export interface HostileCase {
  name: string;
  category: 'framing' | 'header' | 'metadata' | 'tensors' | 'values' | 'round' | 'manifest' | 'storage';
  expect: ReasonCode;
  arrange(f: GateFixture): Promise<void>;
  gate?: ValidateInput['gate'];
}

const c = (category: HostileCase['category'], name: string, expect: ReasonCode, arrange: HostileCase['arrange'], gate?: HostileCase['gate']): HostileCase => ({ category, name, expect, arrange, gate });
const signedRaw = (bytes: Uint8Array) => async (f: GateFixture) => f.writeSigned(bytes);

export const HOSTILE_CASES: HostileCase[] = [
  // framing: the 8-byte length and what it claims
  c('framing', 'empty file', 'malformed', signedRaw(new Uint8Array(0))),
  c('framing', '7 bytes', 'malformed', signedRaw(new Uint8Array(7))),
  c('framing', 'header length 2^40', 'malformed', signedRaw(rawSafetensors('{}', new Uint8Array(0), 2n ** 40n))),
  c('framing', 'header length past the end', 'malformed', signedRaw(rawSafetensors('{}', new Uint8Array(0), 3000n))),
  c('framing', 'header length 2^64-1', 'malformed', signedRaw(rawSafetensors('{}', new Uint8Array(0), 2n ** 64n - 1n))),
  c('framing', 'header of 2 MiB (over the 1 MiB limit)', 'malformed', signedRaw(rawSafetensors(`{"__metadata__":{"x":"${'a'.repeat(2 << 20)}"}}`))),
  c('framing', 'header not UTF-8', 'malformed', signedRaw(rawSafetensors('{"a":"xx"}').map((b, i) => (i === 14 ? 0xff : b)))),
  c('framing', 'trailing bytes after the last tensor', 'malformed', (f) => bent(f, (h) => h, (d) => Uint8Array.from([...d, 1, 2, 3, 4]))),
  c('framing', 'data shorter than the offsets claim', 'malformed', (f) => bent(f, (h) => h, (d) => d.subarray(0, d.length - 4))),
  // header JSON
  c('header', 'header is not JSON', 'malformed', (f) => bent(f, () => '{"a": [1, 2')),
  c('header', 'header is a JSON array', 'malformed', (f) => bent(f, () => '[1,2,3]')),
  c('header', 'header is JSON null', 'malformed', (f) => bent(f, () => 'null')),
  c('header', 'header is a JSON number', 'malformed', (f) => bent(f, () => '42')),
  c('header', 'header is a JSON string', 'malformed', (f) => bent(f, () => '"tensors"')),
  c('header', 'header with a trailing comma', 'malformed', (f) => bent(f, (h) => `${JSON.stringify(h).slice(0, -1)},}`)),
  c('header', 'a tensor named twice (last-wins in JSON.parse)', 'duplicate-key', (f) => bent(f, (h, n) => JSON.stringify(h).replace(/}$/, `,${JSON.stringify(n[0])}:${JSON.stringify(h[n[0]])}}`))),
  c('header', "a tensor's dtype given twice", 'duplicate-key', (f) => bent(f, (h, n) => JSON.stringify(h).replace(`${JSON.stringify(n[0])}:{"dtype":"F32"`, `${JSON.stringify(n[0])}:{"dtype":"F64","dtype":"F32"`))),
  c('header', 'a tensor described by null', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: null }))),
  c('header', 'a tensor described by an array', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: [1, 2] }))),
  c('header', 'a tensor described by a string', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: 'F32' }))),
  c('header', 'no dtype', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { shape: h[n[0]].shape, data_offsets: h[n[0]].data_offsets } }))),
  c('header', 'dtype F16', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { ...h[n[0]], dtype: 'F16' } }))),
  c('header', 'dtype f32 (lower case)', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { ...h[n[0]], dtype: 'f32' } }))),
  c('header', 'dtype a number', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { ...h[n[0]], dtype: 32 } }))),
  c('header', 'dtype an object', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { ...h[n[0]], dtype: { toString: 'F32' } } }))),
  c('header', 'no shape', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { dtype: 'F32', data_offsets: h[n[0]].data_offsets } }))),
  c('header', 'shape a string', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { ...h[n[0]], shape: '3' } }))),
  c('header', 'shape with a negative dimension', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { ...h[n[0]], shape: [-1, 4] } }))),
  c('header', 'shape with a fractional dimension', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { ...h[n[0]], shape: [1.5] } }))),
  c('header', 'shape of 9 dimensions', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { ...h[n[0]], shape: [1, 1, 1, 1, 1, 1, 1, 1, 1] } }))),
  c('header', 'shape of 2^53 x 2^53 elements', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { ...h[n[0]], shape: [2 ** 53, 2 ** 53] } }))),
  c('header', 'no data_offsets', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { dtype: 'F32', shape: h[n[0]].shape } }))),
  c('header', 'data_offsets of one number', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { ...h[n[0]], data_offsets: [0] } }))),
  c('header', 'negative data_offsets', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { ...h[n[0]], data_offsets: [-4, 0] } }))),
  c('header', 'reversed data_offsets', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { ...h[n[0]], data_offsets: [h[n[0]].data_offsets[1], h[n[0]].data_offsets[0]] } }))),
  c('header', 'data_offsets past the data', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { ...h[n[0]], data_offsets: [1e9, 1e9 + 4 * h[n[0]].shape.reduce((a: number, b: number) => a * b, 1)] } }))),
  c('header', 'data_offsets as strings', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { ...h[n[0]], data_offsets: ['0', '16'] } }))),
  c('header', 'shape and byte count disagree', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { ...h[n[0]], shape: [...h[n[0]].shape, 2] } }))),
  c('header', 'two tensors overlap', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[1]]: { ...h[n[1]], data_offsets: [h[n[0]].data_offsets[0], h[n[0]].data_offsets[0] + h[n[1]].data_offsets[1] - h[n[1]].data_offsets[0]] } }))),
  c('header', 'bytes that belong to no tensor', 'malformed', (f) => bent(f, (h, n) => { const last = n.reduce((a, b) => (h[a].data_offsets[1] > h[b].data_offsets[1] ? a : b)); const { [last]: _drop, ...rest } = h; return rest; })),
  c('header', 'an unknown field in a tensor entry', 'malformed', (f) => bent(f, (h, n) => ({ ...h, [n[0]]: { ...h[n[0]], byteorder: 'big' } }))),
  c('header', '10,001 tensors', 'malformed', (f) => bent(f, (h) => ({ ...h, ...Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`t${i}`, { dtype: 'F32', shape: [0], data_offsets: [0, 0] }])) }))),
  // __metadata__
  c('metadata', '__metadata__ a string', 'bad-metadata', (f) => bent(f, (h) => ({ __metadata__: 'site-b', ...h }))),
  c('metadata', '__metadata__ an array', 'bad-metadata', (f) => bent(f, (h) => ({ __metadata__: ['site-b'], ...h }))),
  c('metadata', '__metadata__ null', 'bad-metadata', (f) => bent(f, (h) => ({ __metadata__: null, ...h }))),
  c('metadata', '__metadata__ with a number value', 'bad-metadata', (f) => bent(f, (h) => ({ __metadata__: { round: 1 }, ...h }))),
  c('metadata', '__metadata__ with a nested object', 'bad-metadata', (f) => bent(f, (h) => ({ __metadata__: { site: { id: 'x' } }, ...h }))),
  c('metadata', '__metadata__ with 100 entries', 'bad-metadata', (f) => bent(f, (h) => ({ __metadata__: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, 'v'])), ...h }))),
  c('metadata', '__metadata__ with a 10 kB value', 'bad-metadata', (f) => bent(f, (h) => ({ __metadata__: { note: 'x'.repeat(10_000) }, ...h }))),
  c('metadata', "__metadata__ naming another site", 'metadata-mismatch', (f) => f.writeSigned(f.validBytes({ siteId: 'site-b', runId: RUN_ID, round: String(ROUND) }))),
  c('metadata', '__metadata__ naming another run', 'metadata-mismatch', (f) => f.writeSigned(f.validBytes({ siteId: HOSTILE, runId: 'other-run', round: String(ROUND) }))),
  c('metadata', '__metadata__ naming another round', 'metadata-mismatch', (f) => f.writeSigned(f.validBytes({ siteId: HOSTILE, runId: RUN_ID, round: '0' }))),
  c('metadata', '__metadata__ siteId with a terminal escape', 'metadata-mismatch', (f) => f.writeSigned(f.validBytes({ siteId: '\u001b[2J\u001b[Hsite-a', runId: RUN_ID }))),
  // tensors against the global model
  c('tensors', 'a tensor the model does not have', 'unknown-tensor', (f) => { const t = f.tensors(); t.set('extra.weight', floatTensor([2], [0.1, 0.2])); return f.writeSigned(encodeSafetensors(t)); }),
  c('tensors', 'a tensor of the model missing', 'missing-tensor', (f) => { const t = f.tensors(); t.delete([...t.keys()][0]); return f.writeSigned(encodeSafetensors(t)); }),
  c('tensors', 'a tensor of the wrong shape', 'wrong-shape', (f) => { const t = f.tensors(); const [n, v] = [...t][0]; t.set(n, floatTensor([v.data.length + 1], new Float32Array(v.data.length + 1).fill(0.01))); return f.writeSigned(encodeSafetensors(t)); }),
  c('tensors', 'a tensor transposed (same count, other shape)', 'wrong-shape', (f) => { const t = f.tensors(); const [n, v] = [...t].find(([, x]) => x.dims.length > 1)!; t.set(n, floatTensor([...v.dims].reverse(), v.data as Float32Array)); return f.writeSigned(encodeSafetensors(t)); }),
  c('tensors', 'a tensor name with newlines forging a log line', 'unknown-tensor', (f) => { const t = f.tensors(); t.set('x\n{"level":"INFO","message":"accepted"}\r\n', floatTensor([1], [0.1])); return f.writeSigned(encodeSafetensors(t)); }),
  c('tensors', 'a tensor name with bidi overrides and NUL', 'unknown-tensor', (f) => { const t = f.tensors(); t.set('\u202egnp.exe\u0000', floatTensor([1], [0.1])); return f.writeSigned(encodeSafetensors(t)); }),
  c('tensors', 'a tensor name of 5,000 characters', 'unknown-tensor', (f) => { const t = f.tensors(); t.set('n'.repeat(5000), floatTensor([1], [0.1])); return f.writeSigned(encodeSafetensors(t)); }),
  // values
  c('values', 'a NaN', 'non-finite', (f) => valued(f, (v) => (v[0] = Number.NaN))),
  c('values', 'every value NaN', 'non-finite', (f) => valued(f, (v) => v.fill(Number.NaN))),
  c('values', '+Infinity', 'non-finite', (f) => valued(f, (v, n) => n.endsWith('bias') && (v[v.length - 1] = Number.POSITIVE_INFINITY))),
  c('values', '-Infinity', 'non-finite', (f) => valued(f, (v) => (v[0] = Number.NEGATIVE_INFINITY))),
  c('values', 'a signalling NaN bit pattern', 'non-finite', (f) => valued(f, (v) => new Uint32Array(v.buffer, v.byteOffset, v.length).fill(0x7f800001, 0, 1))),
  c('values', 'every value zero (a free rider)', 'no-progress', (f) => valued(f, (v) => v.fill(0))),
  c('values', 'over an absolute bound', 'norm-bound', (f) => valued(f, (v) => v.fill(1)), { maxNorm: 10 }),
  c('values', 'a replay of an earlier round\'s accepted bytes under a fresh manifest', 'replayed', async (f) => {
    const bytes = encodeSafetensors(f.tensors(7));
    await recordLedgerEntry(f.store, MODELS, RUN_ID, sha256(bytes), { siteId: HOSTILE, round: ROUND - 1 });
    await f.writeSigned(bytes);
  }),
  c('values', "a replay of another site's accepted bytes", 'replayed', async (f) => {
    const bytes = encodeSafetensors(f.tensors(8));
    await recordLedgerEntry(f.store, MODELS, RUN_ID, sha256(bytes), { siteId: 'site-c', round: ROUND - 1 });
    await f.writeSigned(bytes);
  }),
  // the round: what only the round-wide rules can judge
  c('round', 'L2 norm 1e32 (no absolute bound set)', 'norm-over-median', (f) => valued(f, (v) => v.fill(1e15))),
  c('round', 'every value x 1000', 'norm-over-median', (f) => valued(f, (v) => v.forEach((x, i) => (v[i] = x * 1000)))),
  c('round', 'every value x -10 (sign-flip poisoning)', 'norm-over-median', (f) => valued(f, (v) => v.forEach((x, i) => (v[i] = x * -12)))),
  c('round', 'near zero (x 1e-6)', 'no-progress', (f) => valued(f, (v) => v.forEach((x, i) => (v[i] = x * 1e-6)))),
  c('round', "a copy of an honest site's update", 'duplicate-update', async (f) => {
    // site-d writes no metadata (as a third-party trainer may not): its bytes are a clean copy
    await f.writeSigned(await f.store.get(`fedrad-h-${HONEST[2]}`, keys.update(RUN_ID, ROUND)));
  }),
  // the manifest
  c('manifest', 'no manifest', 'missing-manifest', (f) => f.writeUpdate(f.validBytes())),
  c('manifest', 'manifest not JSON', 'malformed-manifest', async (f) => { await f.writeUpdate(f.validBytes()); await f.writeManifest('{"version": 1, '); }),
  c('manifest', 'manifest a JSON array', 'malformed-manifest', async (f) => { await f.writeUpdate(f.validBytes()); await f.writeManifest('[]'); }),
  c('manifest', 'manifest not UTF-8', 'malformed-manifest', async (f) => { await f.writeUpdate(f.validBytes()); await f.writeManifest(Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])); }),
  c('manifest', 'manifest with NaN (not JSON)', 'malformed-manifest', async (f) => { const b = f.validBytes(); await f.writeUpdate(b); await f.writeManifest(JSON.stringify(f.manifest(b)).replace('"trainLoss":0.4', '"trainLoss":NaN')); }),
  c('manifest', 'manifest with siteId given twice', 'duplicate-key', async (f) => { const b = f.validBytes(); await f.writeUpdate(b); await f.writeManifest(JSON.stringify(f.manifest(b)).replace('"siteId":"site-a"', '"siteId":"site-b","siteId":"site-a"')); }),
  c('manifest', 'manifest of 70 kB', 'oversized', async (f) => { const b = f.validBytes(); await f.writeUpdate(b); await f.writeManifest(`${JSON.stringify(f.manifest(b))}${' '.repeat(70_000)}`); }),
  c('manifest', 'an unknown manifest field', 'malformed-manifest', (f) => f.writeSigned(f.validBytes(), { note: 'hi' } as never)),
  c('manifest', 'manifest version 2', 'malformed-manifest', (f) => f.writeSigned(f.validBytes(), { version: 2 })),
  c('manifest', 'negative seconds', 'malformed-manifest', (f) => f.writeSigned(f.validBytes(), { seconds: -3 })),
  c('manifest', 'seconds of a century', 'malformed-manifest', (f) => f.writeSigned(f.validBytes(), { seconds: 3.2e9 })),
  c('manifest', 'negative steps', 'malformed-manifest', (f) => f.writeSigned(f.validBytes(), { steps: -1 })),
  c('manifest', 'fractional steps', 'malformed-manifest', (f) => f.writeSigned(f.validBytes(), { steps: 2.5 })),
  c('manifest', 'train loss 1e300', 'malformed-manifest', (f) => f.writeSigned(f.validBytes(), { trainLoss: 1e300 })),
  c('manifest', 'negative train loss', 'malformed-manifest', (f) => f.writeSigned(f.validBytes(), { trainLoss: -0.5 })),
  c('manifest', 'accuracy 1.5', 'malformed-manifest', (f) => f.writeSigned(f.validBytes(), { localMetrics: { accuracy: 1.5 } })),
  c('manifest', 'a metric of -1e300', 'malformed-manifest', (f) => f.writeSigned(f.validBytes(), { globalMetrics: { loss: -1e300 } })),
  c('manifest', 'a metric name with an escape sequence', 'malformed-manifest', (f) => f.writeSigned(f.validBytes(), { localMetrics: { '\u001b]0;pwned\u0007acc': 0.5 } })),
  c('manifest', '40 metrics', 'malformed-manifest', (f) => f.writeSigned(f.validBytes(), { localMetrics: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`m${i}`, 0.5])) })),
  c('manifest', 'a metric that is a string', 'malformed-manifest', (f) => f.writeSigned(f.validBytes(), { localMetrics: { accuracy: '0.9' } })),
  c('manifest', 'siteId of another site', 'site-mismatch', (f) => f.writeSigned(f.validBytes({}), { siteId: 'site-b' })),
  c('manifest', 'siteId with newlines and a NUL', 'malformed-manifest', (f) => f.writeSigned(f.validBytes({}), { siteId: 'site-a\n\u0000admin' })),
  c('manifest', 'runId of 5,000 characters', 'malformed-manifest', (f) => f.writeSigned(f.validBytes({}), { runId: 'r'.repeat(5000) })),
  c('manifest', 'another round', 'wrong-round', (f) => f.writeSigned(f.validBytes({}), { round: 0 })),
  c('manifest', 'another run', 'wrong-round', (f) => f.writeSigned(f.validBytes({}), { runId: 'other-run' })),
  c('manifest', 'a stale base model', 'stale-base-model', (f) => f.writeSigned(f.validBytes(), { baseModelSha256: 'a'.repeat(64) })),
  c('manifest', 'a base model hash in upper case', 'malformed-manifest', (f) => f.writeSigned(f.validBytes(), { baseModelSha256: 'A'.repeat(64) })),
  c('manifest', 'no samples', 'sample-count', (f) => f.writeSigned(f.validBytes(), { sampleCount: 0 })),
  c('manifest', '1e15 samples', 'sample-count', (f) => f.writeSigned(f.validBytes(), { sampleCount: 1e15 })),
  c('manifest', 'a negative sample count', 'malformed-manifest', (f) => f.writeSigned(f.validBytes(), { sampleCount: -5 })),
  c('manifest', 'a checksum of other bytes', 'checksum-mismatch', (f) => f.writeSigned(f.validBytes(), { updateSha256: 'b'.repeat(64) })),
  c('manifest', 'an execution provider with spaces', 'malformed-manifest', (f) => f.writeSigned(f.validBytes(), { executionProvider: 'cpu; rm -rf /' })),
  // storage: what a site could place in its bucket instead of objects
  c('storage', 'no update file', 'missing-update', (f) => f.writeManifest(f.manifest(f.validBytes()))),
  c('storage', 'an update over maxUpdateBytes', 'oversized', (f) => f.writeSigned(f.validBytes()), { maxUpdateBytes: 1024 }),
  c('storage', "the update a symlink to another site's update", 'not-a-regular-object', async (f) => {
    await f.writeManifest(f.manifest(await f.store.get(`fedrad-h-${HONEST[0]}`, keys.update(RUN_ID, ROUND))));
    await f.symlinkAt('update', join(f.root, 'buckets', `fedrad-h-${HONEST[0]}`, keys.update(RUN_ID, ROUND)));
  }),
  c('storage', 'the manifest a symlink to a file outside the store', 'not-a-regular-object', async (f) => { await f.writeUpdate(f.validBytes()); await f.symlinkAt('manifest', join(f.root, 'outside.txt')); }),
  c('storage', 'the update a symlink loop', 'not-a-regular-object', async (f) => { await f.writeManifest(f.manifest(f.validBytes())); await f.symlinkAt('update', f.hostilePath('update')); }),
  c('storage', 'the update a dangling symlink', 'not-a-regular-object', async (f) => { await f.writeManifest(f.manifest(f.validBytes())); await f.symlinkAt('update', join(f.root, 'nowhere')); }),
  c('storage', "the round's folder a symlink to another site's", 'not-a-regular-object', async (f) => {
    const dir = dirname(f.hostilePath('update'));
    await mkdir(dirname(dir), { recursive: true });
    await symlink(join(f.root, 'buckets', `fedrad-h-${HONEST[1]}`, dirname(keys.update(RUN_ID, ROUND))), dir);
  }),
  c('storage', 'the update a folder', 'missing-update', async (f) => { await f.writeManifest(f.manifest(f.validBytes())); await mkdir(f.hostilePath('update'), { recursive: true }); }),
];

export interface CaseResult {
  name: string;
  category: string;
  expect: ReasonCode;
  /** the hostile site's outcome after the gate and the round-wide rules */
  outcome?: SiteOutcome;
  /** an exception (a crash of the gate): never expected */
  threw?: string;
}

export async function runCase(f: GateFixture, hc: HostileCase): Promise<CaseResult> {
  await f.reset();
  await hc.arrange(f);
  try {
    const gateOutcome = await validateUpdate(f.store, f.input(HOSTILE, hc.gate));
    const round = applyRoundBounds([gateOutcome, ...f.honest], GateConfigSchema.parse(hc.gate ?? {}), {});
    return { name: hc.name, category: hc.category, expect: hc.expect, outcome: round[0] };
  } catch (err) {
    return { name: hc.name, category: hc.category, expect: hc.expect, threw: `${(err as Error).name}: ${(err as Error).message}` };
  }
}
