// Scheduled runs, notifications, alarms and immutable lineage in the synthesized stacks.
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '../../infra/config.js';
import { buildFedrad, type FedradStacks } from '../../infra/fedrad.js';
import { RunInputSchema } from '../../lib/schemas/run-input.js';

const CONTEXT = { 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:defaultCrossStackReferences': 'strong', '@aws-cdk/aws-batch:defaultToAL2023': true };
const base = { federation: 'ops', sites: ['a', 'b', 'c'].map((id) => ({ id, displayName: id })) };

let stacks: FedradStacks;
let orchestration: Template;
beforeAll(() => {
  const app = new App({ context: CONTEXT });
  stacks = buildFedrad(app, parseDeploymentConfig({ ...base, schedule: { expression: 'cron(0 2 ? * SUN *)', timezone: 'Europe/London', runInput: { rounds: 3, minSites: 2, strategy: { type: 'trimmed-mean', beta: 0.2 } } }, notificationEmail: 'ml-ops@example.org', modelRetentionDays: 365 }, 'ops'));
  orchestration = Template.fromStack(stacks.orchestration);
});

describe('scheduled runs', () => {
  it('start the run state machine with an input the run-input schema accepts, in the configured timezone, with a dead-letter queue', () => {
    const schedules = Object.values(orchestration.findResources('AWS::Scheduler::Schedule'));
    expect(schedules).toHaveLength(1);
    const p = schedules[0].Properties;
    expect(p.ScheduleExpression).toBe('cron(0 2 ? * SUN *)');
    expect(p.ScheduleExpressionTimezone).toBe('Europe/London');
    const runMachineId = stacks.orchestration.getLogicalId(stacks.orchestration.workflow.runMachine.node.defaultChild as never);
    expect(p.Target.Arn).toEqual({ Ref: runMachineId });
    expect(p.Target.DeadLetterConfig.Arn).toBeDefined();
    const input = RunInputSchema.parse(JSON.parse(p.Target.Input));
    expect(input).toMatchObject({ rounds: 3, minSites: 2, strategy: { type: 'trimmed-mean', beta: 0.2 } });
    expect(input.runId).toBeUndefined(); // each execution names its own run
  });

  it('fail the synth when the stored input is not a valid run input, naming the field', () => {
    const app = new App({ context: CONTEXT });
    const bad = parseDeploymentConfig({ ...base, schedule: { expression: 'rate(7 days)', runInput: { rounds: 0 } } }, 'ops');
    expect(() => buildFedrad(app, bad)).toThrow(/schedule\.runInput is not a valid run input: rounds: Too small/);
  });
});

describe('notifications and alarms', () => {
  it('send run and round outcomes to a KMS-encrypted, TLS-only topic with the configured email', () => {
    orchestration.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    orchestration.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ml-ops@example.org' });
    orchestration.hasResourceProperties('AWS::SNS::TopicPolicy', { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) } });
    const rules = Object.values(orchestration.findResources('AWS::Events::Rule')).map((r) => r.Properties.EventPattern.detail.status);
    expect(rules).toEqual(expect.arrayContaining([['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'], ['FAILED', 'TIMED_OUT']]));
  });

  it('alarm on failed runs and rounds and on every function\'s errors, into the topic', () => {
    const alarms = Object.values(orchestration.findResources('AWS::CloudWatch::Alarm'));
    const metrics = alarms.map((a) => `${a.Properties.Namespace}/${a.Properties.MetricName}`);
    expect(metrics.filter((m) => m === 'AWS/States/ExecutionsFailed')).toHaveLength(2);
    expect(metrics.filter((m) => m === 'AWS/Lambda/Errors')).toHaveLength(Object.keys(stacks.orchestration.functions).length);
    for (const a of alarms) expect(a.Properties.AlarmActions).toHaveLength(1);
    expect(Object.keys(orchestration.findResources('AWS::CloudWatch::Dashboard'))).toHaveLength(1);
  });

  it('cancel a training job stuck RUNNABLE after the configured time, and alarm when the queue is blocked', () => {
    const training = Template.fromStack(stacks.training);
    // the GPU training queue (spot, then on-demand); the Fargate aggregation queue has no capacity to wait for
    const queues = Object.values(training.findResources('AWS::Batch::JobQueue')).filter((q) => q.Properties.ComputeEnvironmentOrder.length === 2);
    expect(queues).toHaveLength(1);
    const actions = queues[0].Properties.JobStateTimeLimitActions as Array<Record<string, unknown>>;
    expect(actions.map((a) => a.Reason).sort()).toEqual(['CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY', 'MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE', 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT']);
    for (const a of actions) expect(a).toMatchObject({ Action: 'CANCEL', State: 'RUNNABLE', MaxTimeSeconds: 60 * 60 });
    // the blocked-queue rule watches this queue only, and the alarm counts its matches
    const rules = orchestration.findResources('AWS::Events::Rule', { Properties: { EventPattern: { 'detail-type': ['Batch Job Queue Blocked'] } } });
    const [ruleId, rule] = Object.entries(rules)[0];
    expect(Object.keys(rules)).toHaveLength(1);
    expect(JSON.stringify(rule.Properties.EventPattern.detail.jobQueue)).toContain('Queue');
    expect(rule.Properties.Targets).toHaveLength(1);
    const stuck = Object.values(orchestration.findResources('AWS::CloudWatch::Alarm')).filter((a) => a.Properties.MetricName === 'MatchedEvents');
    expect(stuck).toHaveLength(1);
    expect(stuck[0].Properties.Dimensions).toEqual([{ Name: 'RuleName', Value: { Ref: ruleId } }]);
  });

  it('lets the config set how long a job may wait RUNNABLE, within Batch bounds', () => {
    const app = new App({ context: CONTEXT });
    const s = buildFedrad(app, parseDeploymentConfig({ ...base, federation: 'ops2', runnableTimeoutMinutes: 180 }, 'ops2'));
    const queue = Object.values(Template.fromStack(s.training).findResources('AWS::Batch::JobQueue'))[0];
    expect(queue.Properties.JobStateTimeLimitActions[0].MaxTimeSeconds).toBe(180 * 60);
    expect(() => parseDeploymentConfig({ ...base, runnableTimeoutMinutes: 5 }, 'cfg')).toThrow(/runnableTimeoutMinutes/);
  });
});

describe('dashboard', () => {
  it('graphs the training duration of every site', () => {
    const dashboard = Object.values(orchestration.findResources('AWS::CloudWatch::Dashboard'))[0];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const site of ['a', 'b', 'c']) expect(body).toContain(`TrainingSeconds\\",\\"service\\",\\"fedrad\\",\\"site\\",\\"${site}`);
  });
});

describe('lineage', () => {
  it('is immutable: the models bucket keeps every version under Object Lock in governance mode', () => {
    const data = Template.fromStack(stacks.data);
    data.hasResourceProperties('AWS::S3::Bucket', { ObjectLockEnabled: true, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 365 } } }, BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() }, BucketKeyEnabled: true }] } });
  });
});
