// What the buckets do for update integrity, in the synthesized templates: every site bucket (central
// and in a hospital's own account) refuses a PUT under updates/ that could overwrite (no
// If-None-Match), and the central readers may read object versions, which aggregation pins.
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '../../infra/config.js';
import { buildFedrad, type FedradStacks } from '../../infra/fedrad.js';

const CONTEXT = { 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:defaultCrossStackReferences': 'strong', '@aws-cdk/aws-batch:defaultToAL2023': true };
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource?: unknown; Condition?: Record<string, Record<string, unknown>> };
const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

let stacks: FedradStacks;
beforeAll(() => {
  const app = new App({ context: CONTEXT });
  stacks = buildFedrad(app, parseDeploymentConfig({ federation: 'integ', centralAccount: '111111111111', region: 'eu-west-2', sites: [{ id: 'local', displayName: 'Local' }, { id: 'kings', displayName: "King's", account: '222222222222' }] }, 'integ'));
});

function bucketStatements(t: Template): Statement[] {
  return Object.values(t.findResources('AWS::S3::BucketPolicy')).flatMap((p) => list((p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement));
}

describe('site buckets', () => {
  it('refuse update writes without If-None-Match, in the central account and the hospital account', () => {
    for (const t of [Template.fromStack(stacks.data), Template.fromStack(stacks.siteAccounts.get('kings')!)]) {
      const deny = bucketStatements(t).filter((s) => s.Sid === 'DenyUpdateWritesThatMayOverwrite');
      expect(deny.length).toBeGreaterThanOrEqual(1);
      for (const s of deny) {
        expect(s.Effect).toBe('Deny');
        expect(list(s.Action)).toEqual(['s3:PutObject']);
        expect(s.Condition).toEqual({ Null: { 's3:if-none-match': 'true' } });
        expect(JSON.stringify(s.Resource)).toMatch(/\/updates\/\*/);
      }
    }
  });

  it("let the central readers read the exact version the gate checked in a hospital's bucket, under updates/ only", () => {
    const read = bucketStatements(Template.fromStack(stacks.siteAccounts.get('kings')!)).find((s) => s.Sid === 'FederationReadsUpdatesOnly')!;
    expect(list(read.Action).sort()).toEqual(['s3:GetObject', 's3:GetObjectVersion']);
    expect(JSON.stringify(read.Resource)).toMatch(/\/updates\/\*/);
  });
});
