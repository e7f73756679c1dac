// The environment the Lambda functions receive from the stack (and from `fedrad simulate`).
import { z } from 'zod';
import { FedradError } from '../errors.js';
import { formatIssues } from '../schemas/format.js';
import { SiteRefSchema } from './round-state.js';

export const FunctionEnvSchema = z.object({
  FEDRAD_MODELS_BUCKET: z.string().min(3),
  FEDRAD_SITES: z.string().transform((s) => JSON.parse(s) as unknown).pipe(z.array(SiteRefSchema).min(1)),
  /** the aggregate-round function's memory and timeout, for placing each run's aggregation */
  FEDRAD_AGGREGATE_MEMORY_MB: z.coerce.number().int().min(128).default(4096),
  FEDRAD_AGGREGATE_TIMEOUT_S: z.coerce.number().int().min(1).default(900),
  FEDRAD_BATCH_AGGREGATE_MEMORY_MB: z.coerce.number().int().min(128).optional(),
});
export type FunctionEnv = z.infer<typeof FunctionEnvSchema>;

export function functionEnv(env: NodeJS.ProcessEnv = process.env): FunctionEnv {
  const parsed = FunctionEnvSchema.safeParse(env);
  if (!parsed.success) throw new FedradError(`the function's environment is incomplete: ${formatIssues(parsed.error)} (the stack sets these)`, {});
  return parsed.data;
}
