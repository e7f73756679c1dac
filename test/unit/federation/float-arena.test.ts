import { describe, expect, it } from 'vitest';
import { allocateArena } from '../../../lib/federation/strategies/float-arena.js';
import { axpy } from '../../../lib/federation/strategies/math.js';
import { Random } from '../../../lib/util/random.js';

describe('float arena', () => {
  it('lays out zeroed tensors and buffers that do not overlap', () => {
    const arena = allocateArena(new Map([['a', 5], ['b', 7]]), 2, 3);
    expect(arena.simd).toBe(true); // Node 20+ has WebAssembly SIMD
    const all = [...arena.tensors.values(), ...arena.buffers];
    expect(all.map((t) => t.length)).toEqual([5, 7, 3, 3]);
    for (const t of all) expect(t.byteOffset % 16).toBe(0);
    all.forEach((t, i) => t.fill(i + 1));
    all.forEach((t, i) => expect([...t].every((v) => v === i + 1)).toBe(true));
  });

  it('adds a * x like the plain loop, at any offset and length (SIMD body, scalar tail)', () => {
    const rng = new Random(11);
    const arena = allocateArena(new Map([['w', 1003]]), 1, 1003);
    const y = arena.tensors.get('w')!;
    const x = arena.buffers[0];
    for (let i = 0; i < y.length; i++) {
      y[i] = rng.normal();
      x[i] = rng.normal();
    }
    const expected = Float32Array.from(y);
    for (const [from, to, a] of [[0, 1003, 0.37], [1, 998, -2.5], [3, 10, 1e-3], [5, 6, 7]] as const) {
      axpy(expected.subarray(from, to), a, x.subarray(0, to - from));
      arena.axpy(y.subarray(from, to), a, x.subarray(0, to - from));
    }
    for (let i = 0; i < y.length; i++) expect(y[i]).toBeCloseTo(expected[i], 5);
    expect(y[0]).not.toBe(0);
  });

  it('falls back to the plain loop for arrays outside the arena', () => {
    const arena = allocateArena(new Map([['w', 4]]), 1, 4);
    const y = new Float32Array([1, 2, 3, 4, 5]);
    arena.axpy(y, 2, new Float32Array([1, 1, 1, 1, 1]));
    expect([...y]).toEqual([3, 4, 5, 6, 7]);
  });

  it('compare-exchanges two rows like the plain loop, at any offset and length (SIMD body, scalar tail)', () => {
    const rng = new Random(12);
    const arena = allocateArena(new Map(), 2, 1003);
    const [a, b] = arena.buffers;
    for (const [from, to] of [[0, 1003], [1, 998], [3, 10], [5, 6]] as const) {
      for (let i = 0; i < 1003; i++) {
        a[i] = rng.normal();
        b[i] = i % 7 ? rng.normal() : a[i]; // ties too
      }
      const lo = a.map((v, i) => Math.min(v, b[i]));
      const hi = a.map((v, i) => Math.max(v, b[i]));
      const [a0, b0] = [Float32Array.from(a), Float32Array.from(b)];
      arena.compareExchange(a.subarray(from, to), b.subarray(from, to));
      for (let i = 0; i < 1003; i++) {
        const inside = i >= from && i < to;
        expect(a[i]).toBe(inside ? lo[i] : a0[i]);
        expect(b[i]).toBe(inside ? hi[i] : b0[i]);
      }
    }
    expect(() => arena.compareExchange(a.subarray(0, 4), b.subarray(0, 5))).toThrow(RangeError);
  });

  it('squared distance of two rows equals the float64 sum of float32 differences, at any offset and length', () => {
    const rng = new Random(13);
    const arena = allocateArena(new Map(), 2, 1003);
    const [a, b] = arena.buffers;
    for (let i = 0; i < 1003; i++) {
      a[i] = rng.normal();
      b[i] = rng.normal() * 3;
    }
    for (const [from, to] of [[0, 1003], [1, 998], [3, 10], [5, 6], [8, 8]] as const) {
      let expected = 0;
      for (let i = from; i < to; i++) expected += Math.fround(a[i] - b[i]) ** 2;
      expect(arena.squaredDistance(a.subarray(from, to), b.subarray(from, to))).toBeCloseTo(expected, 9);
    }
    expect(arena.squaredDistance(a, b)).toBeGreaterThan(1000);
    expect(() => arena.squaredDistance(a.subarray(0, 4), b.subarray(0, 5))).toThrow(RangeError);
  });
});
