// A warm training-job runner for the local simulation: a child process (forked by
// pooledProcessLauncher) that runs one job at a time, each with exactly the environment the
// container would get, through the container's own job code (functions/train-site/job.ts). It
// saves each job the process start-up and module loading, and keeps decoded site data cached by
// content hash between rounds (every file is still read and checked against its manifest).
import { runTrainingJob } from '../../functions/train-site/job.js';

export interface JobMessage {
  env: Record<string, string>;
}
export interface JobReply {
  code: number;
  stderr: string;
}

const baseEnv = { ...process.env };

process.on('message', (msg: JobMessage) => {
  void (async () => {
    // The job sees the runner's base environment plus its own, never an earlier job's.
    for (const k of Object.keys(process.env)) if (!(k in baseEnv)) delete process.env[k];
    Object.assign(process.env, baseEnv, msg.env);
    let stderr = '';
    const code = await runTrainingJob(
      process.env,
      (m) => process.stdout.write(`${new Date().toISOString()} ${m}\n`),
      (m) => {
        stderr = (stderr + m).slice(-4000);
      },
    );
    process.send!({ code, stderr } satisfies JobReply);
  })();
});
process.on('disconnect', () => process.exit(0));
