// What a site's training job writes beside its update file, and what the gate checks it against.
// Every number is bounded here, so nothing a site writes can put a negative duration, an infinite
// loss or a metric of 1e300 into lineage and the report; names are short and printable.
import { z } from 'zod';

const SHA256 = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in 64 lowercase hex digits');
/** Ids as the deployment and keys allow them: no spaces, no control characters, bounded. */
const ID = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/, "1-80 letters, digits, '.', '_' or '-'");
const METRIC_NAME = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,39}$/, 'a metric name of 1-40 letters, digits or _, starting with a letter');

/** Metrics that are fractions (accuracy, ROC AUC, Dice, IoU, ...) must lie in [0, 1]. */
export const PROBABILITY_METRICS = new Set(['accuracy', 'rocAuc', 'auc', 'dice', 'iou', 'precision', 'recall', 'sensitivity', 'specificity', 'f1']);
/** Upper bound of any other metric (a loss, a count): finite and non-negative. */
export const MAX_METRIC = 1e9;

export const SiteMetricsSchema = z.record(METRIC_NAME, z.number().finite()).superRefine((metrics, ctx) => {
  if (Object.keys(metrics).length > 32) ctx.addIssue({ code: 'custom', message: `at most 32 metrics, not ${Object.keys(metrics).length}` });
  for (const [name, value] of Object.entries(metrics)) {
    if (PROBABILITY_METRICS.has(name) && (value < 0 || value > 1)) ctx.addIssue({ code: 'custom', path: [name], message: `must be in [0, 1] (got ${value})` });
    else if (!PROBABILITY_METRICS.has(name) && (value < 0 || value > MAX_METRIC)) ctx.addIssue({ code: 'custom', path: [name], message: `must be in [0, ${MAX_METRIC}] (got ${value})` });
  }
});

export const UpdateManifestSchema = z
  .object({
    version: z.literal(1),
    siteId: ID,
    runId: ID,
    round: z.number().int().min(0).max(1_000_000),
    baseModelSha256: SHA256,
    updateSha256: SHA256,
    sampleCount: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    /** the incoming global model on the site's validation split, before local training */
    globalMetrics: SiteMetricsSchema,
    /** the locally trained model on the same split */
    localMetrics: SiteMetricsSchema,
    /** the last epoch's mean training loss (null when no batch ran) */
    trainLoss: z.number().finite().min(0).max(MAX_METRIC).nullable(),
    steps: z.number().int().min(0).max(1e9),
    executionProvider: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'an execution provider name such as cpu or cuda'),
    /** wall-clock seconds of the job, at most 30 days */
    seconds: z.number().finite().min(0).max(30 * 86_400),
  })
  .strict();
export type UpdateManifest = z.infer<typeof UpdateManifestSchema>;
