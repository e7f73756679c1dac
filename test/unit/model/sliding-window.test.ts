import { describe, expect, it } from 'vitest';
import { encodeModel } from '../../../lib/model/onnx-io.js';
import { createSession } from '../../../lib/model/runtime.js';
import { gaussianWeights, type PatchPredictor, sessionPredictor, slidingWindow, windowStarts } from '../../../lib/model/sliding-window.js';
import { buildZooModel } from '../../../lib/model/zoo/index.js';
import { Random } from '../../../lib/util/random.js';

/** A predictor whose logits depend on the position inside the patch, so the blending weights matter. */
function positional(p: number, channels: number, regions: number): PatchPredictor {
  return async (patches, n) => {
    const cube = p ** 3;
    const out = new Float32Array(n * regions * cube);
    for (let s = 0; s < n; s++) for (let r = 0; r < regions; r++) for (let q = 0; q < cube; q++) {
      const x = patches[(s * channels + (r % channels)) * cube + q];
      out[(s * regions + r) * cube + q] = x * (1 + (q % p) / p) - 0.3 * r + 0.1 * Math.floor(q / (p * p));
    }
    return out;
  };
}

/** Float64 reference: for every voxel, the weighted mean over the windows that cover it, computed directly. */
function reference(image: Float32Array, size: [number, number, number], p: number, channels: number, regions: number, overlap: number): Float64Array {
  const [I, J, K] = size;
  const per = I * J * K;
  const sigma = p / 8;
  const c = (p - 1) / 2;
  const g = (t: number) => Math.exp(-((t - c) ** 2) / (2 * sigma * sigma));
  const gmin = g(0) ** 3;
  const weight = (a: number, b: number, d: number) => Math.max(g(a) * g(b) * g(d), gmin) / g(c) ** 3;
  const starts = (n: number) => windowStarts(n, p, overlap);
  const acc = new Float64Array(regions * per);
  const ws = new Float64Array(per);
  for (const k0 of starts(K)) for (const j0 of starts(J)) for (const i0 of starts(I)) {
    for (let k = Math.max(0, k0); k < Math.min(K, k0 + p); k++) for (let j = Math.max(0, j0); j < Math.min(J, j0 + p); j++) for (let i = Math.max(0, i0); i < Math.min(I, i0 + p); i++) {
      const [dk, dj, di] = [k - k0, j - j0, i - i0];
      const q = (dk * p + dj) * p + di;
      const w = weight(dk, dj, di);
      const v = (k * J + j) * I + i;
      ws[v] += w;
      for (let r = 0; r < regions; r++) {
        const x = image[(r % channels) * per + v];
        const logit = x * (1 + (q % p) / p) - 0.3 * r + 0.1 * Math.floor(q / (p * p));
        acc[r * per + v] += w / (1 + Math.exp(-logit));
      }
    }
  }
  return acc.map((a, idx) => a / ws[idx % per]);
}

describe('sliding-window inference', () => {
  it('places windows evenly from 0 to n - p, centred when the volume is smaller than the patch', () => {
    expect(windowStarts(20, 8, 0.5)).toEqual([0, 4, 8, 12]);
    expect(windowStarts(21, 8, 0.5)).toEqual([0, 3, 7, 10, 13]); // no step longer than p * (1 - overlap)
    expect(windowStarts(8, 8, 0.5)).toEqual([0]);
    expect(windowStarts(6, 8, 0.5)).toEqual([-1]);
  });

  it('gives Gaussian weights peaking at 1 in the centre, symmetric, never zero', () => {
    const w = gaussianWeights(8);
    expect(Math.max(...w)).toBeCloseTo(1, 6);
    expect(Math.min(...w)).toBeGreaterThan(0);
    expect(w[0]).toBe(w[8 ** 3 - 1]);
    expect(w[(3 * 8 + 3) * 8 + 3]).toBeGreaterThan(w[(1 * 8 + 3) * 8 + 3]);
  });

  it.each([[0.5, 1], [0.25, 3], [0, 2]] as const)('matches a float64 reference of Gaussian blending (overlap %s, batch %s) on a 13x11x9 volume', async (overlap, batchSize) => {
    const size: [number, number, number] = [13, 11, 9];
    const rng = new Random(3);
    const image = Float32Array.from({ length: 2 * 13 * 11 * 9 }, () => rng.normal());
    const got = await slidingWindow(image, size, positional(6, 2, 3), { patch: 6, channels: 2, regions: 3, overlap, batchSize });
    const want = reference(image, size, 6, 2, 3, overlap);
    let maxDiff = 0;
    for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    expect(maxDiff).toBeLessThan(1e-6);
  });

  it('gives exactly the pointwise probability when the model is pointwise, whatever the windows', async () => {
    const size: [number, number, number] = [7, 5, 10];
    const image = Float32Array.from({ length: 7 * 5 * 10 }, (_, i) => Math.sin(i));
    const pointwise: PatchPredictor = async (x) => x.slice();
    const got = await slidingWindow(image, size, pointwise, { patch: 4, channels: 1, regions: 1, overlap: 0.5 });
    for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(1 / (1 + Math.exp(-image[i])), 6);
  });

  it('runs a unet3d-segmenter session over a volume larger than its patch and one smaller', async () => {
    const model = buildZooModel('unet3d-segmenter', { seed: 1, inputSize: 8, width: 2, depth: 1, channels: 2 });
    const session = await createSession(encodeModel(model), { threads: 1 });
    try {
      for (const size of [[12, 10, 9], [6, 8, 5]] as Array<[number, number, number]>) {
        const per = size[0] * size[1] * size[2];
        const probs = await slidingWindow(Float32Array.from({ length: 2 * per }, (_, i) => Math.cos(i)), size, sessionPredictor(session, 8, 2), { patch: 8, channels: 2, regions: 2 });
        expect(probs.length).toBe(2 * per);
        expect(probs.every((v) => v >= 0 && v <= 1)).toBe(true);
      }
    } finally {
      await session.release();
    }
  });

  it('refuses a volume whose length does not fit its size', async () => {
    await expect(slidingWindow(new Float32Array(10), [2, 2, 2], async (x) => x, { patch: 2, channels: 1, regions: 1 })).rejects.toThrow(/10 values; 1 channel\(s\) of 2x2x2 need 8/);
  });
});
