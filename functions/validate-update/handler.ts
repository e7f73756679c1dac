// Validate update (Lambda): the gate for one site's update; accepted or rejected with reasons.
import { ValidateInputSchema } from '../../lib/federation/round-state.js';
import { validateUpdate } from '../../lib/federation/validate-update.js';
import type { SiteOutcome } from '../../lib/schemas/lineage.js';
import { storeFromEnv } from '../../lib/storage/store-from-env.js';

export async function handler(event: unknown): Promise<SiteOutcome> {
  return validateUpdate(storeFromEnv(), ValidateInputSchema.parse(event));
}
