// Batch aggregation (Lambda), the two ends of a round aggregated on CPU Batch: { stage: <aggregate
// input> } writes it for the job; { load: { runId, round, modelsBucket } } returns the job's result
// (the next round's state) or fails under the job's error name.
import { z } from 'zod';
import { loadAggregation, stageAggregation } from '../../lib/federation/batch-aggregation.js';
import { AggregateInputSchema, type RoundState } from '../../lib/federation/round-state.js';
import { storeFromEnv } from '../../lib/storage/store-from-env.js';
import { logger } from '../shared/powertools.js';

const EventSchema = z.union([
  z.object({ stage: AggregateInputSchema }).strict(),
  z.object({ load: z.object({ runId: z.string(), round: z.number().int().min(0), modelsBucket: z.string() }).strict() }).strict(),
]);

export async function handler(event: unknown): Promise<{ inputKey: string } | RoundState> {
  const e = EventSchema.parse(event);
  if ('stage' in e) {
    const out = await stageAggregation(storeFromEnv(), e.stage);
    logger.info('aggregation staged for Batch', { runId: e.stage.runId, round: e.stage.round, key: out.inputKey });
    return out;
  }
  return loadAggregation(storeFromEnv(), e.load);
}
