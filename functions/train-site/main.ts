// The training job entrypoint (the Batch container's command): reads the job from environment
// variables (see README "Training job contract"), trains, writes the update. Exit 0 on success,
// 2 on a bad job definition, 1 on any other failure, with the reason on stderr.
import { runTrainingJob } from './job.js';

const log = (m: string) => process.stdout.write(`${new Date().toISOString()} ${m}\n`);

process.exitCode = await runTrainingJob(process.env, log, (m) => process.stderr.write(m));
