// Finish run (Lambda): the run report and the final model's summary.
import { finishRun, type RunSummary } from '../../lib/federation/finish-run.js';
import { RoundStateSchema } from '../../lib/federation/round-state.js';
import { storeFromEnv } from '../../lib/storage/store-from-env.js';

export async function handler(event: unknown): Promise<RunSummary> {
  return finishRun(storeFromEnv(), RoundStateSchema.parse(event));
}
