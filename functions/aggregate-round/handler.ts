// Aggregate round (Lambda): quorum, strategy, next global model and its lineage.
import { aggregateRound } from '../../lib/federation/aggregate-round.js';
import { AggregateInputSchema, type RoundState } from '../../lib/federation/round-state.js';
import { storeFromEnv } from '../../lib/storage/store-from-env.js';

export async function handler(event: unknown): Promise<RoundState> {
  return aggregateRound(storeFromEnv(), AggregateInputSchema.parse(event));
}
