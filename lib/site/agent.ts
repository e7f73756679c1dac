// The on-premises site agent's loop: take a task from the site's queue, check it against the site's
// own policy (re-read for every task, so the kill switch acts at once), run the training entrypoint
// on the local data while beating, and answer with the task token. Outbound calls only.
// Restart-safe: an unanswered task comes back after its visibility timeout with the same token, and
// the training job finds its own update (create-once) instead of training twice; a task the round
// has given up on (heartbeat timeout) is dropped.
import { formatError } from './format-error.js';
import { type SiteAgentConfig } from './agent-config.js';
import { checkTask } from './enforce.js';
import { parseSitePolicy, refusalReason } from './policy.js';
import { type AgentTask, AgentTaskSchema, isTaskGone, type ReceivedMessage, type TaskChannel } from './task-channel.js';
import type { BlobStore } from '../storage/blob-store.js';
import { formatIssues } from '../schemas/format.js';

export interface AgentDeps {
  config: SiteAgentConfig;
  channel: TaskChannel;
  /** reads the round's global model (models bucket) for the policy check */
  store: BlobStore;
  /** the policy file's text, or undefined when there is none */
  readPolicy: () => Promise<string | undefined>;
  /** runs the training entrypoint with a job's environment; rejects with the reason */
  train: (env: Record<string, string>) => Promise<void>;
  log: (message: string) => void;
  now?: () => Date;
}

export type TaskOutcome = 'trained' | 'refused' | 'failed' | 'gone' | 'discarded';

/** The training job's environment for a task (the container contract), with the local data folder. */
export function jobEnvironment(task: AgentTask, config: SiteAgentConfig): Record<string, string> {
  return {
    FEDRAD_RUN_ID: task.runId,
    FEDRAD_ROUND: String(task.round),
    FEDRAD_SITE_ID: task.siteId,
    FEDRAD_SITE_BUCKET: task.siteBucket,
    FEDRAD_MODELS_BUCKET: task.modelsBucket,
    FEDRAD_GLOBAL_MODEL_KEY: task.globalModelKey,
    FEDRAD_GLOBAL_MODEL_SHA256: task.globalModelSha256,
    FEDRAD_TRAINING_SPEC: task.trainingSpec,
    ...(config.dataDir ? { FEDRAD_DATA_DIR: config.dataDir } : {}),
    ...(config.dataS3 ? { FEDRAD_DATA_S3: JSON.stringify(config.dataS3) } : {}),
    ...(config.storageRoot ? { FEDRAD_STORAGE_ROOT: config.storageRoot } : {}),
    ...(config.threads ? { FEDRAD_THREADS: String(config.threads) } : {}),
  };
}

/** Handles one received message to its end; never throws for a task's own problems. */
export async function handleMessage(deps: AgentDeps, message: ReceivedMessage): Promise<TaskOutcome> {
  const { channel, config, log } = deps;
  let raw: unknown;
  try {
    raw = JSON.parse(message.body);
  } catch {
    log('discarding a message that is not JSON');
    await channel.discard(message.receipt);
    return 'discarded';
  }
  const token = typeof (raw as { taskToken?: unknown })?.taskToken === 'string' ? (raw as { taskToken: string }).taskToken : undefined;
  if (!token) {
    log('discarding a message without a task token');
    await channel.discard(message.receipt);
    return 'discarded';
  }
  const answer = async (outcome: TaskOutcome, send: () => Promise<void>): Promise<TaskOutcome> => {
    try {
      await send();
      return outcome;
    } catch (err) {
      if (!isTaskGone(err)) throw err;
      log('the round no longer waits for this task (heartbeat timeout or run ended); dropping it');
      await channel.discard(message.receipt);
      return 'gone';
    }
  };
  const parsed = AgentTaskSchema.safeParse(raw);
  if (!parsed.success) return answer('failed', () => channel.fail(token, message.receipt, 'site-agent: malformed task', formatIssues(parsed.error)));
  const task = parsed.data;
  if (task.siteId !== config.siteId) return answer('failed', () => channel.fail(token, message.receipt, 'site-agent: wrong site', `this agent serves site ${config.siteId}, the task is for ${JSON.stringify(task.siteId.slice(0, 40))}`));
  const where = `run ${task.runId} round ${task.round}`;
  // A first beat says the task is taken, and finds out at once whether the round still waits for it
  // (a task redelivered after a crash may have timed out already).
  const taken = await answer('trained', () => channel.heartbeat(token, message.receipt));
  if (taken === 'gone') return 'gone';

  const policy = parseSitePolicy(await deps.readPolicy(), config.policyFile);
  let decision;
  try {
    decision = await checkTask(policy, { ...task }, deps.store, (deps.now ?? (() => new Date()))());
  } catch (err) {
    return answer('failed', () => channel.fail(token, message.receipt, 'site-agent: cannot check the task', formatError(err)));
  }
  if (!decision.allowed) {
    log(`${where}: refused by the site policy (${decision.rule}): ${decision.message}`);
    return answer('refused', () => channel.fail(token, message.receipt, refusalReason(decision.rule), decision.message));
  }

  log(`${where}: training`);
  let gone = false;
  const beat = setInterval(() => {
    channel.heartbeat(token, message.receipt).catch((err) => {
      if (isTaskGone(err)) gone = true;
      else log(`heartbeat failed (will retry): ${formatError(err)}`);
    });
  }, config.heartbeatSeconds * 1000);
  try {
    await deps.train(jobEnvironment(task, config));
  } catch (err) {
    clearInterval(beat);
    log(`${where}: training failed: ${formatError(err)}`);
    return answer('failed', () => channel.fail(token, message.receipt, 'SiteTrainingFailed', formatError(err)));
  }
  clearInterval(beat);
  if (gone) log(`${where}: trained, but the round stopped waiting`);
  log(`${where}: update written`);
  return answer('trained', () => channel.succeed(token, message.receipt, { siteId: task.siteId, runId: task.runId, round: task.round }));
}

/** Polls until `signal` aborts (or after `maxTasks` tasks). */
export async function runAgent(deps: AgentDeps, options: { signal?: AbortSignal; maxTasks?: number; waitSeconds?: number } = {}): Promise<void> {
  let handled = 0;
  deps.log(`site ${deps.config.siteId}: waiting for tasks on ${deps.channel.location}`);
  while (!options.signal?.aborted && (options.maxTasks === undefined || handled < options.maxTasks)) {
    let message: ReceivedMessage | undefined;
    try {
      message = await deps.channel.receive(options.waitSeconds ?? 20);
    } catch (err) {
      deps.log(`cannot reach the task queue (retrying in 5 s): ${formatError(err)}`);
      await new Promise((r) => setTimeout(r, 5000));
      continue;
    }
    if (!message) continue;
    try {
      deps.log(`task ${await handleMessage(deps, message)}`);
    } catch (err) {
      // the message comes back after its visibility timeout, with the same token
      deps.log(`could not answer the task (it will come back): ${formatError(err)}`);
    }
    handled++;
  }
}
