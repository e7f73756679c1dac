// The training job entrypoint (the Batch container's command, and what an on-premises agent runs):
// reads the job from environment variables (see README "Training job contract") and runs it
// (job.ts). Exit 0 on success, 2 on a bad job definition, 3 when the site policy refuses the task,
// 1 on any other failure, with the reason on stderr.
import { runTrainingJob } from './job.js';

const log = (m: string) => process.stdout.write(`${new Date().toISOString()} ${m}\n`);

process.exitCode = await runTrainingJob(process.env, log, (m) => process.stderr.write(m));
