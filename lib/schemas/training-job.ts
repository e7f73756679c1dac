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
  /** the training spec as JSON */
  FEDRAD_TRAINING_SPEC: jsonString(TrainingSpecSchema),
});
export type TrainingJobEnv = z.infer<typeof TrainingJobEnvSchema>;
