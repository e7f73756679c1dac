// The RunsApi over a deployed federation: Step Functions executions of the run state machine and
// the models bucket in S3. The state machine and bucket come from the orchestration stack's outputs
// (found by federation name with CloudFormation), or are given (--state-machine-arn, --models-bucket).
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeExecutionCommand, type ExecutionStatus, GetExecutionHistoryCommand, type HistoryEvent, ListExecutionsCommand, SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { BatchClient, DescribeJobsCommand } from '@aws-sdk/client-batch';
import { S3Client } from '@aws-sdk/client-s3';
import type { Lineage } from '../schemas/lineage.js';
import type { RunInputRaw } from '../schemas/run-input.js';
import { S3BlobStore } from '../storage/s3-store.js';
import { keys } from '../storage/keys.js';
import type { BlobStore } from '../storage/blob-store.js';
import { awsCall } from './aws-errors.js';
import { StackNotDeployedError, WrongRegionError } from './errors.js';
import type { RunListItem } from './render-run.js';
import { buildRunView, type RunEvent, type RunStatus, type RunView, selectBestModel } from './run-view.js';
import type { RunsApi, StartedRun } from './runs-api.js';
import { eventsFromRoundHistory, pendingJobs, readRunHistory } from './sfn-history.js';
import { readLineages, readModel, readRunRecord } from './stored-run.js';

/** The orchestration stack's outputs the CLI reads (infra/stacks/orchestration-stack.ts writes them). */
export const STACK_OUTPUTS = { runStateMachine: 'RunStateMachineArn', modelsBucket: 'ModelsBucket', sites: 'SiteIds' } as const;

export const orchestrationStackName = (federation: string) => `fedrad-${federation}-orchestration`;

export interface FederationLocation {
  region: string;
  stateMachineArn: string;
  modelsBucket?: string;
  /** the deployment's site ids, when the stack says */
  sites?: string[];
}

export interface LocateOptions {
  region: string;
  federation?: string;
  stateMachineArn?: string;
  modelsBucket?: string;
  cloudFormation?: CloudFormationClient;
}

const ARN = /^arn:aws[a-z-]*:states:([a-z0-9-]+):(\d{12}):stateMachine:([A-Za-z0-9_-]{1,80})$/;

/** Finds the run state machine and the models bucket: given, or from the stack's outputs. */
export async function locateFederation(o: LocateOptions): Promise<FederationLocation> {
  if (o.stateMachineArn) {
    const m = ARN.exec(o.stateMachineArn);
    if (!m) throw new WrongRegionError(`--state-machine-arn '${o.stateMachineArn.slice(0, 200)}' is not a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)`, {});
    if (m[1] !== o.region) throw new WrongRegionError(`the state machine is in ${m[1]} but the region is ${o.region}: drop --region (or AWS_REGION), or set it to ${m[1]}`, { arnRegion: m[1], region: o.region });
    return { region: o.region, stateMachineArn: o.stateMachineArn, ...(o.modelsBucket ? { modelsBucket: o.modelsBucket } : {}) };
  }
  if (!o.federation) throw new StackNotDeployedError('name the federation (--federation <name>, as in fedrad.config.json) or the run state machine (--state-machine-arn), or use --local <folder> for runs of `fedrad simulate`', {});
  const stackName = orchestrationStackName(o.federation);
  const cfn = o.cloudFormation ?? new CloudFormationClient({ region: o.region });
  const out = await awsCall({ action: 'cloudformation:DescribeStacks', resource: stackName, region: o.region }, () => cfn.send(new DescribeStacksCommand({ StackName: stackName })));
  const outputs = new Map((out.Stacks?.[0]?.Outputs ?? []).map((x) => [x.OutputKey, x.OutputValue]));
  const arn = outputs.get(STACK_OUTPUTS.runStateMachine);
  if (!arn) throw new StackNotDeployedError(`stack ${stackName} in ${o.region} has no output ${STACK_OUTPUTS.runStateMachine}: it was deployed by an older fedrad; deploy this version (\`npx cdk deploy --all\`) or pass --state-machine-arn and --models-bucket`, { stack: stackName });
  const sites = outputs.get(STACK_OUTPUTS.sites);
  return { region: o.region, stateMachineArn: arn, modelsBucket: o.modelsBucket ?? outputs.get(STACK_OUTPUTS.modelsBucket), ...(sites ? { sites: sites.split(',').filter(Boolean) } : {}) };
}

const STATUS: Record<ExecutionStatus, RunStatus> = { RUNNING: 'running', SUCCEEDED: 'succeeded', FAILED: 'failed', TIMED_OUT: 'timed-out', ABORTED: 'stopped', PENDING_REDRIVE: 'failed' };

export interface SfnRunsOptions {
  location: FederationLocation;
  sfn?: SFNClient;
  batch?: BatchClient;
  s3?: S3Client;
}

export class SfnRunsApi implements RunsApi {
  private readonly sfn: SFNClient;
  private readonly batch: BatchClient;
  private readonly store: BlobStore;
  private readonly region: string;

  constructor(private readonly o: SfnRunsOptions) {
    this.region = o.location.region;
    this.sfn = o.sfn ?? new SFNClient({ region: this.region });
    this.batch = o.batch ?? new BatchClient({ region: this.region });
    this.store = new S3BlobStore({ region: this.region, ...(o.s3 ? { client: o.s3 } : {}) });
  }

  get location(): string {
    return `state machine ${this.o.location.stateMachineArn}`;
  }

  /** run ids are execution names (Prepare run defaults the run id to it; `run start` sets both) */
  executionArn(runId: string): string {
    return `${this.o.location.stateMachineArn.replace(':stateMachine:', ':execution:')}:${runId}`;
  }

  private bucket(): string {
    const b = this.o.location.modelsBucket;
    if (!b) throw new StackNotDeployedError('the models bucket is unknown: pass --models-bucket with --state-machine-arn (or --federation, whose stack names it)', {});
    return b;
  }

  private s3<T>(action: string, key: string, fn: () => Promise<T>): Promise<T> {
    return awsCall({ action, resource: `s3://${this.bucket()}/${key}`, region: this.region }, fn);
  }

  async start(input: RunInputRaw & { runId: string }): Promise<StartedRun> {
    const arn = this.o.location.stateMachineArn;
    const out = await awsCall({ action: 'states:StartExecution', resource: arn, region: this.region }, () => this.sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: input.runId, input: JSON.stringify(input) })));
    return { runId: input.runId, location: out.executionArn ?? this.executionArn(input.runId) };
  }

  async list(limit: number): Promise<RunListItem[]> {
    const arn = this.o.location.stateMachineArn;
    const out = await awsCall({ action: 'states:ListExecutions', resource: arn, region: this.region }, () => this.sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, maxResults: limit })));
    const items: RunListItem[] = [];
    for (const e of out.executions ?? []) {
      const runId = e.name ?? '?';
      const lineages = this.o.location.modelsBucket ? await this.lineage(runId) : [];
      const best = selectBestModel(lineages);
      items.push({ runId, status: STATUS[e.status ?? 'RUNNING'] ?? 'running', startedAt: e.startDate?.toISOString(), roundsDone: lineages.length, ...(best ? { bestMetric: best.metric } : {}) });
    }
    return items;
  }

  private async history(executionArn: string): Promise<HistoryEvent[]> {
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await awsCall({ action: 'states:GetExecutionHistory', resource: executionArn, region: this.region }, () => this.sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken })));
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return events;
  }

  async describe(runId: string): Promise<RunView> {
    const executionArn = this.executionArn(runId);
    const d = await awsCall({ action: 'states:DescribeExecution', resource: executionArn, region: this.region }, () => this.sfn.send(new DescribeExecutionCommand({ executionArn })));
    const status = STATUS[d.status ?? 'RUNNING'] ?? 'running';
    const run = readRunHistory(await this.history(executionArn));
    // the round in flight (finished rounds come from lineage)
    const current = status === 'running' ? run.roundExecutions.at(-1) : undefined;
    const events = [...run.events, ...(current ? eventsFromRoundHistory(await this.history(current)) : [])];
    events.push(...(await this.jobsStarted(pendingJobs(events))));
    const [record, lineages] = this.o.location.modelsBucket ? await Promise.all([this.s3('s3:GetObject', keys.run(runId), () => readRunRecord(this.store, this.bucket(), runId)), this.lineage(runId)]) : [undefined, []];
    return buildRunView(
      {
        runId, source: 'aws', status,
        ...(record?.rounds ? { roundsPlanned: record.rounds } : {}),
        ...(record?.sites ? { sites: record.sites } : {}),
        ...(record?.strategy ? { strategy: record.strategy } : {}),
        startedAt: d.startDate?.toISOString(),
        ...(d.stopDate ? { stoppedAt: d.stopDate.toISOString() } : {}),
        ...(d.error ? { error: d.error } : {}),
        ...(d.cause ? { cause: d.cause.slice(0, 500) } : {}),
      },
      lineages,
      events,
    );
  }

  /**
   * Step Functions' history says a job was submitted, not whether Batch has placed it: ask Batch
   * which have started (RUNNING). Without batch:DescribeJobs the sites stay `runnable`; the rest
   * of the view does not depend on it.
   */
  private async jobsStarted(pending: Array<{ jobId: string; siteId: string; round: number }>): Promise<RunEvent[]> {
    const out: RunEvent[] = [];
    for (let i = 0; i < pending.length; i += 100) {
      const chunk = pending.slice(i, i + 100);
      let jobs;
      try {
        jobs = (await this.batch.send(new DescribeJobsCommand({ jobs: chunk.map((p) => p.jobId) }))).jobs ?? [];
      } catch {
        return out;
      }
      for (const j of jobs) {
        const p = chunk.find((x) => x.jobId === j.jobId);
        if (p && j.status === 'RUNNING') out.push({ type: 'job-started', siteId: p.siteId, round: p.round, ...(j.startedAt ? { at: j.startedAt } : {}) });
      }
    }
    return out;
  }

  async stop(runId: string, reason: string): Promise<void> {
    const executionArn = this.executionArn(runId);
    await awsCall({ action: 'states:StopExecution', resource: executionArn, region: this.region }, () => this.sfn.send(new StopExecutionCommand({ executionArn, error: 'StoppedByResearcher', cause: reason.slice(0, 32768) })));
  }

  lineage(runId: string): Promise<Lineage[]> {
    return this.s3('s3:ListBucket', `${keys.run(runId).replace(/run\.json$/, '')}rounds/`, () => readLineages(this.store, this.bucket(), runId));
  }

  async report(runId: string, file: 'index.html' | 'report.json'): Promise<Uint8Array | undefined> {
    const key = keys.report(runId, file);
    const head = await this.s3('s3:GetObject', key, () => this.store.head(this.bucket(), key));
    return head ? this.s3('s3:GetObject', key, () => this.store.get(this.bucket(), key)) : undefined;
  }

  async model(runId: string, round: number): Promise<Uint8Array> {
    const key = keys.globalModel(runId, round);
    const [lineages, record] = await Promise.all([this.lineage(runId), this.s3('s3:GetObject', keys.run(runId), () => readRunRecord(this.store, this.bucket(), runId))]);
    return this.s3('s3:GetObject', key, () => readModel(this.store, this.bucket(), runId, round, lineages, record));
  }
}
