import { describe, expect, it } from 'vitest';
import { applyWindow, resample, resampleMask, standardize } from '../../../lib/data/preprocess.js';

describe('preprocessing', () => {
  it('windows with the DICOM linear function, clamped, inverted for MONOCHROME1', () => {
    // center 40, width 400: lower edge -160, upper edge 239 (PS3.3 C.11.2.1.2)
    const w = applyWindow([-1000, -160, 39.5, 239, 3000], { center: 40, width: 400 }, false);
    expect(Array.from(w)).toEqual([0, 0, expect.closeTo(199.5 / 399, 6), 1, 1]);
    expect(applyWindow([-1000, 3000], { center: 40, width: 400 }, true)[0]).toBe(1);
  });

  it('averages blocks when shrinking by an integer factor, and by area otherwise', () => {
    const src = Float32Array.from({ length: 16 }, (_, i) => i); // 4x4, rows 0..3
    expect(Array.from(resample(src, 4, 4, 2))).toEqual([2.5, 4.5, 10.5, 12.5]);
    const odd = resample(Float32Array.from({ length: 9 }, () => 3), 3, 3, 2);
    odd.forEach((v) => expect(v).toBeCloseTo(3, 6)); // a constant stays constant
    const mean = (a: Float32Array) => a.reduce((x, y) => x + y, 0) / a.length;
    const ramp = Float32Array.from({ length: 15 * 15 }, (_, i) => i % 15);
    expect(mean(resample(ramp, 15, 15, 4))).toBeCloseTo(mean(ramp), 5); // area keeps the mean
  });

  it('interpolates bilinearly when enlarging, and thresholds masks', () => {
    const up = resample(Float32Array.from([0, 1, 0, 1]), 2, 2, 4);
    expect(Array.from(up.slice(0, 4))).toEqual([0, 0.25, 0.75, 1]);
    expect(Array.from(resampleMask(Float32Array.from([1, 1, 1, 0]), 2, 2, 1))).toEqual([1]);
    expect(Array.from(resampleMask(Float32Array.from([1, 0, 0, 0]), 2, 2, 1))).toEqual([0]);
  });
});

describe('standardize', () => {
  it('gives each image zero mean and unit variance, whatever its offset and gain', () => {
    const a = standardize(Float32Array.from([1, 2, 3, 4]));
    const b = standardize(Float32Array.from([1, 2, 3, 4].map((v) => 10 + 3 * v)));
    for (let i = 0; i < 4; i++) expect(b[i]).toBeCloseTo(a[i], 5);
    expect(a.reduce((x, y) => x + y, 0)).toBeCloseTo(0, 6);
    expect(a.reduce((x, y) => x + y * y, 0) / 4).toBeCloseTo(1, 4);
  });
});
