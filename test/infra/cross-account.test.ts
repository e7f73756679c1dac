// A site in its own AWS account: the hospital's site stack (bucket, key, role) and the central
// stacks' side of the trust, checked in the synthesized templates.
import { App, type CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '../../infra/config.js';
import { buildFedrad, type FedradStacks } from '../../infra/fedrad.js';
import { siteAccessRoleName, siteAccountBucketName, siteJobRoleName, UPDATE_READERS, updateReaderRoleName } from '../../infra/naming.js';
import { type PackReport, runNag } from '../../infra/nag.js';

const CONTEXT = { 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:defaultCrossStackReferences': 'strong', '@aws-cdk/aws-batch:defaultToAL2023': true };
const CENTRAL = '111111111111';
const HOSPITAL = '222222222222';
const raw = {
  federation: 'xacct',
  centralAccount: CENTRAL,
  region: 'eu-west-2',
  sites: [
    { id: 'local', displayName: 'Local site' },
    { id: 'kings', displayName: "King's", account: HOSPITAL },
  ],
};
type Statement = { Effect: string; Action: string | string[]; Resource?: unknown; Principal?: unknown; Condition?: Record<string, Record<string, unknown>> };
const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

let stacks: FedradStacks;
let site: Template;
let training: Template;
let orchestration: Template;
let reports: PackReport[];
beforeAll(() => {
  const app = new App({ context: CONTEXT });
  stacks = buildFedrad(app, parseDeploymentConfig(raw, 'xacct'));
  site = Template.fromStack(stacks.siteAccounts.get('kings')!);
  training = Template.fromStack(stacks.training);
  orchestration = Template.fromStack(stacks.orchestration);
  app.synth();
  reports = runNag(app);
});

const bucketName = siteAccountBucketName('xacct', 'kings', HOSPITAL, 'eu-west-2');
const policiesOf = (t: Template, roleLogicalId: string): Statement[] =>
  Object.values(t.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties.Roles).includes(roleLogicalId)).flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);

describe('the site stack (deployed in the hospital account)', () => {
  it('lives in the hospital account and region, with one bucket encrypted by its own rotating key', () => {
    const stack = stacks.siteAccounts.get('kings')!;
    expect(stack.account).toBe(HOSPITAL);
    expect(stack.region).toBe('eu-west-2');
    const bucket = site.findResources('AWS::S3::Bucket', { Properties: { BucketName: bucketName } });
    const [props] = Object.values(bucket).map((b) => b.Properties);
    expect(props.BucketEncryption.ServerSideEncryptionConfiguration[0]).toMatchObject({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' }, BucketKeyEnabled: false });
    expect(props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(props.LoggingConfiguration).toBeDefined();
    site.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const statements = Object.values(site.findResources('AWS::S3::BucketPolicy')).flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    expect(statements.some((s) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false')).toBe(true);
    expect(statements.some((s) => s.Effect === 'Deny' && s.Condition?.StringNotEqualsIfExists?.['s3:x-amz-server-side-encryption'] === 'aws:kms')).toBe(true);
  });

  it("has one role, trusted by exactly the central account's training role of this site", () => {
    const roles = Object.values(site.findResources('AWS::IAM::Role', { Properties: { RoleName: siteAccessRoleName('xacct', 'kings') } }));
    expect(roles).toHaveLength(1);
    const trust = roles[0].Properties.AssumeRolePolicyDocument.Statement as Statement[];
    expect(trust).toHaveLength(1);
    expect(JSON.stringify(trust[0].Principal)).toContain(`:iam::${CENTRAL}:role/${siteJobRoleName('xacct', 'kings')}`);
    expect(JSON.stringify(trust[0].Principal)).not.toContain(':root');
  });

  it('lets that role read data/ and updates/ and write updates/, nothing else', () => {
    const roleId = Object.keys(site.findResources('AWS::IAM::Role', { Properties: { RoleName: siteAccessRoleName('xacct', 'kings') } }))[0];
    const s3 = policiesOf(site, roleId).filter((s) => list(s.Action).some((a) => a.startsWith('s3:')));
    const objects = s3.flatMap((s) => list(s.Resource)).map((r) => JSON.stringify(r)).filter((r) => r.includes('/'));
    expect(objects.length).toBeGreaterThan(0);
    for (const r of objects) expect(r).toMatch(/\/(data\/\*|updates\/runs\/\*\/rounds\/\*\/(update\.safetensors|manifest\.json|refusal\.json))"/);
    const writes = s3.filter((s) => list(s.Action).some((a) => a.startsWith('s3:PutObject')));
    expect(writes.flatMap((s) => list(s.Resource)).map((r) => JSON.stringify(r)).join(' ')).not.toMatch(/data\//);
  });

  it("lets the central gate and aggregation read and decrypt updates/ only, never data/", () => {
    const readers = UPDATE_READERS.map((reader) => `:iam::${CENTRAL}:role/${updateReaderRoleName('xacct', reader)}`);
    expect(readers).toHaveLength(3); // the gate, the aggregation function and the aggregation Batch job
    const siteBucketId = stacks.siteAccounts.get('kings')!.getLogicalId(stacks.siteAccounts.get('kings')!.bucket.node.defaultChild as CfnResource);
    const bucketStatements = Object.values(site.findResources('AWS::S3::BucketPolicy')).filter((p) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: siteBucketId })).flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]).filter((s) => s.Effect === 'Allow');
    expect(bucketStatements).toHaveLength(1); // the central readers
    for (const r of readers) expect(JSON.stringify(bucketStatements[0].Principal)).toContain(r);
    expect(list(bucketStatements[0].Action).sort()).toEqual(['s3:GetObject', 's3:GetObjectVersion']); // the version the gate checked
    expect(JSON.stringify(bucketStatements[0].Resource)).toMatch(/\/updates\/\*"/);
    const keyStatements = Object.values(site.findResources('AWS::KMS::Key')).flatMap((k) => k.Properties.KeyPolicy.Statement as Statement[]);
    const central = keyStatements.filter((s) => JSON.stringify(s.Principal).includes(CENTRAL));
    expect(central).toHaveLength(1);
    expect(list(central[0].Action)).toEqual(['kms:Decrypt']);
    expect(JSON.stringify(central[0].Condition?.StringLike?.['kms:EncryptionContext:aws:s3:arn'])).toMatch(/\/updates\/\*"/);
  });
});

describe('the central stacks', () => {
  it('create no bucket or key for the cross-account site', () => {
    expect(stacks.data.sites.get('kings')!.key).toBeUndefined();
    expect(stacks.data.sites.get('kings')!.bucket.bucketName).toBe(bucketName);
    expect(stacks.data.sites.get('local')!.key).toBeDefined();
  });

  it("give the site's training job only sts:AssumeRole on the site's role, named in its environment", () => {
    const job = stacks.training.jobs.get('kings')!;
    const roleId = stacks.training.getLogicalId(job.role.node.defaultChild as CfnResource);
    expect(training.findResources('AWS::IAM::Role')[roleId].Properties.RoleName).toBe(siteJobRoleName('xacct', 'kings'));
    const statements = policiesOf(training, roleId);
    const roleArn = `:iam::${HOSPITAL}:role/${siteAccessRoleName('xacct', 'kings')}`;
    const assume = statements.filter((s) => list(s.Action).includes('sts:AssumeRole'));
    expect(assume).toHaveLength(1);
    expect(JSON.stringify(assume[0].Resource)).toContain(roleArn);
    // the only S3 access is the global models (models bucket), not the site bucket
    expect(JSON.stringify(statements)).not.toContain(bucketName);
    const definition = Object.values(training.findResources('AWS::Batch::JobDefinition')).find((d) => JSON.stringify(d).includes('FEDRAD_SITE_ROLE_ARN'))!;
    const env = definition.Properties.ContainerProperties.Environment as Array<{ Name: string; Value: unknown }>;
    expect(JSON.stringify(env.find((e) => e.Name === 'FEDRAD_SITE_ROLE_ARN')!.Value)).toContain(roleArn);
    expect(env.find((e) => e.Name === 'FEDRAD_SITE_REGION')!.Value).toBe('eu-west-2');
    // the job passes the external id the hospital's trust requires
    const [siteRole] = Object.values(site.findResources('AWS::IAM::Role', { Properties: { RoleName: siteAccessRoleName('xacct', 'kings') } }));
    const externalId = (siteRole.Properties.AssumeRolePolicyDocument.Statement as Statement[])[0].Condition?.StringEquals?.['sts:ExternalId'];
    expect(externalId).toBe(siteAccessRoleName('xacct', 'kings'));
    expect(env.find((e) => e.Name === 'FEDRAD_SITE_EXTERNAL_ID')!.Value).toBe(externalId);
    // the site in the central account keeps direct bucket grants and no assume-role
    const localRole = stacks.training.getLogicalId(stacks.training.jobs.get('local')!.role.node.defaultChild as CfnResource);
    expect(policiesOf(training, localRole).some((s) => list(s.Action).includes('sts:AssumeRole'))).toBe(false);
  });

  it("name the update readers as the site trusts them, and let them decrypt only the site's updates/ through S3", () => {
    for (const fn of ['validate-update', 'aggregate-round'] as const) {
      const [roleId] = Object.keys(orchestration.findResources('AWS::IAM::Role', { Properties: { RoleName: updateReaderRoleName('xacct', fn) } }));
      expect(roleId, fn).toBeDefined();
      const statements = policiesOf(orchestration, roleId);
      const reads = statements.filter((s) => list(s.Action).some((a) => a.startsWith('s3:GetObject'))).flatMap((s) => list(s.Resource)).map((r) => JSON.stringify(r)).filter((r) => r.includes(bucketName));
      expect(reads.length).toBeGreaterThan(0);
      for (const r of reads.filter((x) => x.includes('/'))) expect(r).toMatch(/\/updates\/\*/);
      const decrypt = statements.filter((s) => JSON.stringify(s.Resource ?? '').includes(`:kms:eu-west-2:${HOSPITAL}:key/*`));
      expect(decrypt).toHaveLength(1);
      expect(decrypt[0].Condition?.StringEquals?.['kms:ViaService']).toBe('s3.eu-west-2.amazonaws.com');
      expect(JSON.stringify(decrypt[0].Condition?.StringLike)).toContain(`${bucketName}/updates/*`);
    }
  });

  it("name the Batch aggregation job's role as the site trusts it, with the same updates/-only decrypt", () => {
    const roleId = stacks.training.getLogicalId(stacks.training.aggregation.role.node.defaultChild as CfnResource);
    expect(training.findResources('AWS::IAM::Role')[roleId].Properties.RoleName).toBe(updateReaderRoleName('xacct', 'aggregate-job'));
    const decrypt = policiesOf(training, roleId).filter((s) => JSON.stringify(s.Resource ?? '').includes(`:kms:eu-west-2:${HOSPITAL}:key/*`));
    expect(decrypt).toHaveLength(1);
    expect(JSON.stringify(decrypt[0].Condition?.StringLike)).toContain(`${bucketName}/updates/*`);
  });

  it('pass cdk-nag in both packs with the site stack included', () => {
    for (const r of reports) expect(r.findings.filter((f) => !f.acknowledged)).toEqual([]);
    expect(reports.flatMap((r) => r.findings).some((f) => f.path.includes('-site-kings/'))).toBe(true);
  });
});

describe('the config', () => {
  it('needs the central account and region when a site lives in its own account', () => {
    expect(() => parseDeploymentConfig({ ...raw, centralAccount: undefined }, 'cfg')).toThrow(/centralAccount.*sites in their own accounts need centralAccount and region/);
  });

  it('refuses a site with both its own account and an existing bucket, and a malformed account id', () => {
    expect(() => parseDeploymentConfig({ ...raw, sites: [{ id: 'x', displayName: 'x', account: HOSPITAL, existingBucket: 'some-bucket' }] }, 'cfg')).toThrow(/drop existingBucket or account/);
    expect(() => parseDeploymentConfig({ ...raw, sites: [{ id: 'x', displayName: 'x', account: '1234' }] }, 'cfg')).toThrow(/12-digit AWS account id/);
  });

  it('keeps long names within the IAM and S3 limits, deterministically', () => {
    const long = 'a'.repeat(31);
    for (const name of [siteJobRoleName(long, long), siteAccessRoleName(long, long), updateReaderRoleName(long, 'aggregate-round')]) expect(name.length).toBeLessThanOrEqual(64);
    expect(siteAccountBucketName(long, long, HOSPITAL, 'ap-southeast-2').length).toBeLessThanOrEqual(63);
    expect(siteAccessRoleName(long, long)).toBe(siteAccessRoleName(long, long));
    expect(siteAccessRoleName(long, `${long.slice(1)}b`)).not.toBe(siteAccessRoleName(long, long));
  });
});
