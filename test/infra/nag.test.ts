// cdk-nag AwsSolutions and HIPAA.Security over the whole app: every finding is acknowledged with a
// reason, every acknowledgement is used, and a new problem is not swallowed by them.
import { App } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '../../infra/config.js';
import { buildFedrad, type FedradStacks } from '../../infra/fedrad.js';
import { ACKNOWLEDGEMENTS, type PackReport, runNag } from '../../infra/nag.js';

// site c lives in its own account (the hospital's site stack is checked with the rest); site d trains
// in its own account, site e on the hospital's machine (docs/site-compute.md)
const config = parseDeploymentConfig({ federation: 'nag', centralAccount: '111111111111', region: 'eu-west-2', sites: [...['a', 'b'].map((id) => ({ id, displayName: id })), { id: 'c', displayName: 'c', account: '222222222222' }, { id: 'd', displayName: 'd', account: '333333333333', compute: 'site-account' }, { id: 'e', displayName: 'e', compute: 'on-premises' }], schedule: { expression: 'cron(0 2 ? * SUN *)', timezone: 'Europe/London' }, notificationEmail: 'ml-ops@example.org' }, 'nag');
const CONTEXT = { 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:defaultCrossStackReferences': 'strong', '@aws-cdk/aws-batch:defaultToAL2023': true };

function nag(extra?: (stacks: FedradStacks) => void): PackReport[] {
  const app = new App({ context: CONTEXT });
  const stacks = buildFedrad(app, config);
  extra?.(stacks);
  app.synth();
  return runNag(app);
}

let reports: PackReport[];
beforeAll(() => {
  reports = nag();
});

describe('cdk-nag', () => {
  it('leaves no finding unacknowledged in either pack', () => {
    expect(reports.map((r) => r.pack)).toEqual(['AwsSolutions', 'HIPAA.Security']);
    for (const r of reports) {
      expect(r.findings.length).toBeGreaterThan(0);
      expect(r.findings.filter((f) => !f.acknowledged)).toEqual([]);
    }
  });

  it('gives every acknowledgement a reason, and uses every one', () => {
    const all = reports.flatMap((r) => r.findings);
    for (const a of ACKNOWLEDGEMENTS) {
      expect(a.reason.length, a.finding.source).toBeGreaterThan(60);
      expect(all.some((f) => a.finding.test(f.id)), `acknowledgement ${a.finding} matches no finding`).toBe(true);
    }
  });

  it('acknowledges Resource::* only on named roles and only for actions that take no resource', () => {
    const bare = ACKNOWLEDGEMENTS.filter((a) => a.finding.test('AwsSolutions-IAM5[Resource::*]'));
    expect(bare.length).toBeGreaterThan(0);
    for (const a of bare) {
      expect(a.path, a.reason).toBeDefined();
      expect(a.wildcardActions, a.reason).toBeDefined();
      for (const read of ['s3:GetObject', 's3:*', 'kms:Decrypt', 'kms:*', '*']) expect(a.wildcardActions!.test(read), `${a.wildcardActions} admits ${read}`).toBe(false);
    }
  });

  it('reports a wildcard data read added to any role, the ones with acknowledged wildcards included', () => {
    let roles: string[] = [];
    const withReads = nag((s) => {
      const all = [s.data, s.training, s.orchestration, ...s.siteAccounts.values()].flatMap((stack) => stack.node.findAll()).filter((c): c is iam.Role => c instanceof iam.Role);
      roles = all.map((r) => r.node.path);
      for (const r of all) r.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 'kms:Decrypt'], resources: ['*'] }));
    });
    expect(roles.length).toBeGreaterThan(20);
    const open = withReads.flatMap((r) => r.findings.filter((f) => !f.acknowledged && f.id === 'AwsSolutions-IAM5[Resource::*]').map((f) => f.path));
    for (const role of roles) expect(open.some((p) => p.startsWith(`${role}/`)), role).toBe(true);
  });

  it('reports a new problem instead of swallowing it', () => {
    const withProblems = nag((s) => {
      new s3.Bucket(s.data, 'Careless', { encryption: s3.BucketEncryption.UNENCRYPTED });
      new iam.Role(s.orchestration, 'TooBroad', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }).addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    });
    const open = withProblems.flatMap((r) => r.findings.filter((f) => !f.acknowledged).map((f) => `${f.id} ${f.path}`));
    expect(open.some((f) => f.includes('Careless'))).toBe(true);
    expect(open.some((f) => f.startsWith('AwsSolutions-IAM5[Action::s3:*]') && f.includes('TooBroad'))).toBe(true);
  });
});
