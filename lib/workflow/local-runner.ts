// Runs the synthesized run and round state machines on this machine with aws-local-stepfunctions.
// Task states are overridden by state name: Lambda states call the same handler functions the
// cloud runs, the Batch state runs a site's training job through the given launcher, and the
// child-execution state runs the round machine locally, shaped like startExecution.sync:2.
import './polyfill.js';
import { ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { FedradError } from '../errors.js';
import { ROUND_STATES, RUN_STATES } from './state-names.js';

type Json = unknown;
export type Handler = (event: Json) => Promise<Json>;

export interface TrainingJobRequest {
  jobName: string;
  jobDefinition: string;
  environment: Record<string, string>;
  /** which Batch state submitted it: the central queue, or a queue in the hospital's account */
  placement?: 'central' | 'site-account';
}

/** Sends an on-premises site's task and waits for its agent's answer (lib/workflow/local-task-queues.ts). */
export interface AgentTaskSender {
  sendAndWait(queueUrl: string, body: Record<string, unknown>, limits: { heartbeatSeconds?: number; timeoutSeconds?: number }): Promise<unknown>;
}

/** Runs one site's training job; resolves when it succeeded, rejects with the reason otherwise. */
export type JobLauncher = (job: TrainingJobRequest) => Promise<void>;

export interface WorkflowDefinitions {
  run: StateMachineDefinition;
  round: StateMachineDefinition;
}

export interface LocalHandlers {
  prepareRun: Handler;
  validateUpdate: Handler;
  aggregateRound: Handler;
  /** stages a round for the Batch aggregation and loads its result */
  batchAggregation: Handler;
  finishRun: Handler;
}

export type WorkflowEvent =
  | { type: 'job-started'; siteId: string; round: number }
  | { type: 'job-finished'; siteId: string; round: number; ok: boolean; error?: string }
  | { type: 'site-validated'; siteId: string; round: number; status: string; reasons?: string[] }
  | { type: 'round-finished'; round: number; output: Json }
  | { type: 'aggregation-job'; round: number; ok: boolean }
  | { type: 'run-prepared'; output: Json };

export interface LocalRunOptions {
  definitions: WorkflowDefinitions;
  handlers: LocalHandlers;
  launchJob: JobLauncher;
  /** runs the CPU Batch aggregation job (functions/aggregate-round/batch-main.ts) */
  launchAggregationJob?: JobLauncher;
  /** answers "Ask the site's agent to train" (on-premises sites) */
  agentTasks?: AgentTaskSender;
  input: Json;
  executionName: string;
  onEvent?: (e: WorkflowEvent) => void;
}

/** The run failed as a Step Functions execution would: an error name and a cause. */
export class WorkflowFailedError extends FedradError {
  constructor(readonly error: string, readonly causeText: string) {
    super(`the run failed with ${error}: ${causeText}`, { error, cause: causeText });
  }
}

function taskError(name: string, cause: string): Error {
  const e = new Error(cause);
  e.name = name;
  return e;
}

/** The ASL error and cause of a failed local execution. */
export function describeFailure(err: unknown): { error: string; cause: string } {
  const inner = err instanceof ExecutionError ? ((err as Error & { cause?: unknown }).cause ?? err) : err;
  const e = inner as Error;
  return { error: e?.name ?? 'Error', cause: e?.message ?? String(inner) };
}

/** Task states without TimeoutSeconds time out after 60 s in aws-local-stepfunctions; ours set it. */
export function checkTimeouts(def: StateMachineDefinition, where: string): void {
  const visit = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task' && state.TimeoutSeconds === undefined) throw new FedradError(`${where}: task state '${name}' sets no TimeoutSeconds`, { state: name });
      const processor = (state.ItemProcessor ?? state.Iterator) as { States: Record<string, Record<string, unknown>> } | undefined;
      if (processor) visit(processor.States);
    }
  };
  visit(def.States as unknown as Record<string, Record<string, unknown>>);
}

const envArray = (env: Array<{ Name: string; Value: string }>) => Object.fromEntries(env.map((e) => [e.Name, String(e.Value)]));

export async function runLocalWorkflow(opts: LocalRunOptions): Promise<Json> {
  const { definitions, handlers, onEvent = () => {} } = opts;
  checkTimeouts(definitions.run, 'run state machine');
  checkTimeouts(definitions.round, 'round state machine');
  const validation = { checkPaths: true, checkArn: true };
  const roundMachine = new StateMachine(definitions.round, { validationOptions: validation });
  const runMachine = new StateMachine(definitions.run, { validationOptions: validation });
  // Retries wait their full interval in the cloud; locally a short pause keeps runs fast.
  const noWait = (def: StateMachineDefinition) => Object.fromEntries(stateNames(def).map((n) => [n, 10]));
  let roundCounter = 0;

  const trainingJob = (placement: TrainingJobRequest['placement']) => async (input: Json) => {
    const p = input as { JobName: string; JobDefinition: string; ContainerOverrides?: { Environment?: Array<{ Name: string; Value: string }> } };
    const environment = envArray(p.ContainerOverrides?.Environment ?? []);
    const siteId = environment.FEDRAD_SITE_ID;
    const round = Number(environment.FEDRAD_ROUND);
    onEvent({ type: 'job-started', siteId, round });
    try {
      await opts.launchJob({ jobName: p.JobName, jobDefinition: p.JobDefinition, environment, placement });
    } catch (err) {
      const reason = (err as Error).message;
      onEvent({ type: 'job-finished', siteId, round, ok: false, error: reason });
      // A failed Batch job reaches a .sync task as States.TaskFailed.
      throw taskError('States.TaskFailed', JSON.stringify({ JobName: p.JobName, Status: 'FAILED', StatusReason: reason.slice(0, 1000) }));
    }
    onEvent({ type: 'job-finished', siteId, round, ok: true });
    return { JobId: `local-${p.JobName}`, JobName: p.JobName, JobDefinition: p.JobDefinition, Status: 'SUCCEEDED' };
  };
  const agentState = findState(definitions.round, ROUND_STATES.askAgent);
  const agentLimits = { heartbeatSeconds: agentState?.HeartbeatSeconds as number | undefined, timeoutSeconds: agentState?.TimeoutSeconds as number | undefined };

  const roundOverrides = {
    [ROUND_STATES.train]: trainingJob('central'),
    [ROUND_STATES.trainInAccount]: trainingJob('site-account'),
    [ROUND_STATES.askAgent]: async (input: Json) => {
      const p = input as { QueueUrl: string; MessageBody: Record<string, unknown> };
      const siteId = String(p.MessageBody.siteId);
      const round = Number(p.MessageBody.round);
      if (!opts.agentTasks) throw taskError('States.TaskFailed', 'no local task queue for on-premises agents');
      onEvent({ type: 'job-started', siteId, round });
      try {
        const output = await opts.agentTasks.sendAndWait(p.QueueUrl, p.MessageBody, agentLimits);
        onEvent({ type: 'job-finished', siteId, round, ok: true });
        return output;
      } catch (err) {
        const e = err as Error;
        onEvent({ type: 'job-finished', siteId, round, ok: false, error: `${e.name}: ${e.message}` });
        // the agent's SendTaskFailure error, or States.HeartbeatTimeout / States.Timeout
        throw taskError(e.name, e.message);
      }
    },
    [ROUND_STATES.validate]: async (input: Json) => {
      const out = (await handlers.validateUpdate(input)) as { siteId: string; status: string; reasons?: Array<{ code: string; message: string }> };
      const reasons = out.reasons?.map((r) => `${r.code}: ${r.message}`);
      onEvent({ type: 'site-validated', siteId: out.siteId, round: (input as { round: number }).round, status: out.status, ...(reasons ? { reasons } : {}) });
      return out;
    },
    [ROUND_STATES.aggregate]: (input: Json) => handlers.aggregateRound(input),
    [ROUND_STATES.stageAggregation]: (input: Json) => handlers.batchAggregation(input),
    [ROUND_STATES.loadAggregation]: (input: Json) => handlers.batchAggregation(input),
    [ROUND_STATES.aggregateOnBatch]: async (input: Json) => {
      const p = input as { JobName: string; JobDefinition: string; ContainerOverrides?: { Environment?: Array<{ Name: string; Value: string }> } };
      const environment = envArray(p.ContainerOverrides?.Environment ?? []);
      const round = Number(/aggregation\/(\d+)\//.exec(environment.FEDRAD_AGGREGATION_INPUT_KEY ?? '')?.[1] ?? -1);
      if (!opts.launchAggregationJob) throw taskError('States.TaskFailed', JSON.stringify({ JobName: p.JobName, Status: 'FAILED', StatusReason: 'no local launcher for the Batch aggregation job' }));
      try {
        await opts.launchAggregationJob({ jobName: p.JobName, jobDefinition: p.JobDefinition, environment });
      } catch (err) {
        onEvent({ type: 'aggregation-job', round, ok: false });
        throw taskError('States.TaskFailed', JSON.stringify({ JobName: p.JobName, Status: 'FAILED', StatusReason: (err as Error).message.slice(0, 1000) }));
      }
      onEvent({ type: 'aggregation-job', round, ok: true });
      return { JobId: `local-${p.JobName}`, JobName: p.JobName, JobDefinition: p.JobDefinition, Status: 'SUCCEEDED' };
    },
  };

  const runOverrides = {
    [RUN_STATES.prepare]: async (input: Json) => {
      const out = await handlers.prepareRun(input);
      onEvent({ type: 'run-prepared', output: out });
      return out;
    },
    [RUN_STATES.finish]: (input: Json) => handlers.finishRun(input),
    [RUN_STATES.round]: async (input: Json) => {
      const p = input as { StateMachineArn: string; Input: Json };
      const name = `${opts.executionName}-round-${++roundCounter}`;
      const execution = roundMachine.run(p.Input as never, {
        overrides: { taskResourceLocalHandlers: roundOverrides as never, retryIntervalOverrides: noWait(definitions.round) },
        // Task.Token: a placeholder; the agents' task queues give each task a token of its own
        context: { Execution: { Id: `local:${name}`, Name: name, Input: p.Input, StartTime: new Date().toISOString() }, Task: { Token: 'local' } } as never,
      });
      try {
        const output = await execution.result;
        onEvent({ type: 'round-finished', round: (output as { round: number }).round, output });
        // startExecution.sync:2 returns the child's description with its output as JSON.
        return { ExecutionArn: `local:${name}`, StateMachineArn: p.StateMachineArn, Status: 'SUCCEEDED', Output: output };
      } catch (err) {
        const f = describeFailure(err);
        throw taskError('States.TaskFailed', JSON.stringify({ ExecutionArn: `local:${name}`, Status: 'FAILED', Error: f.error, Cause: f.cause }));
      }
    },
  };

  const execution = runMachine.run(opts.input as never, {
    overrides: { taskResourceLocalHandlers: runOverrides as never, retryIntervalOverrides: noWait(definitions.run) },
    context: { Execution: { Id: `local:${opts.executionName}`, Name: opts.executionName, Input: opts.input, StartTime: new Date().toISOString() } } as never,
  });
  try {
    return await execution.result;
  } catch (err) {
    const f = describeFailure(err);
    throw new WorkflowFailedError(f.error, f.cause);
  }
}

/** A state by name, at any depth (Map item processors included). */
function findState(def: StateMachineDefinition, name: string): Record<string, unknown> | undefined {
  let found: Record<string, unknown> | undefined;
  const visit = (states: Record<string, Record<string, unknown>>) => {
    for (const [n, state] of Object.entries(states)) {
      if (n === name) found = state;
      const processor = (state.ItemProcessor ?? state.Iterator) as { States: Record<string, Record<string, unknown>> } | undefined;
      if (processor) visit(processor.States);
    }
  };
  visit(def.States as unknown as Record<string, Record<string, unknown>>);
  return found;
}

function stateNames(def: StateMachineDefinition): string[] {
  const out: string[] = [];
  const visit = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      out.push(name);
      const processor = (state.ItemProcessor ?? state.Iterator) as { States: Record<string, Record<string, unknown>> } | undefined;
      if (processor) visit(processor.States);
    }
  };
  visit(def.States as unknown as Record<string, Record<string, unknown>>);
  return out;
}
