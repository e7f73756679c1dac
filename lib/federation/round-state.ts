// The payloads that flow between the workflow's states: ids, keys, hashes and small metrics only.
import { z } from 'zod';
import { GateConfigSchema, StrategySchema } from '../schemas/strategy.js';
import { SiteOutcomeSchema } from '../schemas/lineage.js';

/** A site as the round machine addresses it; `compute` picks the branch inside the Map (default central). */
export const SiteRefSchema = z
  .object({
    siteId: z.string(),
    bucket: z.string(),
    /** central and site-account: the job definition (in the hospital's account for site-account) */
    jobDefinitionArn: z.string().optional(),
    compute: z.enum(['central', 'site-account', 'on-premises']).optional(),
    /** site-account: the hospital's job queue, and its role the round machine assumes to submit there */
    jobQueueArn: z.string().optional(),
    submitRoleArn: z.string().optional(),
    /** on-premises: the queue the site's agent polls */
    queueUrl: z.string().optional(),
  })
  .strict();
export type SiteRef = z.infer<typeof SiteRefSchema>;

export const RoundSummarySchema = z
  .object({ round: z.number().int(), accepted: z.number().int(), rejected: z.number().int(), failed: z.number().int(), modelSha256: z.string(), metrics: z.record(z.string(), z.number()) })
  .strict();
export type RoundSummary = z.infer<typeof RoundSummarySchema>;

/** The state a round starts from; the aggregation returns the next one. */
export const RoundStateSchema = z
  .object({
    runId: z.string(),
    /** the round about to run (its global model is model `round`) */
    round: z.number().int().min(0),
    rounds: z.number().int().min(1),
    minSites: z.number().int().min(1),
    modelsBucket: z.string(),
    strategy: StrategySchema,
    gate: GateConfigSchema,
    /** TrainingSpec as JSON: it goes to the training job's environment as is */
    trainingSpec: z.string(),
    globalModelKey: z.string(),
    globalModelSha256: z.string(),
    sites: z.array(SiteRefSchema),
    lastRound: RoundSummarySchema.nullable(),
    /** where the aggregation runs (decided at Prepare run; the round machine branches on it) */
    aggregation: z.enum(['lambda', 'batch']).default('lambda'),
  })
  .strict();
export type RoundState = z.infer<typeof RoundStateSchema>;

/** What the Map gives each site's branch. */
export const SiteTaskSchema = z
  .object({ runId: z.string(), round: z.number().int(), modelsBucket: z.string(), globalModelKey: z.string(), globalModelSha256: z.string(), trainingSpec: z.string(), gate: GateConfigSchema, rounds: z.number().int(), strategy: StrategySchema, site: SiteRefSchema })
  .strict();
export type SiteTask = z.infer<typeof SiteTaskSchema>;

export const ValidateInputSchema = z
  .object({ runId: z.string(), round: z.number().int(), siteId: z.string(), siteBucket: z.string(), modelsBucket: z.string(), globalModelKey: z.string(), globalModelSha256: z.string(), gate: GateConfigSchema.partial().optional() })
  .strict();
export type ValidateInput = z.infer<typeof ValidateInputSchema>;

/** A site's outcome as the Map collects it (accepted/rejected from validation, failed from a Catch). */
export const MapOutcomeSchema = SiteOutcomeSchema;

export const AggregateInputSchema = RoundStateSchema.extend({ outcomes: z.array(z.unknown()) });
export type AggregateInput = z.infer<typeof AggregateInputSchema>;
