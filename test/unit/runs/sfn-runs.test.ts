// `fedrad run ...` against a deployed federation, with the AWS SDK's clients mocked at the request
// level (aws-sdk-client-mock): the exact inputs each command sends, and the message each AWS error
// becomes. The no-credentials case also runs unmocked, in a child process with no credentials.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BatchClient, DescribeJobsCommand } from '@aws-sdk/client-batch';
import { CloudFormationClient, CloudFormationServiceException, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, ExecutionDoesNotExist, GetExecutionHistoryCommand, type HistoryEvent, ListExecutionsCommand, SFNClient, SFNServiceException, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../lib/cli/main.js';
import { encodeModel, sha256 } from '../../../lib/model/onnx-io.js';
import { buildZooModel } from '../../../lib/model/zoo/index.js';
import type { Lineage } from '../../../lib/schemas/lineage.js';
import type { RunView } from '../../../lib/runs/run-view.js';

const sfn = mockClient(SFNClient);
const cfn = mockClient(CloudFormationClient);
const s3 = mockClient(S3Client);
const batch = mockClient(BatchClient);
afterAll(() => {
  batch.restore();
  sfn.restore();
  cfn.restore();
  s3.restore();
});

const REGION = 'eu-west-2';
const MACHINE = 'arn:aws:states:eu-west-2:123456789012:stateMachine:fedrad-demo-run';
const EXECUTION = (id: string) => `arn:aws:states:eu-west-2:123456789012:execution:fedrad-demo-run:${id}`;
const BUCKET = 'fedrad-demo-models';
const WHERE = ['--federation', 'demo', '--region', REGION];

const model0 = encodeModel(buildZooModel('cnn-classifier', { inputSize: 16 }));
const model1 = new Uint8Array([...model0, 1]);
const model2 = new Uint8Array([...model0, 2]);
const lineage = (round: number, parentSha: string, sha: string, accuracy: number): Lineage => ({
  version: 1, runId: 'r1', round, modelSha256: sha, parentRound: round - 1, parentSha256: parentSha, strategy: { type: 'fedavg' } as Lineage['strategy'],
  sites: [
    { siteId: 'site-1', status: 'accepted', sampleCount: 30, weight: 1, updateSha256: 'u', globalMetrics: { accuracy }, localMetrics: {} },
    { siteId: 'site-2', status: 'rejected', reasons: [{ code: 'non_finite', message: 'tensor head.bias holds NaN' }] },
    { siteId: 'site-3', status: 'failed', error: 'States.TaskFailed' },
  ],
  parentMetrics: { accuracy }, privacy: null,
});
const LINEAGES = [lineage(1, sha256(model0), sha256(model1), 0.6), lineage(2, sha256(model1), sha256(model2), 0.8)];
const body = (bytes: Uint8Array | string) => ({ Body: { transformToByteArray: async () => (typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes) } }) as never;

async function fedrad(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((t) => ((stderr += String(t)), true));
  process.exitCode = 0;
  try {
    const code = await main(['node', 'fedrad', ...args], { runs: { write: (t) => void (stdout += t), terminal: { isTTY: false, columns: () => 100, onResize: () => () => {} }, sleep: async () => {} } });
    return { code, stdout, stderr, exitCode: Number(process.exitCode ?? 0) };
  } finally {
    spy.mockRestore();
    process.exitCode = 0;
  }
}

function stackDeployed() {
  cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'fedrad-demo-orchestration', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [{ OutputKey: 'RunStateMachineArn', OutputValue: MACHINE }, { OutputKey: 'ModelsBucket', OutputValue: BUCKET }, { OutputKey: 'SiteIds', OutputValue: 'site-1,site-2,site-3' }] }] });
}

function bucketHoldsRun() {
  s3.on(ListObjectsV2Command, { Bucket: BUCKET, Prefix: 'runs/r1/rounds/' }).resolves({ Contents: [1, 2].flatMap((r) => [{ Key: `runs/r1/rounds/000${r}/global.onnx` }, { Key: `runs/r1/rounds/000${r}/lineage.json` }]), IsTruncated: false });
  s3.on(GetObjectCommand, { Bucket: BUCKET, Key: 'runs/r1/run.json' }).resolves(body(JSON.stringify({ runId: 'r1', sites: ['site-1', 'site-2', 'site-3'], input: { rounds: 3, strategy: { type: 'fedavg' } }, initialModelSha256: sha256(model0) })));
  for (const l of LINEAGES) s3.on(GetObjectCommand, { Bucket: BUCKET, Key: `runs/r1/rounds/000${l.round}/lineage.json` }).resolves(body(JSON.stringify(l)));
  s3.on(GetObjectCommand, { Bucket: BUCKET, Key: 'runs/r1/rounds/0001/global.onnx' }).resolves(body(model1));
}

const history = (events: Array<Omit<HistoryEvent, 'timestamp'>>): HistoryEvent[] => events.map((e) => ({ timestamp: new Date(1_700_000_000_000 + e.id! * 1000), ...e }));
const enter = (id: number, prev: number, name: string, input: object): Omit<HistoryEvent, 'timestamp'> => ({ id, previousEventId: prev, type: 'TaskStateEntered', stateEnteredEventDetails: { name, input: JSON.stringify(input) } });

beforeEach(() => {
  sfn.reset();
  cfn.reset();
  s3.reset();
  batch.reset();
});

describe('fedrad run start', () => {
  it('finds the state machine by federation, checks the input, shows the plan and starts it with exactly that input', async () => {
    stackDeployed();
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION('r1'), startDate: new Date() });
    const r = await fedrad('run', 'start', ...WHERE, '--run-id', 'r1', '--rounds', '3', '--strategy', 'trimmed-mean', '--strategy-options', '{"beta":0.1}');
    expect(r.code).toBe(0);
    expect(cfn.commandCalls(DescribeStacksCommand).map((c) => c.args[0].input)).toEqual([{ StackName: 'fedrad-demo-orchestration' }]);
    const calls = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(1);
    expect(calls[0].stateMachineArn).toBe(MACHINE);
    expect(calls[0].name).toBe('r1');
    expect(JSON.parse(calls[0].input!)).toEqual({ rounds: 3, strategy: { type: 'trimmed-mean', beta: 0.1 }, runId: 'r1' });
    expect(r.stdout).toContain('sites      site-1, site-2, site-3 (a round needs 2 accepted)');
    expect(r.stdout).toMatch(/model {6}cnn-classifier \(input 64, seed 0\), sha256 [0-9a-f]{64}/);
    expect(r.stdout).toMatch(/aggregate {2}on lambda: /);
    expect(r.stdout).toContain(`started r1: ${EXECUTION('r1')}`);
  });

  it('starts a preset from the deployment config, flags overriding its fields; names a missing or invalid preset', async () => {
    stackDeployed();
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION('weekly-1'), startDate: new Date() });
    const dir = await mkdtemp(join(tmpdir(), 'fedrad-preset-'));
    try {
      const config = join(dir, 'fedrad.config.json');
      const base = { federation: 'demo', sites: [{ id: 'site-1', displayName: 'A' }, { id: 'site-2', displayName: 'B' }, { id: 'site-3', displayName: 'C' }] };
      await writeFile(config, JSON.stringify({ ...base, presets: { weekly: { rounds: 8, strategy: { type: 'median' }, minSites: 2 } } }));
      const r = await fedrad('run', 'start', ...WHERE, '--preset', 'weekly', '--config', config, '--run-id', 'weekly-1', '--rounds', '4');
      expect(r.stderr).toBe('');
      expect(JSON.parse(sfn.commandCalls(StartExecutionCommand)[0].args[0].input.input!)).toEqual({ rounds: 4, strategy: { type: 'median' }, minSites: 2, runId: 'weekly-1' });
      const missing = await fedrad('run', 'start', ...WHERE, '--preset', 'daily', '--config', config);
      expect(missing.stderr).toContain(`no preset 'daily' in ${config}; it has weekly`);
      await writeFile(config, JSON.stringify({ ...base, presets: { weekly: { rounds: 0 } } }));
      const invalid = await fedrad('run', 'start', ...WHERE, '--preset', 'weekly', '--config', config);
      expect(invalid.stderr).toMatch(/presets\.weekly\.rounds: Too small: expected number to be >=1/);
      expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses an input file that is not JSON without quoting it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedrad-input-'));
    try {
      await writeFile(join(dir, 'run.json'), '{"rounds": 3, "patient": "Jane Doe" ');
      const r = await fedrad('run', 'start', ...WHERE, '--input', join(dir, 'run.json'));
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^fedrad: --input must be a JSON run input \(a file or '\{\.\.\.\}'\): it is not valid JSON/);
      expect(r.stderr).not.toContain('Jane');
      expect(cfn.calls()).toHaveLength(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses Krum with too few sites before starting anything', async () => {
    stackDeployed();
    const r = await fedrad('run', 'start', ...WHERE, '--strategy', 'krum', '--strategy-options', '{"f":1}');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('krum with f=1 needs at least 5 accepted updates a round (n >= 2f + 3)');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('names the missing permission when access is denied', async () => {
    stackDeployed();
    sfn.on(StartExecutionCommand).rejects(new SFNServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: `User: arn:aws:iam::123456789012:user/ana is not authorized to perform: states:StartExecution on resource: ${MACHINE} because no identity-based policy allows the states:StartExecution action` }));
    const r = await fedrad('run', 'start', ...WHERE, '--run-id', 'r1');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`access denied: your AWS identity lacks the permission states:StartExecution on ${MACHINE}`);
  });

  it('says the stack is not deployed in this region', async () => {
    cfn.on(DescribeStacksCommand).rejects(new CloudFormationServiceException({ name: 'ValidationError', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Stack with id fedrad-demo-orchestration does not exist' }));
    const r = await fedrad('run', 'list', ...WHERE);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('stack fedrad-demo-orchestration is not deployed in eu-west-2: check the federation name and --region (AWS_REGION), or deploy it');
  });
});

describe('wrong region', () => {
  it('refuses a state machine ARN of another region before any call', async () => {
    const r = await fedrad('run', 'status', 'r1', '--state-machine-arn', MACHINE.replace('eu-west-2', 'us-east-1'), '--models-bucket', BUCKET, '--region', REGION);
    expect(r.stderr).toContain('the state machine is in us-east-1 but the region is eu-west-2');
    expect(sfn.calls()).toHaveLength(0);
  });

  it('names the region when its endpoint cannot be reached', async () => {
    cfn.on(DescribeStacksCommand).rejects(Object.assign(new Error('getaddrinfo ENOTFOUND cloudformation.eu-wset-2.amazonaws.com'), { code: 'ENOTFOUND' }));
    const r = await fedrad('run', 'list', '--federation', 'demo', '--region', 'eu-wset-2');
    expect(r.stderr).toContain("cannot reach AWS in region 'eu-wset-2'");
    expect(r.stderr).toContain('check --region or AWS_REGION');
  });
});

describe('fedrad run list|status|watch|stop|models|download', () => {
  it('list asks for recent executions and reads each run\'s lineage for its best metric', async () => {
    stackDeployed();
    bucketHoldsRun();
    sfn.on(ListExecutionsCommand).resolves({ executions: [{ executionArn: EXECUTION('r1'), stateMachineArn: MACHINE, name: 'r1', status: 'SUCCEEDED', startDate: new Date('2026-12-01T10:00:00Z') }] });
    const r = await fedrad('run', 'list', ...WHERE, '--limit', '5', '--json');
    expect(sfn.commandCalls(ListExecutionsCommand).map((c) => c.args[0].input)).toEqual([{ stateMachineArn: MACHINE, maxResults: 5 }]);
    expect(JSON.parse(r.stdout)).toEqual([{ runId: 'r1', status: 'succeeded', startedAt: '2026-12-01T10:00:00.000Z', roundsDone: 2, bestMetric: 0.8 }]);
  });

  it('status reads the round in flight from the child execution\'s history: queued, submitted, rejected with reason, failed', async () => {
    stackDeployed();
    bucketHoldsRun();
    const child = 'arn:aws:states:eu-west-2:123456789012:execution:fedrad-demo-round:abc';
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION('r1'), stateMachineArn: MACHINE, status: 'RUNNING', startDate: new Date('2026-12-01T10:00:00Z') });
    sfn.on(GetExecutionHistoryCommand, { executionArn: EXECUTION('r1') }).resolves({ events: history([
      { id: 1, type: 'ExecutionStarted' },
      { id: 5, previousEventId: 4, type: 'TaskStateExited', stateExitedEventDetails: { name: 'Prepare run', output: JSON.stringify({ runId: 'r1', rounds: 3, sites: [{ siteId: 'site-1' }, { siteId: 'site-2' }, { siteId: 'site-3' }] }) } },
      { id: 8, previousEventId: 7, type: 'TaskSubmitted', taskSubmittedEventDetails: { resourceType: 'states', resource: 'startExecution.sync:2', output: JSON.stringify({ ExecutionArn: child }) } },
    ]) });
    const task = (site: string) => ({ runId: 'r1', round: 2, site: { siteId: site } });
    // the third round (round index 2) in flight: site-1 submitted, site-2 rejected, site-3's job failed; pages of two
    sfn.on(GetExecutionHistoryCommand, { executionArn: child, nextToken: undefined }).resolves({ nextToken: 'p2', events: history([enter(3, 2, 'Train at site', task('site-1')), enter(4, 2, 'Train at site', task('site-2'))]) });
    sfn.on(GetExecutionHistoryCommand, { executionArn: child, nextToken: 'p2' }).resolves({ events: history([
      enter(5, 2, 'Train at site', task('site-3')),
      { id: 6, previousEventId: 3, type: 'TaskSubmitted', taskSubmittedEventDetails: { resourceType: 'batch', resource: 'submitJob.sync', output: JSON.stringify({ JobId: 'job-site-1', JobName: 'fedrad-site-1-r2' }) } },
      { id: 7, previousEventId: 4, type: 'TaskSucceeded', taskSucceededEventDetails: { resourceType: 'batch', resource: 'submitJob.sync' } },
      { id: 8, previousEventId: 7, type: 'TaskStateExited', stateExitedEventDetails: { name: 'Train at site' } },
      enter(9, 8, 'Validate update', { runId: 'r1', round: 2, siteId: 'site-2' }),
      { id: 10, previousEventId: 9, type: 'TaskStateExited', stateExitedEventDetails: { name: 'Validate update', output: JSON.stringify({ siteId: 'site-2', status: 'rejected', reasons: [{ code: 'norm_bound', message: 'update norm 91.2 above the bound 50' }] }) } },
      { id: 11, previousEventId: 5, type: 'TaskFailed', taskFailedEventDetails: { resourceType: 'batch', resource: 'submitJob.sync', error: 'States.TaskFailed', cause: JSON.stringify({ StatusReason: 'Essential container in task exited' }) } },
    ]) });
    // Batch has placed site-1's job: it is training
    batch.on(DescribeJobsCommand).resolves({ jobs: [{ jobId: 'job-site-1', jobName: 'fedrad-site-1-r2', jobQueue: 'q', jobDefinition: 'd', status: 'RUNNING', startedAt: 1_700_000_010_000 }] });
    const r = await fedrad('run', 'status', 'r1', ...WHERE, '--json');
    expect(r.stderr).toBe('');
    expect(batch.commandCalls(DescribeJobsCommand).map((c) => c.args[0].input)).toEqual([{ jobs: ['job-site-1'] }]);
    expect(sfn.commandCalls(DescribeExecutionCommand).map((c) => c.args[0].input)).toEqual([{ executionArn: EXECUTION('r1') }]);
    expect(sfn.commandCalls(GetExecutionHistoryCommand).map((c) => c.args[0].input)).toEqual([
      { executionArn: EXECUTION('r1'), maxResults: 1000, nextToken: undefined },
      { executionArn: child, maxResults: 1000, nextToken: undefined },
      { executionArn: child, maxResults: 1000, nextToken: 'p2' },
    ]);
    const view = JSON.parse(r.stdout) as RunView;
    expect(view).toMatchObject({ runId: 'r1', status: 'running', roundsPlanned: 3, best: { round: 1, metric: 0.8 } });
    expect(view.rounds.map((x) => [x.round, x.done])).toEqual([[1, true], [2, true], [3, false]]);
    expect(view.rounds[2].sites).toEqual({
      'site-1': { state: 'training', startedAt: 1_700_000_003_000 },
      'site-2': { state: 'rejected', detail: 'norm_bound: update norm 91.2 above the bound 50', seconds: 3 },
      'site-3': { state: 'failed', detail: 'States.TaskFailed: Essential container in task exited', seconds: 6 },
    });
    // without batch:DescribeJobs the site stays 'runnable' and the rest of the view is the same
    batch.reset();
    batch.on(DescribeJobsCommand).rejects(new Error('AccessDeniedException'));
    const denied = JSON.parse((await fedrad('run', 'status', 'r1', ...WHERE, '--json')).stdout) as RunView;
    expect(denied.rounds[2].sites['site-1'].state).toBe('runnable');
    expect(denied.rounds[2].sites['site-2'].state).toBe('rejected');
  });

  it('watch reconnects after a network error and exits with the run\'s status code', async () => {
    stackDeployed();
    bucketHoldsRun();
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    sfn.on(DescribeExecutionCommand)
      .rejectsOnce(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))
      .resolvesOnce({ executionArn: EXECUTION('r1'), stateMachineArn: MACHINE, status: 'RUNNING', startDate: new Date() })
      .resolves({ executionArn: EXECUTION('r1'), stateMachineArn: MACHINE, status: 'FAILED', startDate: new Date(), stopDate: new Date(), error: 'QuorumNotReachedError', cause: 'round 2 of run r1: 1 update(s) accepted' });
    const r = await fedrad('run', 'watch', 'r1', ...WHERE, '--interval', '1');
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(3);
    expect(r.stdout).toContain(`reconnecting (1): states:DescribeExecution on ${EXECUTION('r1')} failed: Error: socket hang up`);
    expect(r.stdout).toContain('failed: QuorumNotReachedError: round 2 of run r1');
    expect(r.exitCode).toBe(3);
  });

  it('status of an unknown run says so', async () => {
    stackDeployed();
    sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ $metadata: {}, message: `Execution Does Not Exist: '${EXECUTION('nope')}'` }));
    const r = await fedrad('run', 'status', 'nope', ...WHERE);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`no run with that id: ${EXECUTION('nope')} does not exist in eu-west-2; \`fedrad run list\` shows the federation's runs`);
  });

  it('stop sends the reason as the execution\'s cause', async () => {
    stackDeployed();
    sfn.on(StopExecutionCommand).resolves({ stopDate: new Date() });
    const r = await fedrad('run', 'stop', 'r1', ...WHERE, '--reason', 'site-2 sent the wrong series');
    expect(r.code).toBe(0);
    expect(sfn.commandCalls(StopExecutionCommand).map((c) => c.args[0].input)).toEqual([{ executionArn: EXECUTION('r1'), error: 'StoppedByResearcher', cause: 'site-2 sent the wrong series' }]);
  });

  it('models marks the best; download checks the hash; S3 access denied names the S3 permission', async () => {
    stackDeployed();
    bucketHoldsRun();
    const m = JSON.parse((await fedrad('run', 'models', 'r1', ...WHERE, '--json')).stdout) as { models: Array<{ round: number; best: boolean; metric?: number }> };
    expect(m.models).toEqual([
      { round: 0, sha256: sha256(model0), metric: 0.6, best: false },
      { round: 1, sha256: sha256(model1), metric: 0.8, best: true },
      { round: 2, sha256: sha256(model2), best: false },
    ]);
    const dir = await mkdtemp(join(tmpdir(), 'fedrad-dl-'));
    try {
      const file = join(dir, 'best.onnx');
      const r = await fedrad('run', 'download', 'r1', ...WHERE, '--best', '--out', file);
      expect(r.stderr).toBe('');
      expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key)).toContain('runs/r1/rounds/0001/global.onnx');
      expect(sha256(await readFile(file))).toBe(sha256(model1));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    s3.reset();
    s3.on(ListObjectsV2Command).rejects(new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'Access Denied' }));
    const denied = await fedrad('run', 'models', 'r1', ...WHERE);
    expect(denied.stderr).toContain(`access denied: your AWS identity lacks the permission s3:ListBucket on s3://${BUCKET}/runs/r1/rounds/`);
    s3.on(HeadObjectCommand).resolves({});
  });

  it('says when there are no credentials (mocked and for real)', async () => {
    cfn.on(DescribeStacksCommand).rejects(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
    const r = await fedrad('run', 'list', ...WHERE);
    expect(r.stderr).toContain('no AWS credentials found: set AWS_PROFILE');
    const env = { PATH: process.env.PATH, HOME: tmpdir(), AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_EC2_METADATA_DISABLED: 'true' };
    const real = await promisify(execFile)('node', [join(import.meta.dirname, '../../../bin/fedrad.mjs'), 'run', 'list', ...WHERE], { env }).catch((e: { code: number; stderr: string }) => e);
    expect((real as { code: number }).code).toBe(2);
    expect((real as { stderr: string }).stderr.trim()).toBe('fedrad: no AWS credentials found: set AWS_PROFILE (and run `aws sso login` for an SSO profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then try again');
  });
});
