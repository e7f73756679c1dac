// Every strategy on small hand-computed tensors, and properties that must hold for any input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregateUpdates } from '../../../lib/federation/strategies/aggregate-updates.js';
import { gaussianEpsilon, krumSelect, serverStep, sortingNetwork } from '../../../lib/federation/strategies/math.js';
import { Random } from '../../../lib/util/random.js';
import { serverOptimizerOf } from '../../../lib/federation/strategies/server-state.js';
import { type Strategy, StrategySchema } from '../../../lib/schemas/strategy.js';
import { sizesOf, updateRef } from '../../support/updates.js';

const S = (raw: unknown) => StrategySchema.parse(raw) as Strategy;
const agg = async (strategy: Strategy, updates: Array<[string, Record<string, number[]>, number?]>) => {
  const refs = await Promise.all(updates.map(([id, t, n]) => updateRef(id, t, n ?? 1)));
  const r = await aggregateUpdates(strategy, refs, sizesOf(updates[0][1]), 'seed');
  return { ...r, values: Object.fromEntries([...r.delta].map(([k, v]) => [k, Array.from(v)])) };
};
const close = (a: number[], b: number[], digits = 6) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i], digits));

describe('strategies on hand-computed tensors', () => {
  const three: Array<[string, Record<string, number[]>, number]> = [
    ['a', { w: [1, 2, 3], b: [0] }, 1],
    ['b', { w: [3, 2, 1], b: [4] }, 3],
    ['c', { w: [100, -50, 2], b: [8] }, 4],
  ];

  it('FedAvg weights by sample count', async () => {
    const r = await agg(S({ type: 'fedavg' }), three);
    close(r.values.w, [(1 * 1 + 3 * 3 + 100 * 4) / 8, (2 + 6 - 200) / 8, (3 + 3 + 8) / 8]);
    close(r.values.b, [(0 + 12 + 32) / 8]);
    expect(r.weights).toEqual({ a: 1 / 8, b: 3 / 8, c: 4 / 8 });
  });

  it('median and trimmed mean work per coordinate', async () => {
    close((await agg(S({ type: 'median' }), three)).values.w, [3, 2, 2]);
    const five: Array<[string, Record<string, number[]>]> = [1, 2, 3, 4, 1000].map((v, i) => [`s${i}`, { w: [v, -v] }]);
    close((await agg(S({ type: 'trimmed-mean', beta: 0.2 }), five)).values.w, [3, -3]);
    close((await agg(S({ type: 'trimmed-mean', beta: 0 }), five)).values.w, [202, -202]);
    close((await agg(S({ type: 'median' }), five.slice(0, 4))).values.w, [2.5, -2.5]);
  });

  it('median and trimmed mean equal a float64 column sort across sort blocks, a tail past the SIMD width, even and odd n, and clipping', async () => {
    const rng = new Random(21);
    const length = 2 * 4096 + 7; // three sort blocks, the last one with a tail of 3 past a multiple of 4
    for (const n of [6, 7]) {
      const ups: Array<[string, Record<string, number[]>]> = Array.from({ length: n }, (_, i) => [`s${i}`, { w: Array.from({ length }, () => rng.normal() * (i + 1)), b: [i - 2.5] }]);
      for (const raw of [{ type: 'median' }, { type: 'trimmed-mean', beta: 0.2 }, { type: 'trimmed-mean', beta: 0.34 }, { type: 'median', clipNorm: 20 }]) {
        const strategy = S(raw);
        const refs = await Promise.all(ups.map(([id, t]) => updateRef(id, t, 1)));
        const clip = refs.map((u) => Math.min(1, (strategy.clipNorm ?? Infinity) / u.norm));
        const r = await aggregateUpdates(strategy, refs, sizesOf(ups[0][1]), 'seed');
        const trim = strategy.type === 'trimmed-mean' ? Math.floor(strategy.beta * n) : 0;
        for (const name of ['w', 'b']) {
          const got = r.delta.get(name)!;
          for (let k = 0; k < got.length; k++) {
            const column = ups.map(([, t], i) => Math.fround(t[name][k]) * clip[i]).sort((x, y) => x - y);
            const kept = column.slice(trim, n - trim);
            const expected = strategy.type === 'median' ? (n % 2 ? column[(n - 1) / 2] : (column[n / 2 - 1] + column[n / 2]) / 2) : kept.reduce((a, v) => a + v, 0) / kept.length;
            expect(Math.abs(got[k] - expected), `${JSON.stringify(raw)} n=${n} ${name}[${k}]`).toBeLessThan(1e-5 * (1 + Math.abs(expected)));
          }
        }
      }
    }
  });

  it("Krum's distances across sort blocks, tails and clipping select as a float64 reference does", async () => {
    const rng = new Random(22);
    const length = 2 * 4096 + 7;
    const n = 9;
    // honest updates around a common direction, two far away; one honest pair nearly tied
    const base = Array.from({ length }, () => rng.normal());
    const ups: Array<[string, Record<string, number[]>]> = Array.from({ length: n }, (_, i) => [`s${i}`, { w: base.map((v) => (i >= 7 ? -8 * v : v + 0.3 * (i + 1) * rng.normal())), b: [i] }]);
    for (const raw of [{ type: 'krum', f: 2 }, { type: 'multi-krum', f: 2, m: 3 }, { type: 'multi-krum', f: 2, clipNorm: 150 }]) {
      const strategy = S(raw);
      const refs = await Promise.all(ups.map(([id, t]) => updateRef(id, t, 1)));
      const clip = refs.map((u) => Math.min(1, (strategy.clipNorm ?? Infinity) / u.norm));
      const dist = new Float64Array(n * n);
      for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) {
        for (const name of ['w', 'b']) ups[a][1][name].forEach((v, k) => (dist[a * n + b] += (Math.fround(v) * clip[a] - Math.fround(ups[b][1][name][k]) * clip[b]) ** 2));
      }
      const m = strategy.type === 'multi-krum' ? (strategy.m ?? n - strategy.f) : 1;
      const expected = krumSelect(dist, n, 2, m).map((i) => `s${i}`);
      const r = await aggregateUpdates(strategy, refs, sizesOf(ups[0][1]), 'seed');
      expect(r.report.selected, JSON.stringify(raw)).toEqual(expected);
      expect(expected.some((id) => id === 's7' || id === 's8')).toBe(false);
      const w = r.delta.get('w')!;
      for (const k of [0, 4095, 4096, length - 1]) {
        const mean = expected.reduce((acc, id) => acc + Math.fround(ups[Number(id.slice(1))][1].w[k]) * clip[Number(id.slice(1))], 0) / expected.length;
        expect(w[k]).toBeCloseTo(mean, 5);
      }
    }
  });

  it('the sorting network sorts every input: all 0/1 inputs up to 12 values, random ones up to 40', () => {
    for (let n = 1; n <= 12; n++) {
      const net = sortingNetwork(n);
      for (let bits = 0; bits < 1 << n; bits++) {
        const v = Array.from({ length: n }, (_, i) => (bits >> i) & 1);
        for (const [a, b] of net) if (v[b] < v[a]) [v[a], v[b]] = [v[b], v[a]];
        for (let i = 1; i < n; i++) expect(v[i - 1]).toBeLessThanOrEqual(v[i]);
      }
    }
    const rng = new Random(3);
    for (let n = 13; n <= 40; n++) {
      const v = Array.from({ length: n }, () => rng.normal());
      for (const [a, b] of sortingNetwork(n)) if (v[b] < v[a]) [v[a], v[b]] = [v[b], v[a]];
      expect(v).toEqual([...v].sort((x, y) => x - y));
    }
    expect(sortingNetwork(8)).toHaveLength(19); // Batcher's count for 8
  });

  it('Krum picks the most central update; Multi-Krum averages the m most central', async () => {
    const ups: Array<[string, Record<string, number[]>]> = [['a', { w: [0, 0] }], ['b', { w: [1, 0] }], ['c', { w: [0, 1] }], ['d', { w: [0.4, 0.4] }], ['z', { w: [50, 50] }]];
    const krum = await agg(S({ type: 'krum', f: 1 }), ups);
    close(krum.values.w, [0.4, 0.4]);
    expect(krum.report.selected).toEqual(['d']);
    const multi = await agg(S({ type: 'multi-krum', f: 1, m: 2 }), ups);
    expect(multi.report.selected).toEqual(['a', 'd']);
    close(multi.values.w, [0.2, 0.2]);
    await expect(agg(S({ type: 'krum', f: 2 }), ups)).rejects.toThrow(/Krum with f=2 needs at least 7 accepted updates \(n >= 2f \+ 3\); this round has 5/);
  });

  it('norm clipping scales each update down to the bound before any strategy', async () => {
    const r = await agg(S({ type: 'fedavg', clipNorm: 5 }), [['a', { w: [3, 4] }, 1], ['b', { w: [30, 40] }, 1]]);
    close(r.values.w, [3, 4]); // b is scaled to [3, 4]
    expect(r.report.clipped).toEqual(['b']);
    close((await agg(S({ type: 'median', clipNorm: 5 }), [['a', { w: [0, 0] }], ['b', { w: [30, 40] }], ['c', { w: [6, 8] }]])).values.w, [3, 4]);
  });

  it('central DP averages clipped updates uniformly and adds seeded Gaussian noise', async () => {
    const ups: Array<[string, Record<string, number[]>, number]> = [['a', { w: Array(4000).fill(0) }, 1], ['b', { w: Array(4000).fill(2) }, 99]];
    const quiet = await agg(S({ type: 'fedavg', dp: { clipNorm: 1000, noiseMultiplier: 1e-6 } }), ups);
    close(quiet.values.w.slice(0, 3), [1, 1, 1], 3); // the unweighted mean of 0 and 2, not the sample-weighted 1.98
    const r = await agg(S({ type: 'fedavg', dp: { clipNorm: 1000, noiseMultiplier: 0.5 } }), ups);
    const mean = r.values.w.reduce((a, b) => a + b) / 4000;
    const sd = Math.sqrt(r.values.w.reduce((a, b) => a + (b - mean) ** 2, 0) / 4000);
    expect(sd).toBeGreaterThan(0.95 * ((0.5 * 1000) / 2));
    expect(sd).toBeLessThan(1.05 * ((0.5 * 1000) / 2)); // sigma x C on the sum, divided by n = 2
    expect(r.report.noiseStd).toBe(250);
    const again = await agg(S({ type: 'fedavg', dp: { clipNorm: 1000, noiseMultiplier: 0.5 } }), ups);
    expect(again.values.w).toEqual(r.values.w); // byte-identical on a re-run
  });

  it('server optimizers apply the aggregated update with their own rules', () => {
    const step = (opt: Parameters<typeof serverStep>[0], slots: string[]) => {
      const w = Float32Array.from([1, 1]);
      const state = Object.fromEntries(slots.map((s) => [s, new Float32Array(2)]));
      serverStep(opt, w, Float32Array.from([0.5, -1]), state);
      serverStep(opt, w, Float32Array.from([0.5, -1]), state);
      return { w: Array.from(w), state };
    };
    close(step({ type: 'fedavg' }, []).w, [2, -1]);
    // FedAvgM: v1 = d, v2 = 0.9 d + d = 1.9 d; w = 1 + lr (d + 1.9 d)
    close(step({ type: 'fedavgm', serverLearningRate: 1, momentum: 0.9 }, ['momentum']).w, [1 + 2.9 * 0.5, 1 - 2.9]);
    // FedAdagrad: v1 = d^2, v2 = 2 d^2; w = 1 + lr d (1/(|d|+tau) + 1/(sqrt2 |d| + tau))
    close(step({ type: 'fedadagrad', serverLearningRate: 0.1, tau: 0 }, ['v']).w, [1 + 0.1 * (1 + 1 / Math.SQRT2), 1 - 0.1 * (1 + 1 / Math.SQRT2)], 5);
    // FedAdam, one step: m = 0.1 d, v = 0.01 d^2; w = 1 + lr m / sqrt(v) = 1 + lr sign(d)
    const adam = { type: 'fedadam' as const, serverLearningRate: 0.01, beta1: 0.9, beta2: 0.99, tau: 0 };
    const w = Float32Array.from([1, 1]);
    serverStep(adam, w, Float32Array.from([0.5, -1]), { m: new Float32Array(2), v: new Float32Array(2) });
    close(Array.from(w), [1.01, 0.99], 5);
    // FedYogi's v moves by (1 - beta2) d^2 sign(v - d^2): from 0 it grows like Adam's
    const yogi = step({ ...adam, type: 'fedyogi' }, ['m', 'v']);
    close(Array.from(yogi.state.v), [0.01 * 0.25 * 2, 0.01 * 1 * 2], 6);
  });

  it('robust aggregates go straight to the model, or through server momentum when asked', () => {
    expect(serverOptimizerOf(S({ type: 'median' }))).toEqual({ type: 'fedavg' });
    expect(serverOptimizerOf(S({ type: 'krum', f: 1, serverMomentum: 0.5 }))).toEqual({ type: 'fedavgm', serverLearningRate: 1, momentum: 0.5 });
    expect(serverOptimizerOf(S({ type: 'fedadam' }))).toMatchObject({ type: 'fedadam', serverLearningRate: 0.01 });
    expect(() => S({ type: 'fedavg', serverMomentum: 0.5 })).toThrow(/Unrecognized key/);
  });

  it('the RDP accountant matches the closed form and grows with rounds', () => {
    const { epsilon, order } = gaussianEpsilon(1, 1, 1e-5);
    const candidates = [1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64, 96, 128, 256, 512, 1024].map((a) => [a / 2 + Math.log(1e5) / (a - 1), a]);
    const best = candidates.reduce((x, y) => (y[0] < x[0] ? y : x));
    expect(epsilon).toBeCloseTo(best[0], 10);
    expect(order).toBe(best[1]);
    expect(epsilon).toBeCloseTo(5.302, 2); // order 6: 3 + ln(1e5)/5
    expect(gaussianEpsilon(1, 10, 1e-5).epsilon).toBeGreaterThan(epsilon);
    expect(gaussianEpsilon(2, 10, 1e-5).epsilon).toBeLessThan(gaussianEpsilon(1, 10, 1e-5).epsilon);
  });
});

const vec = (len: number) => fc.array(fc.float({ min: -1000, max: 1000, noNaN: true, noDefaultInfinity: true }), { minLength: len, maxLength: len });

describe('properties', () => {
  it('FedAvg of identical updates is that update', async () => {
    await fc.assert(
      fc.asyncProperty(vec(6), fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 6 }), async (values, counts) => {
        const r = await agg(S({ type: 'fedavg' }), counts.map((c, i) => [`s${i}`, { w: values }, c] as [string, Record<string, number[]>, number]));
        r.values.w.forEach((v, i) => expect(v).toBeCloseTo(Math.fround(values[i]), 1));
      }),
      { numRuns: 40 },
    );
  });

  it('median and trimmed mean do not depend on the order of the updates', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(vec(4), { minLength: 3, maxLength: 7 }), fc.integer({ min: 0, max: 10_000 }), async (vectors, seed) => {
        const ups = vectors.map((v, i) => [`s${i}`, { w: v }] as [string, Record<string, number[]>]);
        const shuffled = [...ups].sort((a, b) => ((a[0].charCodeAt(1) * 7919 + seed) % 97) - ((b[0].charCodeAt(1) * 7919 + seed) % 97));
        for (const s of [S({ type: 'median' }), S({ type: 'trimmed-mean', beta: 0.2 })]) {
          expect((await agg(s, shuffled)).values.w).toEqual((await agg(s, ups)).values.w);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('Krum picks an honest update when f attackers send far-away updates', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: 40, maxLength: 40 }), fc.float({ min: 50, max: 1e4, noNaN: true }), async (f, noise, far) => {
        const honest = 2 * f + 3 - f;
        const ups: Array<[string, Record<string, number[]>]> = [];
        for (let i = 0; i < honest; i++) ups.push([`honest-${i}`, { w: noise.slice(i * 4 % 36, (i * 4 % 36) + 4) }]);
        for (let i = 0; i < f; i++) ups.push([`attacker-${i}`, { w: [far, -far, far * (i + 1), far] }]);
        const r = await agg(S({ type: 'krum', f }), ups);
        expect((r.report.selected as string[])[0]).toMatch(/^honest-/);
      }),
      { numRuns: 40 },
    );
  });

  it('Krum selection matches a brute-force scorer', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.array(fc.float({ min: 0, max: 100, noNaN: true }), { minLength: 49, maxLength: 49 }), (f, raw) => {
        const n = 2 * f + 3;
        const d = new Float64Array(n * n);
        let k = 0;
        for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) d[a * n + b] = d[b * n + a] = raw[k++ % raw.length];
        const brute = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => d[i * n + j]).filter((_, j) => j !== i).sort((x, y) => x - y).slice(0, n - f - 2).reduce((x, y) => x + y, 0));
        const best = brute.indexOf(Math.min(...brute));
        expect(brute[krumSelect(d, n, f, 1)[0]]).toBe(brute[best]);
      }),
    );
  });
});
