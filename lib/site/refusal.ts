// A site's refusal of a round's task, recorded by its job under the round's updates/ prefix (written
// once) so that the central gate can name the rule in lineage, as the agent's SendTaskFailure does.
// What the site wrote is read as untrusted: bounded, strict, the rule one of the policy's.
import { z } from 'zod';
import type { SiteOutcome } from '../schemas/lineage.js';
import { type BlobStore, putOnce } from '../storage/blob-store.js';
import { keys } from '../storage/keys.js';
import { parseStrictJson } from '../util/strict-json.js';
import { escapeUntrusted } from '../util/untrusted-text.js';
import { POLICY_RULES, type PolicyRule, refusalReason } from './policy.js';

export const RefusalSchema = z.object({ version: z.literal(1), siteId: z.string().max(80), rule: z.enum(POLICY_RULES), message: z.string().max(2000) }).strict();
export type Refusal = z.infer<typeof RefusalSchema>;
const MAX_REFUSAL_BYTES = 4096;

export async function recordRefusal(store: BlobStore, job: { FEDRAD_SITE_BUCKET: string; FEDRAD_SITE_ID: string; FEDRAD_RUN_ID: string; FEDRAD_ROUND: number }, rule: PolicyRule, message: string): Promise<void> {
  const refusal: Refusal = { version: 1, siteId: job.FEDRAD_SITE_ID, rule, message: message.slice(0, 2000) };
  await putOnce(store, job.FEDRAD_SITE_BUCKET, keys.refusal(job.FEDRAD_RUN_ID, job.FEDRAD_ROUND), `${JSON.stringify(refusal)}\n`, 'application/json');
}

/** The failed outcome a recorded refusal stands for, or undefined when there is none (or it is not a valid record). */
export async function readRefusal(store: BlobStore, bucket: string, siteId: string, runId: string, round: number): Promise<SiteOutcome | undefined> {
  const key = keys.refusal(runId, round);
  const info = await store.head(bucket, key);
  if (!info || info.size > MAX_REFUSAL_BYTES) return undefined;
  const parsed = parseStrictJson(new TextDecoder().decode(await store.get(bucket, key, { version: info.version })));
  const refusal = parsed.ok ? RefusalSchema.safeParse(parsed.value) : undefined;
  if (!refusal?.success || refusal.data.siteId !== siteId) return undefined;
  return { siteId, status: 'failed', error: refusalReason(refusal.data.rule), cause: escapeUntrusted(refusal.data.message, 200) };
}
