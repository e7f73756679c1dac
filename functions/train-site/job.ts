// One training job from its environment (the Batch container's contract, README "Training job
// contract"): checks the site policy when the site's job definition names one, trains, writes the
// update. 0 on success, 2 on a bad job definition, 3 when the site policy refuses the task, 1 on any
// other failure, the reason written with `error`. A refusal by the site policy is written to
// updates/.../refusal.json and the job exits 0 (3 if it could not be written). The container's command (main.ts), an on-premises
// agent (through main.ts) and the local simulation's warm job runners (infra/local/job-runner.ts)
// all run jobs through here.
import { FedradError } from '../../lib/errors.js';
import { runSiteTraining } from '../../lib/federation/train-site.js';
import { formatIssues } from '../../lib/schemas/format.js';
import { TrainingJobEnvSchema } from '../../lib/schemas/training-job.js';
import { checkTask } from '../../lib/site/enforce.js';
import { parseSitePolicy, refusalReason } from '../../lib/site/policy.js';
import { recordRefusal } from '../../lib/site/refusal.js';
import { siteDataSourceFromEnv } from '../../lib/site/site-data.js';
import { trainingStoreFromEnv } from '../../lib/storage/store-from-env.js';

export async function runTrainingJob(env: NodeJS.ProcessEnv, log: (m: string) => void, error: (m: string) => void): Promise<number> {
  const parsed = TrainingJobEnvSchema.safeParse(env);
  if (!parsed.success) {
    error(`fedrad train-site: the job environment is invalid: ${formatIssues(parsed.error)}\n`);
    return 2;
  }
  const job = parsed.data;
  try {
    const store = trainingStoreFromEnv(env);
    if (job.FEDRAD_SITE_POLICY_KEY !== undefined) {
      const source = `s3://${job.FEDRAD_SITE_BUCKET}/${job.FEDRAD_SITE_POLICY_KEY}`;
      const text = job.FEDRAD_SITE_POLICY_KEY ? await store.get(job.FEDRAD_SITE_BUCKET, job.FEDRAD_SITE_POLICY_KEY).then((b) => new TextDecoder().decode(b), () => undefined) : undefined;
      const decision = await checkTask(parseSitePolicy(text, source), { runId: job.FEDRAD_RUN_ID, round: job.FEDRAD_ROUND, rounds: job.FEDRAD_RUN_ROUNDS, strategy: job.FEDRAD_STRATEGY, modelsBucket: job.FEDRAD_MODELS_BUCKET, globalModelKey: job.FEDRAD_GLOBAL_MODEL_KEY, trainingSpec: job.FEDRAD_TRAINING_SPEC }, store, new Date());
      if (!decision.allowed) {
        error(`fedrad train-site: ${refusalReason(decision.rule)}: ${decision.message}\n`);
        // The refusal is recorded where the round's gate looks (updates/), so lineage names the rule;
        // the job then ends as done: it did what its site asked. Without the record it exits 3.
        const recorded = await recordRefusal(store, job, decision.rule, decision.message).then(() => true, () => false);
        return recorded ? 0 : 3;
      }
    }
    await runSiteTraining(job, store, log, siteDataSourceFromEnv(env));
    return 0;
  } catch (err) {
    const e = err as Error;
    error(`fedrad train-site: ${e instanceof FedradError ? `${e.name}: ${e.message}` : e.stack ?? String(e)}\n`);
    return 1;
  }
}
