// The training job entrypoint (the Batch container's command): reads the job from environment
// variables (see README "Training job contract"), trains, writes the update. Exit 0 on success,
// 2 on a bad job definition, 1 on any other failure, with the reason on stderr.
import { runSiteTraining } from '../../lib/federation/train-site.js';
import { FedradError } from '../../lib/errors.js';
import { formatIssues } from '../../lib/schemas/format.js';
import { TrainingJobEnvSchema } from '../../lib/schemas/training-job.js';
import { trainingStoreFromEnv } from '../../lib/storage/store-from-env.js';

const log = (m: string) => process.stdout.write(`${new Date().toISOString()} ${m}\n`);

async function main(): Promise<number> {
  const parsed = TrainingJobEnvSchema.safeParse(process.env);
  if (!parsed.success) {
    process.stderr.write(`fedrad train-site: the job environment is invalid: ${formatIssues(parsed.error)}\n`);
    return 2;
  }
  try {
    await runSiteTraining(parsed.data, trainingStoreFromEnv(), log);
    return 0;
  } catch (err) {
    const e = err as Error;
    process.stderr.write(`fedrad train-site: ${e instanceof FedradError ? `${e.name}: ${e.message}` : e.stack ?? String(e)}\n`);
    return 1;
  }
}

process.exitCode = await main();
