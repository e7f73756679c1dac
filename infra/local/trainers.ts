// Local stand-ins for AWS Batch: a child process running the training entrypoint with the
// container's environment contract, or (for measuring orchestration alone) an in-process no-op
// trainer that writes a valid, tiny, constant update.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { join } from 'node:path';
import { floatTensor } from '../../lib/model/graph.js';
import { decodeModel, sha256 } from '../../lib/model/onnx-io.js';
import { decodeSafetensors, encodeSafetensors } from '../../lib/model/safetensors.js';
import { updatableInitializers } from '../../lib/federation/update.js';
import type { JobLauncher } from '../../lib/workflow/local-runner.js';
import type { JobMessage, JobReply } from './job-runner.js';
import type { UpdateManifest } from '../../lib/schemas/update-manifest.js';
import type { BlobStore } from '../../lib/storage/blob-store.js';
import { keys } from '../../lib/storage/keys.js';
import type { LocalAccounts } from '../../lib/storage/local-accounts.js';

const ENTRYPOINT = join(import.meta.dirname, '..', '..', 'functions', 'train-site', 'main.ts');
/** the CPU Batch aggregation job's command */
export const AGGREGATION_ENTRYPOINT = join(import.meta.dirname, '..', '..', 'functions', 'aggregate-round', 'batch-main.ts');

/** Runs a job's container command as a child process with the job's environment (training by default). */
export function processLauncher(baseEnv: Record<string, string>, log?: (siteId: string, line: string) => void, entrypoint = ENTRYPOINT): JobLauncher {
  return (job) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', entrypoint], { env: { ...process.env, ...baseEnv, ...job.environment }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => log?.(job.environment.FEDRAD_SITE_ID, d.toString().trimEnd()));
      child.stderr.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4000);
      });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`job ${job.jobName} exited with code ${code}: ${stderr.trim().split('\n').slice(-3).join(' ')}`))));
    });
}

const JOB_RUNNER = join(import.meta.dirname, 'job-runner.ts');

export interface PooledLauncher {
  launch: JobLauncher;
  /** ends the runners (they also end with this process) */
  close(): void;
}

/**
 * Training jobs on `slots` warm child processes (infra/local/job-runner.ts), each job with the
 * container's environment contract and the container's job code, as processLauncher runs them, but
 * without a process start-up and module load per job. A runner that dies is replaced.
 */
export function pooledProcessLauncher(baseEnv: Record<string, string>, slots: number, log?: (siteId: string, line: string) => void): PooledLauncher {
  interface Runner { child: ChildProcess; siteId?: string; fail?: (err: Error) => void }
  const idle: Runner[] = [];
  const waiting: Array<(r: Runner) => void> = [];
  const all = new Set<Runner>();
  let closed = false;
  const start = (): Runner => {
    const child = fork(JOB_RUNNER, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...baseEnv }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const runner: Runner = { child };
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => runner.siteId && log?.(runner.siteId, d.toString().trimEnd()));
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child.on('error', (err) => runner.fail?.(new Error(`the job runner failed: ${err.message}`)));
    child.on('exit', (code, signal) => {
      all.delete(runner);
      runner.fail?.(new Error(`the job runner exited (${signal ?? `code ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' ')}`));
    });
    all.add(runner);
    return runner;
  };
  const acquire = (): Promise<Runner> => {
    const r = idle.pop();
    if (r) return Promise.resolve(r);
    if (all.size < slots) return Promise.resolve(start());
    return new Promise((resolve) => waiting.push(resolve));
  };
  const release = (r: Runner) => {
    r.siteId = undefined;
    r.fail = undefined;
    if (!all.has(r)) {
      if (waiting.length > 0 && !closed) waiting.shift()!(start());
      return;
    }
    const next = waiting.shift();
    if (next) next(r);
    else idle.push(r);
  };
  const launch: JobLauncher = async (job) => {
    if (closed) throw new Error(`job ${job.jobName}: the job runners are closed`);
    const runner = await acquire();
    runner.siteId = job.environment.FEDRAD_SITE_ID;
    try {
      const reply = await new Promise<JobReply>((resolve, reject) => {
        runner.fail = reject;
        runner.child.once('message', (m) => resolve(m as JobReply));
        runner.child.send({ env: job.environment } satisfies JobMessage);
      });
      if (reply.code !== 0) throw new Error(`job ${job.jobName} exited with code ${reply.code}: ${reply.stderr.trim().split('\n').slice(-3).join(' ')}`);
    } finally {
      release(runner);
    }
  };
  return {
    launch,
    close() {
      closed = true;
      for (const r of all) r.child.disconnect();
    },
  };
}

export function noopLauncher(store: BlobStore): JobLauncher {
  return async ({ environment: env }) => {
    const bytes = await store.get(env.FEDRAD_MODELS_BUCKET, env.FEDRAD_GLOBAL_MODEL_KEY);
    const round = Number(env.FEDRAD_ROUND);
    // A tiny constant step per site (not zero), so that which sites are aggregated shows in the result.
    const step = 1e-4 * (1 + [...env.FEDRAD_SITE_ID].reduce((a, c) => a + c.charCodeAt(0), 0) % 17);
    const deltas = new Map([...updatableInitializers(decodeModel(bytes))].map(([name, t]) => [name, floatTensor(t.dims, new Float32Array(t.data.length).fill(step))]));
    // the metadata the real job writes: it also makes each round's bytes distinct, as training would
    const update = encodeSafetensors(deltas, { siteId: env.FEDRAD_SITE_ID, runId: env.FEDRAD_RUN_ID, round: env.FEDRAD_ROUND });
    const manifest: UpdateManifest = {
      version: 1, siteId: env.FEDRAD_SITE_ID, runId: env.FEDRAD_RUN_ID, round, baseModelSha256: sha256(bytes), updateSha256: sha256(update),
      sampleCount: 1, globalMetrics: {}, localMetrics: {}, trainLoss: 0, steps: 0, executionProvider: 'none', seconds: 0,
    };
    await store.put(env.FEDRAD_SITE_BUCKET, keys.update(env.FEDRAD_RUN_ID, round), update);
    await store.put(env.FEDRAD_SITE_BUCKET, keys.updateManifest(env.FEDRAD_RUN_ID, round), JSON.stringify(manifest), { ifNoneMatch: true });
  };
}

/** Makes the named sites' jobs fail, as a crashed container would. */
export function withFailingSites(launcher: JobLauncher, failSites: readonly string[]): JobLauncher {
  return async (job) => {
    if (failSites.includes(job.environment.FEDRAD_SITE_ID)) throw new Error(`injected failure of site ${job.environment.FEDRAD_SITE_ID}`);
    return launcher(job);
  };
}

/**
 * A site that tampers with its own update after training (it controls its bucket): the values are
 * transformed and the manifest re-signed, so only the gate and the strategy stand in the way.
 * Used for poisoning experiments and the NaN tests.
 */
export function tamperingLauncher(launcher: JobLauncher, store: BlobStore, siteId: string, transform: (values: Float32Array, tensor: string) => void): JobLauncher {
  return async (job) => {
    await launcher(job);
    const env = job.environment;
    if (env.FEDRAD_SITE_ID !== siteId) return;
    const round = Number(env.FEDRAD_ROUND);
    const tensors = decodeSafetensors(await store.get(env.FEDRAD_SITE_BUCKET, keys.update(env.FEDRAD_RUN_ID, round))).tensors;
    for (const [name, t] of tensors) transform(t.data as Float32Array, name);
    const bytes = encodeSafetensors(tensors);
    const manifest = JSON.parse(new TextDecoder().decode(await store.get(env.FEDRAD_SITE_BUCKET, keys.updateManifest(env.FEDRAD_RUN_ID, round)))) as UpdateManifest;
    await store.put(env.FEDRAD_SITE_BUCKET, keys.update(env.FEDRAD_RUN_ID, round), bytes);
    await store.put(env.FEDRAD_SITE_BUCKET, keys.updateManifest(env.FEDRAD_RUN_ID, round), JSON.stringify({ ...manifest, updateSha256: sha256(bytes) }));
  };
}

/** A job submitted to a hospital's own queue gets what that account's job definition gives it: its
 * account's buckets (FEDRAD_LOCAL_ACCOUNTS without limits) and the site policy's key. */
export function withSiteAccountJobs(launcher: JobLauncher, ownAccounts: LocalAccounts): JobLauncher {
  return (job) => {
    if (job.placement !== 'site-account') return launcher(job);
    return launcher({ ...job, environment: { ...job.environment, FEDRAD_SITE_POLICY_KEY: keys.sitePolicy(), FEDRAD_LOCAL_ACCOUNTS: JSON.stringify(ownAccounts) } });
  };
}
