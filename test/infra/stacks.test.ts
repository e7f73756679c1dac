// Security and workflow properties of the synthesized stacks (no hashed logical ids asserted).
import { App, type CfnResource } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildFedrad, type FedradStacks } from '../../infra/fedrad.js';
import { parseDeploymentConfig } from '../../infra/config.js';
import { ROUND_STATES, RUN_STATES } from '../../lib/workflow/state-names.js';

const config = parseDeploymentConfig(
  { federation: 'test', sites: ['alpha', 'beta', 'gamma'].map((id) => ({ id, displayName: `Hospital ${id}` })), trainingConcurrency: 2 },
  'test config',
);

let stacks: FedradStacks;
let data: Template;
let training: Template;
let orchestration: Template;
const bucketId = new Map<string, string>();

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

function statementsOf(template: Template, roleFilter: (roleRef: string) => boolean): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies).flatMap((p) => {
    const roles = JSON.stringify(p.Properties.Roles);
    return roleFilter(roles) ? (p.Properties.PolicyDocument.Statement as Statement[]) : [];
  });
}

const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resources = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).map((r) => JSON.stringify(r));
const reads = (s: Statement) => actions(s).some((a) => a === 's3:GetObject*' || a === 's3:GetObject' || a === 's3:*');
/** An object-level resource (bucket ARN + path); the bare bucket ARN only serves List/GetBucket. */
const objectPath = (r: string) => (r.includes('Fn::Join') ? r : undefined);

beforeAll(() => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:defaultCrossStackReferences': 'strong', '@aws-cdk/aws-batch:defaultToAL2023': true } });
  stacks = buildFedrad(app, config);
  data = Template.fromStack(stacks.data);
  training = Template.fromStack(stacks.training);
  orchestration = Template.fromStack(stacks.orchestration);
  for (const [id, s] of stacks.data.sites) bucketId.set(id, stacks.data.getLogicalId(s.bucket.node.defaultChild as CfnResource));
});

describe('data stack', () => {
  it('gives every site its own bucket, encrypted with its own rotating KMS key, versioned and private', () => {
    for (const [id, storage] of stacks.data.sites) {
      const keyId = stacks.data.getLogicalId(storage.key!.node.defaultChild as CfnResource);
      const bucket = data.findResources('AWS::S3::Bucket')[bucketId.get(id)!];
      expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toEqual({ SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] } });
      expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      expect(bucket.Properties.LoggingConfiguration).toBeDefined();
      expect(data.findResources('AWS::KMS::Key')[keyId].Properties.EnableKeyRotation).toBe(true);
    }
    const keyOf = (id: string) => JSON.stringify(data.findResources('AWS::S3::Bucket')[bucketId.get(id)!].Properties.BucketEncryption);
    expect(new Set([...stacks.data.sites.keys()].map(keyOf)).size).toBe(stacks.data.sites.size); // no two sites share a key
  });

  it('denies every request to every bucket that is not over TLS', () => {
    const buckets = Object.keys(data.findResources('AWS::S3::Bucket'));
    const policies = Object.values(data.findResources('AWS::S3::BucketPolicy'));
    for (const b of buckets) {
      const policy = policies.find((p) => JSON.stringify(p.Properties.Bucket).includes(b));
      expect(policy, `bucket ${b} has a policy`).toBeDefined();
      expect(policy!.Properties.PolicyDocument.Statement).toContainEqual(expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
    }
  });

  it('refuses uploads to site and models buckets that ask for another encryption or another key', () => {
    const policies = Object.values(data.findResources('AWS::S3::BucketPolicy'));
    const modelsId = stacks.data.getLogicalId(stacks.data.modelsBucket.node.defaultChild as CfnResource);
    for (const b of [...bucketId.values(), modelsId]) {
      const statements = policies.find((p) => JSON.stringify(p.Properties.Bucket).includes(b))!.Properties.PolicyDocument.Statement;
      expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Action: 's3:PutObject', Condition: { StringNotEqualsIfExists: { 's3:x-amz-server-side-encryption': 'aws:kms' } } }));
      const otherKey = statements.find((st: { Sid?: string }) => st.Sid === 'DenyUploadsWithAnotherKey');
      expect(otherKey, b).toBeDefined();
      expect(JSON.stringify(otherKey.Condition)).toMatch(/Key\w*", ?"Arn"/);
    }
  });
});

describe('training stack', () => {
  it('has no route out of the VPC: isolated subnets, and an endpoint for every AWS service the jobs and functions use', () => {
    expect(Object.keys(training.findResources('AWS::EC2::InternetGateway'))).toEqual([]);
    expect(Object.keys(training.findResources('AWS::EC2::NatGateway'))).toEqual([]);
    const endpoints = Object.values(training.findResources('AWS::EC2::VPCEndpoint')).map((e) => JSON.stringify(e.Properties.ServiceName));
    for (const service of ['.s3', '.ecr.api', '.ecr.dkr', '.ecs', '.ecs-agent', '.ecs-telemetry', '.logs', '.sts', '.kms', '.xray', '.states']) {
      expect(endpoints.some((e) => e.includes(`${service}"`)), service).toBe(true);
    }
    training.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL' });
  });

  it("gives each site's job role its own data and updates, and no other site's bucket", () => {
    for (const [id, job] of stacks.training.jobs) {
      const roleId = stacks.training.getLogicalId(job.role.node.defaultChild as CfnResource);
      const statements = statementsOf(training, (roles) => roles.includes(roleId));
      const s3Resources = statements.filter((s) => actions(s).some((a) => a.startsWith('s3:'))).flatMap(resources).join(' ');
      expect(s3Resources).toContain(bucketId.get(id)!);
      for (const other of bucketId.keys()) if (other !== id) expect(s3Resources).not.toContain(bucketId.get(other)!);
      const readsOwn = statements.filter(reads).flatMap(resources).filter((r) => r.includes(bucketId.get(id)!)).flatMap((r) => objectPath(r) ?? []);
      expect(readsOwn.join(' ')).toMatch(/\/data\/\*/);
      expect(readsOwn.every((r) => /\/(data\/\*|updates\/runs\/\*\/rounds\/\*\/(update\.safetensors|manifest\.json|refusal\.json))"/.test(r))).toBe(true);
    }
  });

  it('pins each site to its own job definition, with a GPU, a timeout and retries on spot reclaim', () => {
    const defs = Object.values(training.findResources('AWS::Batch::JobDefinition')).filter((d) => !(d.Properties.PlatformCapabilities ?? []).includes('FARGATE'));
    expect(defs).toHaveLength(3);
    for (const d of defs) {
      expect(d.Properties.ContainerProperties.ResourceRequirements).toContainEqual({ Type: 'GPU', Value: '1' });
      expect(d.Properties.Timeout.AttemptDurationSeconds).toBe(120 * 60);
      expect(JSON.stringify(d.Properties.RetryStrategy)).toContain('Host EC2*');
    }
    training.hasResourceProperties('AWS::Batch::ComputeEnvironment', Match.objectLike({ ComputeResources: Match.objectLike({ Type: 'SPOT', MinvCpus: 0, Ec2Configuration: [{ ImageType: 'ECS_AL2023_NVIDIA' }] }) }));
    training.hasResourceProperties('AWS::Batch::JobQueue', { ComputeEnvironmentOrder: Match.arrayWith([Match.objectLike({ Order: 1 }), Match.objectLike({ Order: 2 })]) });
  });
});

describe('orchestration stack', () => {
  it("lets no central role read any site's data/", () => {
    const statements = statementsOf(orchestration, () => true);
    const siteReads = statements.filter(reads).flatMap(resources).filter((r) => [...bucketId.values()].some((b) => r.includes(b))).flatMap((r) => objectPath(r) ?? []);
    expect(siteReads.length).toBeGreaterThan(0); // the gate and the aggregation read updates
    for (const r of siteReads) expect(r).toMatch(/\/updates\/\*"/);
    expect(statements.flatMap(resources).some((r) => [...bucketId.values()].some((b) => r.includes(b)) && r.includes('/data/'))).toBe(false);
  });

  it('trains at each site in a bounded Map with retries of transient Batch errors and a catch per site', () => {
    const machines = orchestration.findResources('AWS::StepFunctions::StateMachine');
    const round = Object.values(machines).map((m) => JSON.stringify(m.Properties.DefinitionString)).find((d) => d.includes(ROUND_STATES.map))!;
    const asl = JSON.parse(JSON.parse(round)['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'x')).join(''));
    const map = asl.States[ROUND_STATES.map];
    expect(map.MaxConcurrency).toBe(2);
    const train = map.ItemProcessor.States[ROUND_STATES.train];
    expect(train.Retry[0].ErrorEquals).toEqual(expect.arrayContaining(['Batch.AWSBatchException', 'Batch.ServerException']));
    expect(train.Catch[0]).toMatchObject({ ErrorEquals: ['States.ALL'], Next: ROUND_STATES.recordFailure });
    expect(map.ItemProcessor.States[ROUND_STATES.validate].Catch[0].Next).toBe(ROUND_STATES.recordFailure);
    expect(train.Retry.flatMap((r: { ErrorEquals: string[] }) => r.ErrorEquals)).not.toContain('States.TaskFailed'); // a failed job is not retried by the workflow
    expect(asl.States[ROUND_STATES.aggregate]).toBeDefined();
    const run = Object.values(machines).map((m) => JSON.stringify(m.Properties.DefinitionString)).find((d) => d.includes(RUN_STATES.prepare))!;
    expect(run).toContain('startExecution.sync:2');
  });

  it("aggregates in the function unless the run placed it on CPU Batch: stage, job, load", () => {
    const machines = orchestration.findResources('AWS::StepFunctions::StateMachine');
    const round = Object.values(machines).map((m) => JSON.stringify(m.Properties.DefinitionString)).find((d) => d.includes(ROUND_STATES.map))!;
    const asl = JSON.parse(JSON.parse(round)['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'x')).join(''));
    expect(asl.States[ROUND_STATES.map].Next).toBe(ROUND_STATES.placement);
    const choice = asl.States[ROUND_STATES.placement];
    expect(choice.Default).toBe(ROUND_STATES.aggregate);
    expect(choice.Choices).toHaveLength(1);
    expect(JSON.stringify(choice.Choices[0])).toContain('"StringEquals":"batch"');
    expect(choice.Choices[0].Next).toBe(ROUND_STATES.stageAggregation);
    expect(asl.States[ROUND_STATES.stageAggregation]).toMatchObject({ ResultPath: '$.staged', Next: ROUND_STATES.aggregateOnBatch });
    const job = asl.States[ROUND_STATES.aggregateOnBatch];
    expect(job.Resource).toContain('batch:submitJob.sync');
    expect(job.TimeoutSeconds).toBeGreaterThan(0);
    expect(job.Parameters.ContainerOverrides.Environment.map((e: { Name: string }) => e.Name).sort()).toEqual(['FEDRAD_AGGREGATION_INPUT_KEY', 'FEDRAD_MODELS_BUCKET']);
    expect(job.Next).toBe(ROUND_STATES.loadAggregation);
    expect(asl.States[ROUND_STATES.loadAggregation].End).toBe(true);
    expect(asl.States[ROUND_STATES.aggregate].End).toBe(true);
  });

  it('runs the Batch aggregation on Fargate in the isolated subnets, reading updates/ and never data/', () => {
    const fargate = Object.values(training.findResources('AWS::Batch::JobDefinition')).filter((d) => (d.Properties.PlatformCapabilities ?? []).includes('FARGATE'));
    expect(fargate).toHaveLength(1);
    const c = fargate[0].Properties.ContainerProperties;
    expect(c.NetworkConfiguration).toEqual({ AssignPublicIp: 'DISABLED' });
    expect(c.ReadonlyRootFilesystem).toBe(true);
    expect(c.ResourceRequirements).toEqual(expect.arrayContaining([{ Type: 'VCPU', Value: '4' }, { Type: 'MEMORY', Value: String(30 * 1024) }]));
    const roleId = stacks.training.getLogicalId(stacks.training.aggregation.role.node.defaultChild as CfnResource);
    const statements = statementsOf(training, (roles) => roles.includes(roleId));
    const siteObjects = statements.flatMap(resources).filter((r) => [...bucketId.values()].some((b) => r.includes(b))).flatMap((r) => objectPath(r) ?? []);
    expect(siteObjects.length).toBe(bucketId.size);
    for (const r of siteObjects) expect(r).toMatch(/\/updates\/\*"/);
    expect(statements.filter((st) => actions(st).some((a) => a.startsWith('s3:Put'))).flatMap(resources).join(' ')).not.toMatch(/Site/);
    training.hasResourceProperties('AWS::Batch::ComputeEnvironment', Match.objectLike({ ComputeResources: Match.objectLike({ Type: 'FARGATE' }) }));
  });
});
