// Sliding-window inference over a whole volume: overlapping cubic patches, each patch's sigmoid
// probabilities weighted by a Gaussian centred on it (sigma = patch / 8, as nnU-Net), summed and
// divided by the summed weights, so patch borders (where a convolution saw zero padding) count
// least. The predictor is any function from a batch of patches to logits: onnxruntime in
// production (sessionPredictor), a plain function in tests.
import type { InferenceSession } from 'onnxruntime-node';
import { cropCube } from './patches.js';
import { floatOrt } from './runtime.js';

/** Logits [n, regions, p, p, p] for patches [n, channels, p, p, p]. */
export type PatchPredictor = (patches: Float32Array, n: number) => Promise<Float32Array>;

export interface SlidingWindowOptions {
  patch: number;
  channels: number;
  regions: number;
  /** fraction of a patch shared with its neighbour along each axis, 0 to < 1 (default 0.5) */
  overlap?: number;
  /** patches per predictor call (default 4) */
  batchSize?: number;
}

/** Gaussian importance weights of a cube of edge p, maximum 1, never below the smallest positive value. */
export function gaussianWeights(p: number, sigmaScale = 1 / 8): Float32Array {
  const sigma = p * sigmaScale;
  const c = (p - 1) / 2;
  const g1 = Array.from({ length: p }, (_, i) => Math.exp(-((i - c) ** 2) / (2 * sigma * sigma)));
  const out = new Float32Array(p ** 3);
  for (let k = 0; k < p; k++) for (let j = 0; j < p; j++) for (let i = 0; i < p; i++) out[(k * p + j) * p + i] = g1[k] * g1[j] * g1[i];
  let max = 0;
  let minPos = Infinity;
  for (const v of out) {
    max = Math.max(max, v);
    if (v > 0) minPos = Math.min(minPos, v);
  }
  for (let i = 0; i < out.length; i++) out[i] = Math.max(out[i], minPos) / max;
  return out;
}

/** Patch starts along one axis of length n: evenly spaced, first at 0, last at n - p (centred when n < p). */
export function windowStarts(n: number, p: number, overlap: number): number[] {
  if (n <= p) return [Math.floor((n - p) / 2)];
  const step = Math.max(1, Math.ceil(p * (1 - overlap)));
  const count = Math.ceil((n - p) / step) + 1;
  return Array.from({ length: count }, (_, t) => Math.round((t * (n - p)) / (count - 1)));
}

/**
 * Probabilities [regions, k, j, i] for a volume [channels, k, j, i] of size (i, j, k).
 */
export async function slidingWindow(image: Float32Array, size: [number, number, number], predict: PatchPredictor, o: SlidingWindowOptions): Promise<Float32Array> {
  const p = o.patch;
  const overlap = o.overlap ?? 0.5;
  if (!(overlap >= 0 && overlap < 1)) throw new RangeError(`sliding-window overlap must be in [0, 1); got ${overlap}`);
  const [I, J, K] = size;
  const per = I * J * K;
  if (image.length !== per * o.channels) throw new RangeError(`volume has ${image.length} values; ${o.channels} channel(s) of ${I}x${J}x${K} need ${per * o.channels}`);
  const w = gaussianWeights(p);
  const acc = new Float64Array(o.regions * per);
  const wsum = new Float64Array(per);
  const origins: Array<[number, number, number]> = [];
  for (const k0 of windowStarts(K, p, overlap)) for (const j0 of windowStarts(J, p, overlap)) for (const i0 of windowStarts(I, p, overlap)) origins.push([k0, j0, i0]);
  const batch = o.batchSize ?? 4;
  const cube = p ** 3;
  for (let start = 0; start < origins.length; start += batch) {
    const group = origins.slice(start, start + batch);
    const input = new Float32Array(group.length * o.channels * cube);
    group.forEach((origin, s) => input.set(cropCube(image, o.channels, size, origin, p), s * o.channels * cube));
    const logits = await predict(input, group.length);
    group.forEach(([k0, j0, i0], s) => {
      for (let dk = 0; dk < p; dk++) {
        const k = k0 + dk;
        if (k < 0 || k >= K) continue;
        for (let dj = 0; dj < p; dj++) {
          const j = j0 + dj;
          if (j < 0 || j >= J) continue;
          for (let di = 0; di < p; di++) {
            const i = i0 + di;
            if (i < 0 || i >= I) continue;
            const q = (dk * p + dj) * p + di;
            const v = (k * J + j) * I + i;
            wsum[v] += w[q];
            for (let r = 0; r < o.regions; r++) acc[r * per + v] += w[q] / (1 + Math.exp(-logits[(s * o.regions + r) * cube + q]));
          }
        }
      }
    });
  }
  const out = new Float32Array(o.regions * per);
  for (let r = 0; r < o.regions; r++) for (let v = 0; v < per; v++) out[r * per + v] = acc[r * per + v] / wsum[v];
  return out;
}

/** A predictor over an onnxruntime session of a zoo model (input 'image', output 'logits'). */
export function sessionPredictor(session: InferenceSession, patch: number, channels: number, input = 'image', output = 'logits'): PatchPredictor {
  return async (patches, n) => (await session.run({ [input]: floatOrt([n, channels, patch, patch, patch], patches) }))[output].data as Float32Array;
}
