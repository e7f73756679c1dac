// Prepare run (Lambda): validate the run input, write the run record and model 0.
import { z } from 'zod';
import { functionEnv } from '../../lib/federation/function-env.js';
import { prepareRun } from '../../lib/federation/prepare-run.js';
import type { RoundState } from '../../lib/federation/round-state.js';
import { storeFromEnv } from '../../lib/storage/store-from-env.js';

const EventSchema = z.object({ input: z.unknown(), executionName: z.string().min(1) }).strict();

export async function handler(event: unknown): Promise<RoundState> {
  const { input, executionName } = EventSchema.parse(event);
  const env = functionEnv();
  return prepareRun({ store: storeFromEnv(), modelsBucket: env.FEDRAD_MODELS_BUCKET, sites: env.FEDRAD_SITES, aggregationLimits: { lambdaMemoryMb: env.FEDRAD_AGGREGATE_MEMORY_MB, lambdaTimeoutSeconds: env.FEDRAD_AGGREGATE_TIMEOUT_S, batchMemoryMb: env.FEDRAD_BATCH_AGGREGATE_MEMORY_MB } }, input, executionName);
}
