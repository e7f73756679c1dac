// Aggregate round (Lambda): quorum, strategy, next global model and its lineage.
import { aggregateRound } from '../../lib/federation/aggregate-round.js';
import { AggregateInputSchema, type RoundState } from '../../lib/federation/round-state.js';
import { storeFromEnv } from '../../lib/storage/store-from-env.js';
import { logger, MetricUnit, metrics } from '../shared/powertools.js';

export async function handler(event: unknown): Promise<RoundState> {
  const input = AggregateInputSchema.parse(event);
  logger.appendKeys({ runId: input.runId, round: input.round });
  try {
    const next = await aggregateRound(storeFromEnv(), input);
    const last = next.lastRound!;
    metrics.addMetric('AcceptedUpdates', MetricUnit.Count, last.accepted);
    metrics.addMetric('RejectedUpdates', MetricUnit.Count, last.rejected);
    metrics.addMetric('FailedSites', MetricUnit.Count, last.failed);
    for (const [name, value] of Object.entries(last.metrics)) metrics.addMetric(`Global_${name}`, MetricUnit.NoUnit, value);
    logger.info('round aggregated', { accepted: last.accepted, rejected: last.rejected, failed: last.failed, model: next.globalModelSha256 });
    return next;
  } catch (err) {
    logger.error('aggregation failed', err as Error);
    throw err;
  } finally {
    metrics.publishStoredMetrics();
  }
}
