// Validate update (Lambda): the gate for one site's update; accepted or rejected with reasons.
import { ValidateInputSchema } from '../../lib/federation/round-state.js';
import { validateUpdate } from '../../lib/federation/validate-update.js';
import type { SiteOutcome } from '../../lib/schemas/lineage.js';
import { storeFromEnv } from '../../lib/storage/store-from-env.js';
import { logger, MetricUnit, metrics } from '../shared/powertools.js';

export async function handler(event: unknown): Promise<SiteOutcome> {
  const input = ValidateInputSchema.parse(event);
  const outcome = await validateUpdate(storeFromEnv(), input);
  if (outcome.status === 'accepted' && outcome.trainingSeconds !== undefined) {
    // one metric per site (dimension `site`) for the dashboard's per-site training durations;
    // publishing clears the dimension for the container's next invocation
    metrics.addDimension('site', input.siteId);
    metrics.addMetric('TrainingSeconds', MetricUnit.Seconds, outcome.trainingSeconds);
    metrics.publishStoredMetrics();
  }
  logger.info('update validated', { runId: input.runId, round: input.round, siteId: input.siteId, status: outcome.status, reasons: outcome.status === 'rejected' ? outcome.reasons.map((r) => r.code) : [] });
  return outcome;
}
