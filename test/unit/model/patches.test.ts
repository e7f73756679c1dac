import { describe, expect, it } from 'vitest';
import { cropCube, DEFAULT_PATCH_OPTIONS, normalizeVolume, type PatchVolume, patchSeed, prepareVolume, regionTargets, samplePatches, TUMOUR_REGIONS } from '../../../lib/model/patches.js';
import { Random } from '../../../lib/util/random.js';

/** A 2-channel 20x18x16 volume: a body sphere, a lesion (core 1 inside edema 2) off-centre. */
function phantom(seed: number): PatchVolume {
  const size: [number, number, number] = [20, 18, 16];
  const per = 20 * 18 * 16;
  const rng = new Random(seed);
  const data = new Float32Array(2 * per);
  const labels = new Uint8Array(per);
  for (let k = 0; k < 16; k++) for (let j = 0; j < 18; j++) for (let i = 0; i < 20; i++) {
    const v = (k * 18 + j) * 20 + i;
    const body = (i - 10) ** 2 + (j - 9) ** 2 + (k - 8) ** 2 < 49;
    const d = Math.hypot(i - 13, j - 8, k - 8);
    labels[v] = d < 1.5 ? 1 : d < 2.6 ? 2 : 0;
    data[v] = body ? 300 + 40 * rng.normal() + 200 * (labels[v] > 0 ? 1 : 0) : 0;
    data[per + v] = body ? 50 + 5 * rng.normal() : 0;
  }
  return { data, size, channels: 2, labels };
}

describe('intensity normalisation', () => {
  it('z-scores each channel over the body (voxels above the channel minimum) and sets background to the body minimum', () => {
    const v = phantom(1);
    const per = v.data.length / 2;
    const z = normalizeVolume(v, { kind: 'zscore' });
    for (let c = 0; c < 2; c++) {
      const body: number[] = [];
      let bgValue = NaN;
      for (let i = 0; i < per; i++) (v.data[c * per + i] > 0 ? body.push(z[c * per + i]) : (bgValue = z[c * per + i]));
      const mean = body.reduce((a, b) => a + b, 0) / body.length;
      const sd = Math.sqrt(body.reduce((a, b) => a + (b - mean) ** 2, 0) / body.length);
      expect(Math.abs(mean)).toBeLessThan(1e-4);
      expect(sd).toBeCloseTo(1, 4);
      expect(bgValue).toBeCloseTo(Math.min(...body), 5);
    }
  });

  it('windows CT to [0, 1], the level at 0.5, clipped outside', () => {
    const v: PatchVolume = { data: Float32Array.from([-1000, 40, 240, 3000]), size: [4, 1, 1], channels: 1 };
    expect(Array.from(normalizeVolume(v, { kind: 'window', center: 40, width: 400 }))).toEqual([0, 0.5, 1, 1]);
    expect(() => normalizeVolume(v, { kind: 'window', center: 40, width: 0 })).toThrow(/width must be positive; got 0/);
  });

  it('turns a label map into nested region channels (whole tumour, core)', () => {
    expect(Array.from(regionTargets([0, 1, 2, 2, 0], TUMOUR_REGIONS))).toEqual([0, 1, 1, 1, 0, 0, 1, 0, 0, 0]);
  });
});

describe('patch sampling', () => {
  const volumes = [phantom(2), phantom(3)].map((v) => prepareVolume(v, { kind: 'zscore' }, TUMOUR_REGIONS));
  const o = { ...DEFAULT_PATCH_OPTIONS, patch: 8 };

  it('is identical for the same run seed, round and site, and differs for another round or site', () => {
    const draw = (round: number, site: string) => samplePatches(volumes, 6, new Random(patchSeed(7, round, site)), o);
    const a = draw(1, 'site-1');
    const b = draw(1, 'site-1');
    expect(Buffer.from(a.images.buffer).equals(Buffer.from(b.images.buffer))).toBe(true);
    expect(Buffer.from(a.targets.buffer).equals(Buffer.from(b.targets.buffer))).toBe(true);
    expect(Buffer.from(draw(2, 'site-1').images.buffer).equals(Buffer.from(a.images.buffer))).toBe(false);
    expect(Buffer.from(draw(1, 'site-2').images.buffer).equals(Buffer.from(a.images.buffer))).toBe(false);
    expect(patchSeed(7, 1, 'site-1')).not.toBe(patchSeed(7, 1, 'site-2'));
  });

  it('oversamples the foreground at the stated fraction; every foreground patch holds lesion voxels', () => {
    const count = 400;
    const withLesion = (fraction: number) => {
      const batch = samplePatches(volumes, count, new Random(11), { ...o, foregroundFraction: fraction, flips: false });
      const per = 8 ** 3;
      const has = batch.origins.map((_, s) => batch.targets.subarray(s * 2 * per, s * 2 * per + per).some((t) => t > 0));
      return { batch, has, share: has.filter(Boolean).length / count };
    };
    const all = withLesion(1);
    expect(all.has.every(Boolean)).toBe(true);
    const half = withLesion(0.5);
    const drawnFg = half.batch.origins.filter((x) => x.foreground).length;
    // binomial(400, 0.5): 4.5 standard deviations either side
    expect(Math.abs(drawnFg - 200)).toBeLessThan(45);
    half.batch.origins.forEach((x, s) => x.foreground && expect(half.has[s]).toBe(true));
    expect(withLesion(0).share).toBeLessThan(half.share);
  });

  it('flips image and target together (the lesion channel still marks the lesion voxels)', () => {
    const lesionImage = volumes.map((v) => ({ ...v, image: Float32Array.from(v.target.subarray(0, v.target.length / 2)), channels: 1 }));
    const batch = samplePatches(lesionImage, 40, new Random(5), { ...o, foregroundFraction: 1, intensityScale: 0, intensityShift: 0 });
    const per = 8 ** 3;
    let mismatches = 0;
    for (let s = 0; s < 40; s++) for (let i = 0; i < per; i++) if (batch.images[s * per + i] !== batch.targets[s * 2 * per + i]) mismatches++;
    expect(mismatches).toBe(0);
    // and flips did happen: the same origins without flips give other patches
    const unflipped = samplePatches(lesionImage, 40, new Random(5), { ...o, foregroundFraction: 1, intensityScale: 0, intensityShift: 0, flips: false });
    expect(Buffer.from(unflipped.images.buffer).equals(Buffer.from(batch.images.buffer))).toBe(false);
  });

  it('pads a volume smaller than the patch with zeros, centred', () => {
    const data = Float32Array.from({ length: 8 }, (_, i) => i + 1); // 2x2x2
    const cube = cropCube(data, 1, [2, 2, 2], [-1, -1, -1], 4);
    expect(cube.filter((v) => v !== 0).length).toBe(8);
    expect(cube[((1 * 4 + 1) * 4) + 1]).toBe(1);
    expect(cube[((2 * 4 + 2) * 4) + 2]).toBe(8);
  });

  it('names what is wrong with its input', () => {
    expect(() => prepareVolume({ data: new Float32Array(10), size: [2, 2, 2], channels: 1 }, { kind: 'none' }, TUMOUR_REGIONS)).toThrow(/10 voxels; size 2x2x2 with 1 channel\(s\) needs 8/);
    expect(() => samplePatches(volumes, 1, new Random(1), { ...o, foregroundFraction: 2 })).toThrow(/within 0-1; got 2/);
  });
});
