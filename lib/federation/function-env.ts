// The environment the Lambda functions receive from the stack (and from `fedrad simulate`).
import { z } from 'zod';
import { FedradError } from '../errors.js';
import { formatIssues } from '../schemas/format.js';
import { SiteRefSchema } from './round-state.js';

export const FunctionEnvSchema = z.object({
  FEDRAD_MODELS_BUCKET: z.string().min(3),
  FEDRAD_SITES: z.string().transform((s) => JSON.parse(s) as unknown).pipe(z.array(SiteRefSchema).min(1)),
});
export type FunctionEnv = z.infer<typeof FunctionEnvSchema>;

export function functionEnv(env: NodeJS.ProcessEnv = process.env): FunctionEnv {
  const parsed = FunctionEnvSchema.safeParse(env);
  if (!parsed.success) throw new FedradError(`the function's environment is incomplete: ${formatIssues(parsed.error)} (the stack sets these)`, {});
  return parsed.data;
}
