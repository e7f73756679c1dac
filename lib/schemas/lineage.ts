// Lineage of one global model: enough to audit a run from these records alone.
import { z } from 'zod';
import { StrategySchema } from './strategy.js';
import { SiteMetricsSchema } from './update-manifest.js';

export const SiteOutcomeSchema = z.discriminatedUnion('status', [
  z.object({ siteId: z.string(), status: z.literal('accepted'), sampleCount: z.number().int(), weight: z.number(), norm: z.number().optional(), updateSha256: z.string(), updateVersion: z.string().max(400).optional(), globalMetrics: SiteMetricsSchema, localMetrics: SiteMetricsSchema, trainingSeconds: z.number().optional() }).strict(),
  z.object({ siteId: z.string(), status: z.literal('rejected'), reasons: z.array(z.object({ code: z.string(), message: z.string() }).strict()) }).strict(),
  z.object({ siteId: z.string(), status: z.literal('failed'), error: z.string(), cause: z.string().optional() }).strict(),
]);
export type SiteOutcome = z.infer<typeof SiteOutcomeSchema>;

export const LineageSchema = z
  .object({
    version: z.literal(1),
    runId: z.string(),
    /** the model this record describes */
    round: z.number().int(),
    modelSha256: z.string(),
    parentRound: z.number().int(),
    parentSha256: z.string(),
    strategy: StrategySchema,
    sites: z.array(SiteOutcomeSchema),
    /** sample-weighted metrics of the parent model on the accepted sites' validation splits */
    parentMetrics: SiteMetricsSchema,
    /** central DP: this round's noise and the run's epsilon so far (for delta) */
    privacy: z.object({ noiseMultiplier: z.number(), clipNorm: z.number(), delta: z.number(), epsilon: z.number(), rounds: z.number().int() }).strict().nullable(),
    /** what the strategy did beyond averaging: selected sites (Krum), clipped sites, sites over the relative norm bound */
    strategyReport: z.record(z.string(), z.unknown()).optional(),
    /** the best model known when this record was written (lib/federation/best-model.ts); the last record's is the run's */
    best: z.object({ round: z.number().int(), metric: z.number(), modelSha256: z.string(), basis: z.string() }).strict().optional(),
  })
  .strict();
export type Lineage = z.infer<typeof LineageSchema>;
