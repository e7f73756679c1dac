// Aggregation strategies as the run input names them (a discriminated union on `type`), and the
// update gate's bounds. Recorded in lineage as parsed, defaults filled.
import { z } from 'zod';

const positive = z.number().positive();

/** Norm clipping, as a wrapper around any strategy: each update scaled to an L2 norm <= maxNorm. */
const clipping = { clipNorm: positive.optional() };

/** Central differential privacy, as a wrapper around a mean-type strategy. */
export const DifferentialPrivacySchema = z
  .object({
    /** each update is clipped to this L2 norm (the sensitivity of the sum) */
    clipNorm: positive,
    /** Gaussian noise of standard deviation noiseMultiplier x clipNorm is added to the sum */
    noiseMultiplier: positive,
    delta: z.number().positive().max(0.1).default(1e-5),
    /** the run stops before a round would take epsilon above this */
    epsilonBudget: positive.optional(),
  })
  .strict();
export type DifferentialPrivacy = z.infer<typeof DifferentialPrivacySchema>;

const serverLr = (d: number) => z.number().positive().max(100).default(d);

/**
 * Robust aggregates may be applied with server momentum: averaging the last rounds' robust
 * aggregates damps the swings that non-IID sites cause (Karimireddy et al., 2021).
 */
const robust = { ...clipping, serverMomentum: z.number().min(0).max(0.99).default(0) };

export const StrategySchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('fedavg'), ...clipping, dp: DifferentialPrivacySchema.optional() }).strict(),
  z.object({ type: z.literal('fedavgm'), serverLearningRate: serverLr(1), momentum: z.number().min(0).max(0.999).default(0.9), ...clipping, dp: DifferentialPrivacySchema.optional() }).strict(),
  z.object({ type: z.literal('fedadam'), serverLearningRate: serverLr(0.01), beta1: z.number().min(0).max(0.9999).default(0.9), beta2: z.number().min(0).max(0.99999).default(0.99), tau: positive.default(1e-3), ...clipping, dp: DifferentialPrivacySchema.optional() }).strict(),
  z.object({ type: z.literal('fedyogi'), serverLearningRate: serverLr(0.01), beta1: z.number().min(0).max(0.9999).default(0.9), beta2: z.number().min(0).max(0.99999).default(0.99), tau: positive.default(1e-3), ...clipping, dp: DifferentialPrivacySchema.optional() }).strict(),
  z.object({ type: z.literal('fedadagrad'), serverLearningRate: serverLr(0.01), tau: positive.default(1e-3), ...clipping, dp: DifferentialPrivacySchema.optional() }).strict(),
  z.object({ type: z.literal('median'), ...robust }).strict(),
  z.object({ type: z.literal('trimmed-mean'), beta: z.number().min(0).lt(0.5).default(0.2), ...robust }).strict(),
  z.object({ type: z.literal('krum'), f: z.number().int().min(0).default(1), ...robust }).strict(),
  z.object({ type: z.literal('multi-krum'), f: z.number().int().min(0).default(1), m: z.number().int().min(1).optional(), ...robust }).strict(),
]);
export type Strategy = z.infer<typeof StrategySchema>;
/** A strategy as the run input may give it (defaults not yet filled). */
export type StrategyInput = z.input<typeof StrategySchema>;
export type StrategyType = Strategy['type'];

/** Default relative norm bound: honest sites' update norms spread far less (see docs/update-gate.md). */
export const DEFAULT_MAX_NORM_OVER_MEDIAN = 10;
/** Default near-zero threshold: an update this much smaller than the round's median moved nothing. */
export const DEFAULT_MIN_NORM_OVER_MEDIAN = 1e-3;

export const GateConfigSchema = z
  .object({
    /** largest update file accepted, bytes */
    maxUpdateBytes: z.number().int().positive().max(8 * 1024 ** 3).default(2 * 1024 ** 3),
    /** reject updates whose L2 norm exceeds this */
    maxNorm: positive.optional(),
    /**
     * reject updates whose L2 norm exceeds this multiple of the round's median update norm (the lower
     * median for an even count, so that of two sites the larger cannot set its own bound); null turns it off
     */
    maxNormOverMedian: z.number().min(1).nullable().default(DEFAULT_MAX_NORM_OVER_MEDIAN),
    /** reject as no-progress updates whose L2 norm is below this fraction of the round's median norm; null turns it off */
    minNormOverMedian: z.number().min(0).max(1).nullable().default(DEFAULT_MIN_NORM_OVER_MEDIAN),
    /** accept all-zero and near-zero updates (a site that may legitimately not move the model) */
    allowNoProgress: z.boolean().default(false),
    minSamples: z.number().int().min(1).default(1),
    maxSamples: z.number().int().positive().default(10_000_000),
  })
  .strict();
export type GateConfig = z.infer<typeof GateConfigSchema>;
