// Where a run's aggregation runs: the aggregate-round Lambda, or a CPU Batch job for models too large
// for it. Decided once per run at Prepare run (the model's size and the site count are fixed for the
// run) from an estimate of the aggregation's memory and time, both measured by bench:aggregate:
//  - memory: the global model's bytes, the accumulator (one model), server-optimizer state (one model
//    per slot), read buffers (sites x 1 MiB for coordinate-wise strategies) and the runtime;
//  - time: every update and the model read from S3 once, the next model written once; for Krum also
//    its pairwise distances (sites^2 / 2 x parameters).
import type { Strategy } from '../schemas/strategy.js';
import { serverStateSlots } from './strategies/math.js';
import { serverOptimizerOf } from './strategies/server-state.js';

export type AggregationPlace = 'lambda' | 'batch';

export interface AggregationLimits {
  /** memory of the aggregate-round function */
  lambdaMemoryMb: number;
  /** its timeout */
  lambdaTimeoutSeconds: number;
  /** S3 throughput assumed for one function (conservative: single-stream reads) */
  s3BytesPerSecond?: number;
  /** memory of the Batch aggregation job (config aggregationMemoryGiB) */
  batchMemoryMb?: number;
}

export interface AggregationEstimate {
  place: AggregationPlace;
  memoryBytes: number;
  seconds: number;
  reason: string;
}

const MB = 1024 * 1024;
/** Node, the handler's modules and the SDK, with headroom (measured ~100 MB at rest) */
const RUNTIME_BYTES = 256 * MB;
/** per update, coordinate-wise strategies keep a 1 MiB chunk (plus Krum's distances, negligible) */
const PER_SITE_BYTES = 2 * MB;
/** the model bytes, the accumulator and the update's tensor index, as bench:aggregate measured (2.2x) */
const MODEL_COPIES = 2.3;
/** Krum's squared distances, pair x coordinate per second: bench:aggregate measured 2.6e9 (32 updates of 25M), halved */
const KRUM_PAIR_COORDS_PER_SECOND = 1.3e9;

export function estimateAggregation(modelBytes: number, sites: number, strategy: Strategy, limits: AggregationLimits): AggregationEstimate {
  const slots = serverStateSlots(serverOptimizerOf(strategy)).length;
  const memoryBytes = Math.ceil(RUNTIME_BYTES + modelBytes * (MODEL_COPIES + slots) + sites * PER_SITE_BYTES);
  const bytesMoved = modelBytes * (sites + 2 + 2 * slots); // updates, model in and out, state in and out
  const krumPairs = strategy.type === 'krum' || strategy.type === 'multi-krum' ? (sites * (sites - 1)) / 2 : 0;
  const seconds = bytesMoved / (limits.s3BytesPerSecond ?? 50 * MB) + (krumPairs * (modelBytes / 4)) / KRUM_PAIR_COORDS_PER_SECOND;
  const memoryLimit = 0.75 * limits.lambdaMemoryMb * MB;
  const timeLimit = 0.5 * limits.lambdaTimeoutSeconds;
  const gib = (b: number) => (b / 1024 ** 3).toFixed(2);
  if (memoryBytes > memoryLimit) return { place: 'batch', memoryBytes, seconds, reason: `estimated ${gib(memoryBytes)} GiB exceeds 75% of the function's ${limits.lambdaMemoryMb} MB` };
  if (seconds > timeLimit) return { place: 'batch', memoryBytes, seconds, reason: `estimated ${Math.round(seconds)} s exceeds half the function's ${limits.lambdaTimeoutSeconds} s timeout` };
  return { place: 'lambda', memoryBytes, seconds, reason: `estimated ${gib(memoryBytes)} GiB and ${Math.round(seconds)} s fit the function` };
}
