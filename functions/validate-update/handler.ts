// Validate update (Lambda): the gate for one site's update; accepted or rejected with reasons.
import { ValidateInputSchema } from '../../lib/federation/round-state.js';
import { validateUpdate } from '../../lib/federation/validate-update.js';
import type { SiteOutcome } from '../../lib/schemas/lineage.js';
import { storeFromEnv } from '../../lib/storage/store-from-env.js';
import { logger } from '../shared/powertools.js';

export async function handler(event: unknown): Promise<SiteOutcome> {
  const input = ValidateInputSchema.parse(event);
  const outcome = await validateUpdate(storeFromEnv(), input);
  logger.info('update validated', { runId: input.runId, round: input.round, siteId: input.siteId, status: outcome.status, reasons: outcome.status === 'rejected' ? outcome.reasons.map((r) => r.code) : [] });
  return outcome;
}
