// site-agent.json: how an on-premises site's agent finds its queue, its data and its policy.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { FedradError } from '../errors.js';
import { formatIssues } from '../schemas/format.js';
import { SiteDataS3Schema } from './site-data.js';

export const SiteAgentConfigSchema = z
  .object({
    siteId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/, 'the site id as in fedrad.config.json'),
    /** the site's task queue (the orchestration stack's output Agent<site>QueueUrl) */
    queueUrl: z.url(),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-west-2').optional(),
    /** one endpoint for SQS and Step Functions (a private endpoint, or `fedrad simulate`'s) */
    endpoint: z.url().optional(),
    /** the site's dataset folder (what `fedrad data index` wrote: images and dataset manifest) */
    dataDir: z.string().min(1).optional(),
    /** or the dataset in a bucket of an S3-compatible endpoint inside the hospital */
    dataS3: SiteDataS3Schema.optional(),
    /** the site policy file: missing or malformed, every task is refused */
    policyFile: z.string().min(1),
    /** seconds between heartbeats while training; keep it well under the round's HeartbeatSeconds */
    heartbeatSeconds: z.number().min(0.2).max(3600).default(60),
    /** seconds a received task stays hidden from a second agent (renewed by each heartbeat) */
    visibilitySeconds: z.number().int().min(10).max(43200).default(600),
    /** local only: the folder holding the federation's buckets (as `fedrad simulate` lays them out) */
    storageRoot: z.string().optional(),
    /** training threads (default: the machine's cores) */
    threads: z.number().int().min(1).max(256).optional(),
  })
  .strict()
  .refine((c) => (c.dataDir === undefined) !== (c.dataS3 === undefined), { message: 'give the dataset as exactly one of dataDir (a folder) or dataS3 (an S3-compatible endpoint)', path: ['dataDir'] });
export type SiteAgentConfig = z.infer<typeof SiteAgentConfigSchema>;

export class InvalidAgentConfigError extends FedradError {}

export async function loadSiteAgentConfig(path: string): Promise<SiteAgentConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new InvalidAgentConfigError(`cannot read the site agent config ${path}: ${(cause as Error).message.slice(0, 200)}`, { path }, { cause });
  }
  const parsed = SiteAgentConfigSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidAgentConfigError(`${path}: ${formatIssues(parsed.error)}`, { path });
  return parsed.data;
}
