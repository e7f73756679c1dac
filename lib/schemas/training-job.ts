// The training job contract: the environment any site trainer container receives (ours, or a
// PyTorch/MONAI one that honours the same contract). Documented in the README.
import { z } from 'zod';
import { TrainingSpecSchema } from './training-spec.js';

const jsonString = <T extends z.ZodType>(schema: T) =>
  z.string().transform((s, ctx) => {
    try {
      return JSON.parse(s);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
      return z.NEVER;
    }
  }).pipe(schema);

export const TrainingJobEnvSchema = z.object({
  FEDRAD_RUN_ID: z.string().min(1),
  FEDRAD_ROUND: z.coerce.number().int().min(0),
  FEDRAD_SITE_ID: z.string().min(1),
  /** the site's own bucket: data/ is read, updates/ written */
  FEDRAD_SITE_BUCKET: z.string().min(3),
  FEDRAD_MODELS_BUCKET: z.string().min(3),
  FEDRAD_GLOBAL_MODEL_KEY: z.string().min(1),
  FEDRAD_GLOBAL_MODEL_SHA256: z.string().regex(/^[0-9a-f]{64}$/),
  /** a site in another AWS account: the role there that reads its data/ and writes its updates/ */
  FEDRAD_SITE_ROLE_ARN: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]{1,64}$/, 'an IAM role ARN such as arn:aws:iam::123456789012:role/name').optional(),
  /** the region of that account's bucket, when it differs from the job's */
  FEDRAD_SITE_REGION: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/).optional(),
  /** the sts:ExternalId the site's role requires (infra/stacks/site-account-stack.ts) */
  FEDRAD_SITE_EXTERNAL_ID: z.string().regex(/^[\w+=,.@:\/-]{2,1224}$/).optional(),
  /** the training spec as JSON */
  FEDRAD_TRAINING_SPEC: jsonString(TrainingSpecSchema),
  /** the site's images from this folder instead of the site bucket's data/ (an on-premises agent) */
  FEDRAD_DATA_DIR: z.string().min(1).optional(),
  /** or a bucket on an S3-compatible endpoint in the hospital (JSON, lib/site/site-data.ts) */
  FEDRAD_DATA_S3: z.string().min(2).optional(),
  /** the run's rounds and strategy (JSON), which a site policy checks */
  FEDRAD_RUN_ROUNDS: z.coerce.number().int().min(1).optional(),
  FEDRAD_STRATEGY: z.string().optional(),
  /** set by a site-account job definition: the site policy's key in the site bucket; the job trains
   * only if a policy there allows the task (an empty or unreadable key refuses) */
  FEDRAD_SITE_POLICY_KEY: z.string().optional(),
});
export type TrainingJobEnv = z.infer<typeof TrainingJobEnvSchema>;
