// One training job from its environment (the Batch container's contract, README "Training job
// contract"): 0 on success, 2 on a bad job definition, 1 on any other failure, the reason written
// with `error`. The container's command (main.ts) and the local simulation's warm job runners
// (infra/local/job-runner.ts) both run jobs through here.
import { runSiteTraining } from '../../lib/federation/train-site.js';
import { FedradError } from '../../lib/errors.js';
import { formatIssues } from '../../lib/schemas/format.js';
import { TrainingJobEnvSchema } from '../../lib/schemas/training-job.js';
import { trainingStoreFromEnv } from '../../lib/storage/store-from-env.js';

export async function runTrainingJob(env: NodeJS.ProcessEnv, log: (m: string) => void, error: (m: string) => void): Promise<number> {
  const parsed = TrainingJobEnvSchema.safeParse(env);
  if (!parsed.success) {
    error(`fedrad train-site: the job environment is invalid: ${formatIssues(parsed.error)}\n`);
    return 2;
  }
  try {
    await runSiteTraining(parsed.data, trainingStoreFromEnv(env), log);
    return 0;
  } catch (err) {
    const e = err as Error;
    error(`fedrad train-site: ${e instanceof FedradError ? `${e.name}: ${e.message}` : e.stack ?? String(e)}\n`);
    return 1;
  }
}
