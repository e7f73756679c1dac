// The deployment config (fedrad.config.json, named in cdk.json context): the federation and its
// sites, GPU capacity and schedule. Validated at synth; a bad value fails `cdk synth` with its path.
import { z } from 'zod';
import { RunInputSchema } from './run-input.js';

const NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;
/** an image reference by digest: a tag may be moved, a digest names one image */
const DIGEST_REF = /^[a-z0-9][a-z0-9.-]*(:\d+)?\/[a-z0-9._\/-]+@sha256:[0-9a-f]{64}$/;

/** Where a site trains: the central account's Batch (today's default), a GPU Batch queue in the
 * hospital's own AWS account, or the hospital's own machine running `fedrad site agent`. */
export const SiteComputeSchema = z.enum(['central', 'site-account', 'on-premises']);
export type SiteCompute = z.infer<typeof SiteComputeSchema>;

export const SiteConfigSchema = z
  .object({
    id: z.string().regex(NAME, 'use 1-31 lowercase letters, digits or hyphens, starting with a letter or digit'),
    displayName: z.string().min(1).max(100),
    /** an existing bucket of the site's, instead of one this stack creates */
    existingBucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/).optional(),
    /** the hospital's own AWS account: its bucket, key and role come from a site stack it deploys there */
    account: z.string().regex(/^\d{12}$/, 'a 12-digit AWS account id').optional(),
    /** the region of that site stack (default: the federation's region) */
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-west-2').optional(),
    /** where the site trains (default central); see docs/site-compute.md */
    compute: SiteComputeSchema.default('central'),
    /** on-premises: the IAM Roles Anywhere trust anchor (the hospital's CA) whose certificates may act as the agent */
    agentTrustAnchorArn: z.string().regex(/^arn:aws[a-z-]*:rolesanywhere:[a-z0-9-]+:\d{12}:trust-anchor\/[0-9a-f-]{36}$/, 'an IAM Roles Anywhere trust anchor ARN').optional(),
  })
  .strict()
  .refine((s) => s.compute !== 'site-account' || s.account, { message: 'compute "site-account" trains in the hospital\'s own AWS account: set account to its 12-digit id', path: ['account'] })
  .refine((s) => s.compute !== 'on-premises' || !s.account, { message: 'compute "on-premises" keeps the data on the hospital\'s machine and sends updates to a bucket of the federation: drop account, or use compute "site-account"', path: ['account'] })
  .refine((s) => !s.agentTrustAnchorArn || s.compute === 'on-premises', { message: 'agentTrustAnchorArn applies to compute "on-premises" only', path: ['agentTrustAnchorArn'] })
  .refine((s) => !(s.account && s.existingBucket), { message: 'a site in its own account gets its bucket from its site stack: drop existingBucket or account', path: ['existingBucket'] })
  .refine((s) => !s.region || s.account, { message: 'region applies to a site in its own account: set account too', path: ['region'] });

export const DeploymentConfigSchema = z
  .object({
    federation: z.string().regex(NAME, 'use 1-31 lowercase letters, digits or hyphens, starting with a letter or digit'),
    sites: z
      .array(SiteConfigSchema)
      .min(1)
      .max(50)
      .refine((s) => new Set(s.map((x) => x.id)).size === s.length, 'site ids must be unique')
      .refine((s) => { const names = s.flatMap((x) => (x.existingBucket ? [x.existingBucket] : [])); return new Set(names).size === names.length; }, 'each existingBucket may belong to one site only: two sites sharing a bucket would read each other\'s data/'),
    gpuInstanceTypes: z.array(z.string().regex(/^[a-z0-9]+\.[a-z0-9]+$/, 'an EC2 instance type such as g5.xlarge')).min(1).default(['g5.xlarge', 'g4dn.xlarge', 'g6.xlarge']),
    maxVcpus: z.number().int().min(1).max(10000).default(64),
    /** vCPUs kept running between rounds (0: scale from zero, minutes of start-up per round) */
    warmVcpus: z.number().int().min(0).max(10000).default(0),
    /** sites training at the same time within a round */
    trainingConcurrency: z.number().int().min(1).max(50).default(10),
    /** minutes before a site's training job is stopped */
    jobTimeoutMinutes: z.number().int().min(5).max(7 * 24 * 60).default(120),
    /** seconds an on-premises site's agent may go without a heartbeat before its site fails for the round */
    agentHeartbeatSeconds: z.number().int().min(2).max(3600).default(300),
    /** minutes a training job may wait RUNNABLE at the head of the queue (no capacity, or no instance
     * type fits) before Batch cancels it and its site counts as failed; 10 to 1440 (Batch's bounds) */
    runnableTimeoutMinutes: z.number().int().min(10).max(1440).default(60),
    /** the CPU Batch (Fargate) job that aggregates rounds too large for the aggregate-round function */
    aggregationVcpus: z.union([z.literal(4), z.literal(8), z.literal(16)]).default(4),
    aggregationMemoryGiB: z.number().int().min(8).max(120).default(30),
    schedule: z
      .object({ expression: z.string().regex(/^(cron|rate)\(.+\)$/, 'a cron(...) or rate(...) expression'), timezone: z.string().default('UTC'), runInput: z.record(z.string(), z.unknown()).default({}) })
      .strict()
      .optional(),
    notificationEmail: z.email().optional(),
    /** named run inputs a researcher starts with `fedrad run start --preset <name>`, checked here */
    presets: z
      .record(
        z.string().regex(NAME, 'use 1-31 lowercase letters, digits or hyphens, starting with a letter or digit'),
        z.record(z.string(), z.unknown()).superRefine((v, ctx) => {
          const parsed = RunInputSchema.safeParse(v);
          if (!parsed.success) for (const i of parsed.error.issues) ctx.addIssue({ code: 'custom', message: i.message, path: i.path });
        }),
      )
      .optional(),
    /** the federation's (central) account and region: required when a site lives in its own account,
     * so that the site stack can trust the central roles by ARN */
    centralAccount: z.string().regex(/^\d{12}$/, 'a 12-digit AWS account id').optional(),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-west-2').optional(),
    /** reviewed job images pinned by digest (registry/repository@sha256:<64 hex>) instead of building
     * the repository's Dockerfiles at deploy time; see docs/compliance.md */
    images: z
      .object({
        training: z.string().regex(DIGEST_REF, 'an image pinned by digest, such as 123456789012.dkr.ecr.eu-west-2.amazonaws.com/fedrad-train@sha256:<64 hex digits>').optional(),
        aggregation: z.string().regex(DIGEST_REF, 'an image pinned by digest, such as 123456789012.dkr.ecr.eu-west-2.amazonaws.com/fedrad-aggregate@sha256:<64 hex digits>').optional(),
      })
      .strict()
      .optional(),
    /** days every version in the models bucket is kept under Object Lock (governance mode) */
    modelRetentionDays: z.number().int().min(1).max(36500).default(3650),
  })
  .strict()
  .refine((c) => c.warmVcpus <= c.maxVcpus, { message: 'warmVcpus must not exceed maxVcpus', path: ['warmVcpus'] })
  .refine((c) => c.aggregationMemoryGiB >= 2 * c.aggregationVcpus && c.aggregationMemoryGiB <= Math.min(120, 7.5 * c.aggregationVcpus), {
    message: 'Fargate gives 4 vCPUs 8-30 GiB, 8 vCPUs 16-60 GiB, 16 vCPUs 32-120 GiB: pick aggregationMemoryGiB in the range of aggregationVcpus',
    path: ['aggregationMemoryGiB'],
  })
  .refine((c) => !c.sites.some((s) => s.account) || (c.centralAccount && c.region), { message: 'sites in their own accounts need centralAccount and region (the federation\'s account and region), which their site stacks trust', path: ['centralAccount'] })
  .refine((c) => !c.sites.some((s) => s.account && s.account === c.centralAccount), { message: "a site whose account is the central account is not cross-account: drop the site's account", path: ['sites'] });
export type DeploymentConfig = z.infer<typeof DeploymentConfigSchema>;
export type SiteConfig = z.infer<typeof SiteConfigSchema>;
