// The arithmetic of the strategies, as pure functions over plain arrays (Flower's aggregate.py is
// the model): the sorting network of the coordinate-wise statistics, Krum's scores, server optimizer steps, and the
// Renyi-DP accountant of the Gaussian mechanism.
import { InvalidStrategyError } from './errors.js';

/** Median of `values` (sorted in place). */
export function median(values: Float64Array): number {
  values.sort();
  const n = values.length;
  return n % 2 ? values[(n - 1) / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/**
 * Comparators [i, j] (i < j) that sort n values ascending when each puts the smaller value at i:
 * Batcher's odd-even merge sort for the next power of two, keeping the comparators within n (the
 * missing positions act as +infinity, which no kept comparator would move). About n log2(n)^2 / 4
 * comparators, the same for every input: the coordinate-wise strategies run them on whole rows.
 */
export function sortingNetwork(n: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let size = 1;
  while (size < n) size <<= 1;
  for (let p = 1; p < size; p <<= 1) {
    for (let k = p; k >= 1; k >>= 1) {
      for (let j = k % p; j <= size - 1 - k; j += 2 * k) {
        for (let i = 0; i <= Math.min(k - 1, size - j - k - 1); i++) {
          const a = i + j;
          const b = i + j + k;
          if (Math.floor(a / (2 * p)) === Math.floor(b / (2 * p)) && b < n) out.push([a, b]);
        }
      }
    }
  }
  return out;
}

export function checkTrimmedMean(n: number, beta: number): void {
  if (n - 2 * Math.floor(beta * n) < 1) throw new InvalidStrategyError(`trimmed mean with beta=${beta} leaves no update of ${n}; lower beta`, { n, beta });
}

/** Krum needs n >= 2f + 3 updates to tolerate f attackers. */
export function checkKrum(n: number, f: number, m?: number): void {
  if (n < 2 * f + 3) throw new InvalidStrategyError(`Krum with f=${f} needs at least ${2 * f + 3} accepted updates (n >= 2f + 3); this round has ${n}. Lower f or raise minSites`, { n, f });
  if (m !== undefined && m > n - f) throw new InvalidStrategyError(`Multi-Krum with m=${m} selects more than n - f = ${n - f} updates`, { n, f, m });
}

/**
 * Krum scores from squared pairwise distances (n x n, row-major): for each update, the sum of its
 * n - f - 2 smallest distances to the others. Lower is more central.
 */
export function krumScores(dist: Float64Array, n: number, f: number): number[] {
  const k = n - f - 2;
  return Array.from({ length: n }, (_, i) => {
    const row = Float64Array.from({ length: n - 1 }, (_, j) => dist[i * n + (j < i ? j : j + 1)]).sort();
    let s = 0;
    for (let j = 0; j < k; j++) s += row[j];
    return s;
  });
}

/** Indices of the m updates with the lowest Krum scores (ties broken by index). */
export function krumSelect(dist: Float64Array, n: number, f: number, m = 1): number[] {
  const scores = krumScores(dist, n, f);
  return scores.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, m).map(([, i]) => i).sort((a, b) => a - b);
}

export type ServerOptimizer =
  | { type: 'fedavg' }
  | { type: 'fedavgm'; serverLearningRate: number; momentum: number }
  | { type: 'fedadam' | 'fedyogi'; serverLearningRate: number; beta1: number; beta2: number; tau: number }
  | { type: 'fedadagrad'; serverLearningRate: number; tau: number };

/** Names of the state tensors a server optimizer keeps per weight tensor. */
export function serverStateSlots(opt: ServerOptimizer): string[] {
  switch (opt.type) {
    case 'fedavg': return [];
    case 'fedavgm': return ['momentum'];
    case 'fedadagrad': return ['v'];
    default: return ['m', 'v'];
  }
}

/**
 * One server step on one tensor: `weights` += f(delta), updating the state slots in place.
 * `delta` is the aggregated update (the pseudo-gradient, pointing downhill).
 */
export function serverStep(opt: ServerOptimizer, weights: Float32Array, delta: Float32Array, state: Record<string, Float32Array>): void {
  const n = weights.length;
  switch (opt.type) {
    case 'fedavg':
      axpy(weights, 1, delta);
      return;
    case 'fedavgm': {
      const v = state.momentum;
      for (let i = 0; i < n; i++) {
        v[i] = opt.momentum * v[i] + delta[i];
        weights[i] += opt.serverLearningRate * v[i];
      }
      return;
    }
    case 'fedadagrad': {
      const v = state.v;
      for (let i = 0; i < n; i++) {
        v[i] += delta[i] * delta[i];
        weights[i] += (opt.serverLearningRate * delta[i]) / (Math.sqrt(v[i]) + opt.tau);
      }
      return;
    }
    case 'fedadam':
    case 'fedyogi': {
      const { m, v } = state;
      for (let i = 0; i < n; i++) {
        const d = delta[i];
        m[i] = opt.beta1 * m[i] + (1 - opt.beta1) * d;
        const d2 = d * d;
        v[i] = opt.type === 'fedadam' ? opt.beta2 * v[i] + (1 - opt.beta2) * d2 : v[i] - (1 - opt.beta2) * d2 * Math.sign(v[i] - d2);
        weights[i] += (opt.serverLearningRate * m[i]) / (Math.sqrt(v[i]) + opt.tau);
      }
    }
  }
}

/** y += a * x over the shorter of the two (the plain loop; float-arena.ts has the SIMD one). */
export function axpy(y: Float32Array, a: number, x: Float32Array): void {
  const n = Math.min(y.length, x.length);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    y[i] += a * x[i];
    y[i + 1] += a * x[i + 1];
    y[i + 2] += a * x[i + 2];
    y[i + 3] += a * x[i + 3];
  }
  for (; i < n; i++) y[i] += a * x[i];
}

/** Renyi orders the accountant searches. */
const ORDERS = [1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64, 96, 128, 256, 512, 1024];

/**
 * (epsilon, delta)-DP of `rounds` Gaussian mechanisms with noise multiplier sigma (every site in
 * every round, no subsampling): RDP(alpha) = rounds * alpha / (2 sigma^2), converted with
 * epsilon = min_alpha RDP(alpha) + log(1/delta) / (alpha - 1)  (Mironov 2017, Prop. 3).
 */
export function gaussianEpsilon(noiseMultiplier: number, rounds: number, delta: number): { epsilon: number; order: number } {
  let best = { epsilon: Infinity, order: ORDERS[0] };
  for (const a of ORDERS) {
    const eps = (rounds * a) / (2 * noiseMultiplier * noiseMultiplier) + Math.log(1 / delta) / (a - 1);
    if (eps < best.epsilon) best = { epsilon: eps, order: a };
  }
  return best;
}
