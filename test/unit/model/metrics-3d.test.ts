import { describe, expect, it } from 'vitest';
import { dice, distanceTransform, hd95, percentile, surface, volumeMetrics } from '../../../lib/model/metrics-3d.js';
import { Random } from '../../../lib/util/random.js';

const SIZE: [number, number, number] = [9, 7, 6];
const SPACING: [number, number, number] = [0.8, 1.2, 3];

function randomMask(seed: number, density: number): Uint8Array {
  const rng = new Random(seed);
  return Uint8Array.from({ length: 9 * 7 * 6 }, () => (rng.next() < density ? 1 : 0));
}

function coords(v: number): [number, number, number] {
  return [v % 9, Math.floor(v / 9) % 7, Math.floor(v / 63)];
}

function bruteDistance(from: number, sites: Uint8Array): number {
  const [a, b, c] = coords(from);
  let best = Infinity;
  sites.forEach((s, v) => {
    if (!s) return;
    const [x, y, z] = coords(v);
    best = Math.min(best, Math.hypot((x - a) * SPACING[0], (y - b) * SPACING[1], (z - c) * SPACING[2]));
  });
  return best;
}

describe('3D segmentation metrics', () => {
  it.each([0.01, 0.1, 0.5])('the distance transform equals brute force with anisotropic spacing (density %s)', (density) => {
    const sites = randomMask(Math.round(density * 1000), density);
    const d = distanceTransform(sites, SIZE, SPACING);
    for (let v = 0; v < sites.length; v++) expect(Math.sqrt(d[v])).toBeCloseTo(bruteDistance(v, sites), 9);
  });

  it('HD95 pools both directed surface distances and takes numpy\'s 95th percentile', () => {
    const a = randomMask(7, 0.3);
    const b = randomMask(8, 0.3);
    const sa = surface(a, SIZE);
    const sb = surface(b, SIZE);
    const all: number[] = [];
    sa.forEach((s, v) => s && all.push(bruteDistance(v, sb)));
    sb.forEach((s, v) => s && all.push(bruteDistance(v, sa)));
    expect(hd95(a, b, SIZE, SPACING)).toBeCloseTo(percentile(all, 95), 9);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
  });

  it('a cube shifted by two voxels along k is 6 mm away at spacing 3 mm; the same cube is 0', () => {
    const cube = (k0: number) => Uint8Array.from({ length: 9 * 7 * 6 }, (_, v) => {
      const [i, j, k] = coords(v);
      return i >= 2 && i < 6 && j >= 2 && j < 5 && k >= k0 && k < k0 + 2 ? 1 : 0;
    });
    expect(hd95(cube(0), cube(0), SIZE, SPACING)).toBe(0);
    expect(hd95(cube(0), cube(2), SIZE, SPACING)).toBeCloseTo(6, 9);
    expect(dice(cube(0), cube(2))).toBe(0);
    expect(dice(cube(0), cube(1))).toBe(0.5);
  });

  it('reports per region; HD95 is null when a mask is empty and Dice is 1 when both are', () => {
    const per = 9 * 7 * 6;
    const probs = new Float32Array(2 * per);
    const targets = new Float32Array(2 * per);
    probs[10] = 0.9;
    targets[10] = 1;
    targets[11] = 1;
    const [r0, r1] = volumeMetrics(probs, targets, 2, SIZE, SPACING);
    expect(r0.dice).toBeCloseTo(2 / 3, 12);
    expect(r0.hd95).not.toBeNull();
    expect(r1).toEqual({ dice: 1, hd95: null, predicted: 0, actual: 0 });
  });
});
