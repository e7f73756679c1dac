// The deployment config (fedrad.config.json, named in cdk.json context): the federation and its
// sites, GPU capacity and schedule. Validated at synth; a bad value fails `cdk synth` with its path.
import { z } from 'zod';

const NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;

export const SiteConfigSchema = z
  .object({
    id: z.string().regex(NAME, 'use 1-31 lowercase letters, digits or hyphens, starting with a letter or digit'),
    displayName: z.string().min(1).max(100),
    /** an existing bucket of the site's, instead of one this stack creates */
    existingBucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/).optional(),
  })
  .strict();

export const DeploymentConfigSchema = z
  .object({
    federation: z.string().regex(NAME, 'use 1-31 lowercase letters, digits or hyphens, starting with a letter or digit'),
    sites: z.array(SiteConfigSchema).min(1).max(50).refine((s) => new Set(s.map((x) => x.id)).size === s.length, 'site ids must be unique'),
    gpuInstanceTypes: z.array(z.string().regex(/^[a-z0-9]+\.[a-z0-9]+$/, 'an EC2 instance type such as g5.xlarge')).min(1).default(['g5.xlarge', 'g4dn.xlarge', 'g6.xlarge']),
    maxVcpus: z.number().int().min(1).max(10000).default(64),
    /** vCPUs kept running between rounds (0: scale from zero, minutes of start-up per round) */
    warmVcpus: z.number().int().min(0).max(10000).default(0),
    /** sites training at the same time within a round */
    trainingConcurrency: z.number().int().min(1).max(50).default(10),
    /** minutes before a site's training job is stopped */
    jobTimeoutMinutes: z.number().int().min(5).max(7 * 24 * 60).default(120),
    /** minutes a training job may wait RUNNABLE at the head of the queue (no capacity, or no instance
     * type fits) before Batch cancels it and its site counts as failed; 10 to 1440 (Batch's bounds) */
    runnableTimeoutMinutes: z.number().int().min(10).max(1440).default(60),
    schedule: z
      .object({ expression: z.string().regex(/^(cron|rate)\(.+\)$/, 'a cron(...) or rate(...) expression'), timezone: z.string().default('UTC'), runInput: z.record(z.string(), z.unknown()).default({}) })
      .strict()
      .optional(),
    notificationEmail: z.email().optional(),
    /** days every version in the models bucket is kept under Object Lock (governance mode) */
    modelRetentionDays: z.number().int().min(1).max(36500).default(3650),
  })
  .strict()
  .refine((c) => c.warmVcpus <= c.maxVcpus, { message: 'warmVcpus must not exceed maxVcpus', path: ['warmVcpus'] });
export type DeploymentConfig = z.infer<typeof DeploymentConfigSchema>;
export type SiteConfig = z.infer<typeof SiteConfigSchema>;
