// Where a site trains, checked in the synthesized templates: a site-account site's Batch capacity
// lives in the hospital's stack and the central round machine reaches it only through a role there
// (no central principal can read that site's data/); an on-premises site has a task queue, a
// waitForTaskToken task with a heartbeat, and an agent role limited to its queue, its answers and
// its updates/. cdk-nag stays clean with every stack, the site stack included.
import { App, type CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidDeploymentConfigError, parseDeploymentConfig } from '../../infra/config.js';
import { buildFedrad, type FedradStacks } from '../../infra/fedrad.js';
import { type PackReport, runNag } from '../../infra/nag.js';
import { roundMachineName, roundMachineRoleName, siteAccountBucketName, siteAgentRoleName, siteJobRoleName, siteSubmitRoleName } from '../../infra/naming.js';
import { ROUND_STATES } from '../../lib/workflow/state-names.js';

const CONTEXT = { 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:defaultCrossStackReferences': 'strong', '@aws-cdk/aws-batch:defaultToAL2023': true };
const CENTRAL = '111111111111';
const HOSPITAL = '333333333333';
const TRUST_ANCHOR = 'arn:aws:rolesanywhere:eu-west-2:111111111111:trust-anchor/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const raw = {
  federation: 'modes',
  centralAccount: CENTRAL,
  region: 'eu-west-2',
  agentHeartbeatSeconds: 120,
  sites: [
    { id: 'central', displayName: 'Central site' },
    { id: 'guys', displayName: "Guy's", account: HOSPITAL, compute: 'site-account' },
    { id: 'leeds', displayName: 'Leeds', compute: 'on-premises', agentTrustAnchorArn: TRUST_ANCHOR },
  ],
};
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource?: unknown; Principal?: unknown; Condition?: Record<string, Record<string, unknown>> };
const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
const actions = (s: Statement) => list(s.Action);

let stacks: FedradStacks;
let site: Template;
let templates: Array<[string, Template]>;
let orchestration: Template;
let reports: PackReport[];
beforeAll(() => {
  const app = new App({ context: CONTEXT });
  stacks = buildFedrad(app, parseDeploymentConfig(raw, 'modes'));
  site = Template.fromStack(stacks.siteAccounts.get('guys')!);
  orchestration = Template.fromStack(stacks.orchestration);
  templates = [['data', Template.fromStack(stacks.data)], ['training', Template.fromStack(stacks.training)], ['orchestration', orchestration]];
  app.synth();
  reports = runNag(app);
});

const policiesOf = (t: Template, roleLogicalId: string): Statement[] =>
  Object.values(t.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties.Roles).includes(roleLogicalId)).flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
const roleId = (t: Template, name: string) => Object.keys(t.findResources('AWS::IAM::Role', { Properties: { RoleName: name } }))[0];

/** The round machine's ASL, with CloudFormation joins flattened to text. */
function roundDefinition(): Record<string, unknown> {
  const machine = Object.values(orchestration.findResources('AWS::StepFunctions::StateMachine', { Properties: { StateMachineName: roundMachineName('modes') } }))[0];
  expect(machine, 'the round machine has the name the hospitals trust').toBeDefined();
  const def = machine.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] };
  const text = def['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : JSON.stringify(p).replace(/"/g, "'"))).join('');
  return JSON.parse(text);
}
const mapStates = (def: Record<string, unknown>) => ((def.States as Record<string, { ItemProcessor: { States: Record<string, Record<string, unknown>> } }>)[ROUND_STATES.map]).ItemProcessor.States;

describe('deployment config: compute per site', () => {
  it('defaults to central and refuses impossible placements with a clear message', () => {
    expect(parseDeploymentConfig({ federation: 'f', sites: [{ id: 'a', displayName: 'A' }] }, 'x').sites[0].compute).toBe('central');
    expect(() => parseDeploymentConfig({ federation: 'f', sites: [{ id: 'a', displayName: 'A', compute: 'site-account' }] }, 'cfg.json')).toThrow(/cfg\.json: sites\.0\.account: compute "site-account" trains in the hospital's own AWS account: set account to its 12-digit id/);
    expect(() => parseDeploymentConfig({ federation: 'f', centralAccount: CENTRAL, region: 'eu-west-2', sites: [{ id: 'a', displayName: 'A', compute: 'on-premises', account: HOSPITAL }] }, 'cfg.json')).toThrow(/sites\.0\.account: compute "on-premises" keeps the data on the hospital's machine/);
    expect(() => parseDeploymentConfig({ federation: 'f', sites: [{ id: 'a', displayName: 'A', compute: 'gpu' }] }, 'cfg.json')).toThrow(InvalidDeploymentConfigError);
    expect(() => parseDeploymentConfig({ federation: 'f', sites: [{ id: 'a', displayName: 'A', compute: 'gpu' }] }, 'cfg.json')).toThrow(/sites\.0\.compute: .*"central"\|"site-account"\|"on-premises"/);
  });
});

describe('site-account: training in the hospital account', () => {
  it('puts a GPU compute environment (spot, then on-demand), a queue and the job definition in the hospital stack', () => {
    expect(stacks.siteAccounts.get('guys')!.account).toBe(HOSPITAL);
    const envs = Object.values(site.findResources('AWS::Batch::ComputeEnvironment')).map((e) => e.Properties.ComputeResources);
    expect(envs.map((e) => e.Type).sort()).toEqual(['EC2', 'SPOT']);
    for (const e of envs) {
      expect(e.MinvCpus).toBe(0);
      expect(JSON.stringify(e.Ec2Configuration)).toContain('ECS_AL2023_NVIDIA');
    }
    site.resourceCountIs('AWS::Batch::JobQueue', 1);
    const [def] = Object.values(site.findResources('AWS::Batch::JobDefinition'));
    expect(def.Properties.ContainerProperties.ResourceRequirements).toContainEqual({ Type: 'GPU', Value: '1' });
    expect(JSON.stringify(def.Properties.ContainerProperties.Environment)).toContain('FEDRAD_SITE_POLICY_KEY');
    // its own VPC: isolated subnets, flow logs, endpoints
    site.resourceCountIs('AWS::EC2::FlowLog', 1);
    expect(Object.keys(site.findResources('AWS::EC2::VPCEndpoint')).length).toBeGreaterThan(5);
    expect(Object.keys(site.findResources('AWS::EC2::NatGateway'))).toEqual([]);
  });

  it("has a job role that reads only its own data/, writes only its own updates/ and reads global models", () => {
    const statements = policiesOf(site, roleId(site, siteJobRoleName('modes', 'guys')));
    const s3 = statements.filter((s) => actions(s).some((a) => a.startsWith('s3:')));
    const objects = s3.flatMap((s) => list(s.Resource)).map((r) => JSON.stringify(r)).filter((r) => r.includes('/'));
    for (const r of objects) expect(r).toMatch(/\/data\/\*|\/updates\/runs\/\*\/rounds\/\*\/(update\.safetensors|manifest\.json|refusal\.json)|\/runs\/\*\/rounds\/\*\/global\.onnx|\/site-policy\/site-policy\.json/);
    const writes = s3.filter((s) => actions(s).some((a) => a.startsWith('s3:PutObject')));
    expect(writes.flatMap((s) => list(s.Resource)).map((r) => JSON.stringify(r)).join(' ')).toMatch(/\/updates\/runs\/\*\/rounds\/\*\/update\.safetensors/);
    for (const r of writes.flatMap((s) => list(s.Resource)).map((r) => JSON.stringify(r))) expect(r).toMatch(/\/updates\/runs\/\*\/rounds\/\*\/(update\.safetensors|manifest\.json|refusal\.json)"/);
  });

  it('lets only the central round machine role assume the submit role, with the machine as external id, for that queue and job definition', () => {
    const [role] = Object.values(site.findResources('AWS::IAM::Role', { Properties: { RoleName: siteSubmitRoleName('modes', 'guys') } }));
    const trust = role.Properties.AssumeRolePolicyDocument.Statement as Statement[];
    expect(trust).toHaveLength(1);
    expect(JSON.stringify(trust[0].Principal)).toContain(`:iam::${CENTRAL}:role/${roundMachineRoleName('modes')}`);
    expect(JSON.stringify(trust[0].Condition?.StringEquals?.['sts:ExternalId'])).toContain(`:states:eu-west-2:${CENTRAL}:stateMachine:${roundMachineName('modes')}`);
    const allowed = policiesOf(site, roleId(site, siteSubmitRoleName('modes', 'guys'))).flatMap(actions).sort();
    expect(allowed).toEqual(['batch:DescribeJobs', 'batch:SubmitJob', 'batch:TerminateJob']);
    // and no other role of this stack trusts anything of the central account
    const trusting = Object.values(site.findResources('AWS::IAM::Role')).filter((r) => JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes(CENTRAL));
    expect(trusting.map((r) => r.Properties.RoleName)).toEqual([siteSubmitRoleName('modes', 'guys')]);
    expect(site.findResources('AWS::IAM::Role', { Properties: { RoleName: `fedrad-modes-guys-site-access` } })).toEqual({});
  });

  it("submits the site's job from the round machine with Credentials.RoleArn, and assumes exactly the submit roles", () => {
    const states = mapStates(roundDefinition());
    const task = states[ROUND_STATES.trainInAccount];
    expect(task.Resource).toContain(':states:::batch:submitJob.sync');
    expect(task.Credentials).toEqual({ 'RoleArn.$': '$.site.submitRoleArn' });
    expect(states[ROUND_STATES.wherePlaced].Type).toBe('Choice');
    for (const name of [ROUND_STATES.train, ROUND_STATES.trainInAccount, ROUND_STATES.askAgent]) expect(states[name].Next, name).toBe(ROUND_STATES.validate);
    const machineRole = roleId(orchestration, roundMachineRoleName('modes'));
    const assume = policiesOf(orchestration, machineRole).filter((s) => actions(s).includes('sts:AssumeRole'));
    expect(assume).toHaveLength(1);
    expect(list(assume[0].Resource).map((r) => JSON.stringify(r))).toEqual([expect.stringContaining(`:iam::${HOSPITAL}:role/${siteSubmitRoleName('modes', 'guys')}`)]);
    // and the site's ref carries the hospital's queue, job definition and role
    const sites = JSON.stringify(orchestration.toJSON()).match(/FEDRAD_SITES[^}]*}/)?.[0] ?? '';
    expect(JSON.stringify(orchestration.toJSON())).toContain(`job-queue/fedrad-modes-guys-training`);
    expect(sites.length).toBeGreaterThan(0);
  });

  it("leaves no central-account principal able to read that site's data/", () => {
    const bucket = siteAccountBucketName('modes', 'guys', HOSPITAL, 'eu-west-2');
    for (const [name, t] of templates) {
      const statements = Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
      const onBucket = statements.filter((s) => JSON.stringify(s.Resource ?? '').includes(bucket));
      for (const s of onBucket) expect(JSON.stringify(s.Resource), `${name}: ${JSON.stringify(s)}`).not.toMatch(/data\//);
      // nothing central may assume a role that reads data/ in that account (the old site-access role)
      const assumes = statements.filter((s) => actions(s).includes('sts:AssumeRole')).flatMap((s) => list(s.Resource)).map((r) => JSON.stringify(r));
      for (const r of assumes.filter((x) => x.includes(HOSPITAL))) expect(r, name).toContain(siteSubmitRoleName('modes', 'guys'));
    }
    // in the hospital stack, only its own job role (and its break-glass role) is granted data/, and the bucket policy gives the centre updates/ only
    const grantedData = Object.values(site.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties.PolicyDocument).includes('/data/*'));
    expect(grantedData).toHaveLength(2);
    expect(grantedData.map((p) => JSON.stringify(p.Properties.Roles))).toEqual(expect.arrayContaining([expect.stringContaining('BreakGlass'), expect.stringContaining(stacks.siteAccounts.get('guys')!.getLogicalId(stacks.siteAccounts.get('guys')!.compute!.job.role.node.defaultChild as CfnResource))]));
    const bucketPolicy = Object.values(site.findResources('AWS::S3::BucketPolicy')).flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]).filter((s) => s.Effect === 'Allow');
    for (const s of bucketPolicy) expect(JSON.stringify(s.Resource)).not.toMatch(/data\//);
  });

  it("lets the hospital's job role read global models from the central models bucket, and nothing else of it", () => {
    const data = templates[0][1];
    const statements = Object.values(data.findResources('AWS::S3::BucketPolicy')).flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]).filter((s) => JSON.stringify(s.Principal).includes(HOSPITAL));
    expect(statements).toHaveLength(1);
    expect(list(statements[0].Action)).toEqual(['s3:GetObject']);
    expect(JSON.stringify(statements[0].Resource)).toMatch(/\/runs\/\*\/rounds\/\*\/global\.onnx/);
    expect(JSON.stringify(statements[0].Condition)).toContain(`:iam::${HOSPITAL}:role/${siteJobRoleName('modes', 'guys')}`);
  });
});

describe('on-premises: the site agent', () => {
  it('has a queue of its own, and the round machine sends it the task with a token and a heartbeat', () => {
    const queues = orchestration.findResources('AWS::SQS::Queue');
    expect(Object.keys(queues).filter((id) => id.includes('Agentleeds') && id.includes('Tasks'))).toHaveLength(1);
    const task = mapStates(roundDefinition())[ROUND_STATES.askAgent];
    expect(task.Resource).toMatch(/:states:::sqs:sendMessage\.waitForTaskToken$/);
    expect(task.HeartbeatSeconds).toBe(120);
    expect(task.TimeoutSeconds).toBeGreaterThan(120);
    expect((task.Parameters as { MessageBody: Record<string, string> }).MessageBody['taskToken.$']).toBe('$$.Task.Token');
  });

  it('limits the agent role to its queue, task answers, global models and its own updates/', () => {
    const statements = policiesOf(orchestration, roleId(orchestration, siteAgentRoleName('modes', 'leeds')));
    const all = statements.flatMap(actions);
    for (const a of all) expect(a, a).toMatch(/^(sqs:(ReceiveMessage|ChangeMessageVisibility|GetQueueAttributes|GetQueueUrl|DeleteMessage)|states:SendTask(Success|Failure|Heartbeat)|s3:(GetObject|GetObjectVersion|ListBucket|PutObject)|kms:(Decrypt|GenerateDataKey))$/);
    const s3 = statements.filter((s) => actions(s).some((a) => a.startsWith('s3:')));
    const objects = s3.flatMap((s) => list(s.Resource)).map((r) => JSON.stringify(r)).filter((r) => r.includes('/'));
    for (const r of objects) expect(r).toMatch(/\/updates\/runs\/\*\/rounds\/\*\/(update\.safetensors|manifest\.json|refusal\.json)|\/runs\/\*\/rounds\/\*\/global\.onnx/);
    const puts = s3.filter((s) => actions(s).includes('s3:PutObject')).flatMap((s) => list(s.Resource)).map((r) => JSON.stringify(r));
    expect(puts.length).toBeGreaterThan(0);
    for (const r of puts) expect(r).toMatch(/\/updates\/runs\/\*\/rounds\/\*\//);
    const sqs = statements.filter((s) => actions(s).some((a) => a.startsWith('sqs:'))).flatMap((s) => list(s.Resource)).map((r) => JSON.stringify(r));
    for (const r of sqs) expect(r).toMatch(/Agentleeds.*Tasks/);
    const [role] = Object.values(orchestration.findResources('AWS::IAM::Role', { Properties: { RoleName: siteAgentRoleName('modes', 'leeds') } }));
    expect(JSON.stringify(role.Properties.AssumeRolePolicyDocument)).toContain('rolesanywhere.amazonaws.com');
    const trust = role.Properties.AssumeRolePolicyDocument.Statement as Statement[];
    expect(trust.flatMap(actions).sort()).toEqual(['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession']);
    for (const t of trust) expect(t.Condition).toEqual({ StringEquals: { 'aws:PrincipalTag/x509Subject/CN': 'fedrad-agent-leeds' }, ArnEquals: { 'aws:SourceArn': TRUST_ANCHOR } });
  });
});

describe('cdk-nag', () => {
  it('passes both packs with the site-account stack and the agent queue included', () => {
    for (const r of reports) expect(r.findings.filter((f) => !f.acknowledged).map((f) => `${f.id} ${f.path}`)).toEqual([]);
    expect(reports.flatMap((r) => r.findings).some((f) => f.path.includes('-site-guys/Training/'))).toBe(true);
  });
});
