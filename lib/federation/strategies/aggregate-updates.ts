// Turns the accepted updates into one aggregated update (the pseudo-gradient the server step
// applies), reading updates by ranges:
//  - mean-type (FedAvg and the server optimizers): one update at a time, chunk by chunk — memory of
//    one model (the accumulator) whatever the number of sites;
//  - coordinate-wise (median, trimmed mean) and Krum's distances: one chunk of every update at a
//    time — memory of sites x chunk, plus the result.
// Norm clipping and central DP wrap any mean-type strategy (clipping wraps any strategy).
import { createHash } from 'node:crypto';
import { type RangeReader, readFloats, type TensorEntry } from '../../model/safetensors-stream.js';
import type { Strategy } from '../../schemas/strategy.js';
import { Random } from '../../util/random.js';
import { InvalidStrategyError } from './errors.js';
import { allocateArena } from './float-arena.js';
import { checkKrum, checkTrimmedMean, krumSelect, sortingNetwork } from './math.js';

export interface UpdateRef {
  siteId: string;
  sampleCount: number;
  /** L2 norm over all tensors, as the gate measured it */
  norm: number;
  reader: RangeReader;
  entries: Map<string, TensorEntry>;
}

export interface AggregatedUpdate {
  delta: Map<string, Float32Array>;
  /** the weight each site's update got in the result (0 for updates Krum left out) */
  weights: Record<string, number>;
  report: Record<string, unknown>;
}

export const MEAN_TYPES = new Set(['fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad']);

/** Values per coordinate-wise chunk (times the number of sites in memory). */
export const AGGREGATION_CHUNK = 1 << 18;
/** Coordinates the sorting network (or Krum's pairwise distances) covers at a time: sites x 16 KiB, in cache up to ~32 sites. */
const ROW_BLOCK = 4096;
/** Values per range read when one update is streamed alone (mean-type). */
export const STREAM_CHUNK = 1 << 20;

function clipNormOf(strategy: Strategy): number | undefined {
  return ('dp' in strategy && strategy.dp ? strategy.dp.clipNorm : undefined) ?? strategy.clipNorm;
}

/** Seeded noise: a re-run of the same round adds the same noise, so its output is byte-identical. */
function noiseRandom(seed: string): Random {
  return new Random(createHash('sha256').update(seed).digest().readUInt32BE(0));
}

/** Where a mean-type sum goes: the delta accumulator, or a model's own weights (FedAvg in place). */
export interface SumTarget {
  /** tensor name -> values, in the order they are summed */
  sizes: ReadonlyMap<string, number>;
  /** two read buffers of STREAM_CHUNK floats (in the target's arena, for SIMD) */
  buffers: Float32Array[];
  /** adds a * x to tensor `name` from element `from` */
  add(name: string, from: number, a: number, x: Float32Array): void;
  /** adds Gaussian noise of this deviation to every element of tensor `name` */
  addNoise(name: string, sd: number, rng: Random): void;
}

/** The clip scale of each update (1 when unclipped), recording the clipped sites. */
export function clipScales(strategy: Strategy, updates: UpdateRef[], report: Record<string, unknown>): number[] {
  const clip = clipNormOf(strategy);
  const scale = updates.map((u) => (clip !== undefined && u.norm > clip ? clip / u.norm : 1));
  if (clip !== undefined) report.clipped = updates.filter((_, i) => scale[i] < 1).map((u) => u.siteId);
  return scale;
}

/**
 * The weighted sum of mean-type strategies into `target`: one update at a time, chunk by chunk.
 * Reads run ahead by one chunk into the other of two buffers (the store reads on libuv's threads
 * while this thread adds), so the pass costs about max(read, add), not their sum.
 */
export async function weightedSum(strategy: Strategy, updates: UpdateRef[], scale: number[], target: SumTarget, noiseSeed: string, report: Record<string, unknown>): Promise<{ weights: Record<string, number> }> {
  const n = updates.length;
  const dp = 'dp' in strategy ? strategy.dp : undefined;
  const total = updates.reduce((a, u) => a + u.sampleCount, 0);
  // DP bounds each site's influence, so its mean is unweighted; otherwise weights follow samples.
  const weights = updates.map((u) => (dp ? 1 / n : u.sampleCount / total));
  const jobs: { u: UpdateRef; name: string; from: number; to: number; w: number }[] = [];
  for (const [i, u] of updates.entries()) {
    for (const [name, size] of target.sizes) {
      for (let from = 0; from < size; from += STREAM_CHUNK) jobs.push({ u, name, from, to: Math.min(size, from + STREAM_CHUNK), w: weights[i] * scale[i] });
    }
  }
  const { buffers } = target;
  const read = (j: number) => {
    const { u, name, from, to } = jobs[j];
    const p = readFloats(u.reader, u.entries.get(name)!, from, to, buffers[j % 2]);
    p.catch(() => {}); // awaited below; a failure ahead of its turn must not go unhandled
    return p;
  };
  let next = jobs.length ? read(0) : undefined;
  for (let j = 0; j < jobs.length; j++) {
    let values = await next!;
    next = j + 1 < jobs.length ? read(j + 1) : undefined;
    // stores without readInto (S3) hand back their own buffer: staged into the arena for SIMD
    if (values.buffer !== buffers[j % 2].buffer) {
      const staged = buffers[j % 2].subarray(0, values.length);
      staged.set(values);
      values = staged;
    }
    const { name, from, w } = jobs[j];
    target.add(name, from, w, values);
  }
  if (dp) {
    const rng = noiseRandom(noiseSeed);
    const sd = (dp.noiseMultiplier * dp.clipNorm) / n; // noise on the sum, then divided by n
    for (const name of target.sizes.keys()) target.addNoise(name, sd, rng);
    report.noiseStd = sd;
  }
  return { weights: Object.fromEntries(updates.map((u, i) => [u.siteId, weights[i]])) };
}

/** Elements from..to of tensor `name` of every update into its row of the arena, times its clip scale. */
async function readRows(updates: UpdateRef[], rows: Float32Array[], scale: number[], name: string, from: number, to: number): Promise<Float32Array[]> {
  const len = to - from;
  const chunks = await Promise.all(updates.map((u, i) => readFloats(u.reader, u.entries.get(name)!, from, to, rows[i])));
  return chunks.map((chunk, i) => {
    const row = rows[i].subarray(0, len);
    if (chunk.buffer !== row.buffer || chunk.byteOffset !== row.byteOffset) row.set(chunk); // stores without readInto
    if (scale[i] !== 1) for (let k = 0; k < len; k++) row[k] *= scale[i];
    return row;
  });
}

export async function aggregateUpdates(strategy: Strategy, updates: UpdateRef[], shapes: Map<string, number>, noiseSeed: string): Promise<AggregatedUpdate> {
  const n = updates.length;
  const report: Record<string, unknown> = {};
  const scale = clipScales(strategy, updates, report);

  if (MEAN_TYPES.has(strategy.type)) {
    const arena = allocateArena(shapes, 2, STREAM_CHUNK);
    const delta = arena.tensors;
    const target: SumTarget = {
      sizes: shapes,
      buffers: arena.buffers,
      add: (name, from, a, x) => arena.axpy(delta.get(name)!.subarray(from, from + x.length), a, x),
      addNoise: (name, sd, rng) => {
        const acc = delta.get(name)!;
        for (let k = 0; k < acc.length; k++) acc[k] += sd * rng.normal();
      },
    };
    const { weights } = await weightedSum(strategy, updates, scale, target, noiseSeed, report);
    return { delta, weights, report };
  }

  if (strategy.type === 'median' || strategy.type === 'trimmed-mean') {
    if (strategy.type === 'trimmed-mean') checkTrimmedMean(n, strategy.beta);
    // One chunk of every update as rows of the arena; a sorting network sorts every coordinate's
    // column at once (SIMD compare-exchange of two rows, ROW_BLOCK coordinates at a time so the rows
    // stay in cache); then the middle row(s), or the mean of the rows kept after trimming.
    const arena = allocateArena(shapes, n, AGGREGATION_CHUNK);
    const delta = arena.tensors;
    const rows = arena.buffers;
    const network = sortingNetwork(n);
    const trim = strategy.type === 'trimmed-mean' ? Math.floor(strategy.beta * n) : 0;
    for (const [name, acc] of delta) {
      for (let from = 0; from < acc.length; from += AGGREGATION_CHUNK) {
        const to = Math.min(acc.length, from + AGGREGATION_CHUNK);
        const len = to - from;
        const row = await readRows(updates, rows, scale, name, from, to);
        for (let b = 0; b < len; b += ROW_BLOCK) {
          const e = Math.min(len, b + ROW_BLOCK);
          for (const [x, y] of network) arena.compareExchange(row[x].subarray(b, e), row[y].subarray(b, e));
        }
        const out = acc.subarray(from, to);
        if (strategy.type === 'median' && n % 2) out.set(row[(n - 1) / 2]);
        else if (strategy.type === 'median') for (let k = 0; k < len; k++) out[k] = (row[n / 2 - 1][k] + row[n / 2][k]) / 2;
        else for (let r = trim; r < n - trim; r++) arena.axpy(out, 1 / (n - 2 * trim), row[r]);
      }
    }
    if (strategy.type === 'trimmed-mean') report.trimmedPerSide = trim;
    return { delta, weights: Object.fromEntries(updates.map((u) => [u.siteId, 1 / n])), report };
  }

  if (strategy.type === 'krum' || strategy.type === 'multi-krum') {
    const m = strategy.type === 'krum' ? 1 : (strategy.m ?? n - strategy.f);
    checkKrum(n, strategy.f, m);
    // Pairwise squared distances, one chunk of every update at a time as rows of the arena, every
    // pair over ROW_BLOCK coordinates at a time so the rows stay in cache (SIMD, sums in float64).
    const arena = allocateArena(shapes, n, AGGREGATION_CHUNK);
    const delta = arena.tensors;
    const rows = arena.buffers;
    const dist = new Float64Array(n * n);
    for (const name of delta.keys()) {
      const size = shapes.get(name)!;
      for (let from = 0; from < size; from += AGGREGATION_CHUNK) {
        const to = Math.min(size, from + AGGREGATION_CHUNK);
        const row = await readRows(updates, rows, scale, name, from, to);
        for (let b = 0; b < to - from; b += ROW_BLOCK) {
          const e = Math.min(to - from, b + ROW_BLOCK);
          for (let x = 0; x < n; x++) {
            for (let y = x + 1; y < n; y++) dist[x * n + y] += arena.squaredDistance(row[x].subarray(b, e), row[y].subarray(b, e));
          }
        }
      }
    }
    for (let x = 0; x < n; x++) for (let y = x + 1; y < n; y++) dist[y * n + x] = dist[x * n + y];
    const selected = krumSelect(dist, n, strategy.f, m);
    report.selected = selected.map((i) => updates[i].siteId);
    const weights: Record<string, number> = Object.fromEntries(updates.map((u) => [u.siteId, 0]));
    for (const i of selected) {
      const u = updates[i];
      weights[u.siteId] = 1 / selected.length;
      const w = scale[i] / selected.length;
      for (const [name, acc] of delta) {
        for (let from = 0; from < acc.length; from += AGGREGATION_CHUNK) {
          const to = Math.min(acc.length, from + AGGREGATION_CHUNK);
          const [values] = await readRows([u], rows, [1], name, from, to);
          arena.axpy(acc.subarray(from, to), w, values);
        }
      }
    }
    return { delta, weights, report };
  }
  throw new InvalidStrategyError(`unknown strategy ${(strategy as { type: string }).type}`, {});
}
