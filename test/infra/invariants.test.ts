// The security invariants (test/infra/invariants.ts) over every synthesized template: the central
// stacks and the hospital's site stack, with sites in every compute mode (central in the federation's
// account, central with data in the hospital's account, site-account, on-premises), and a federation
// of central sites only. A mutation test injects a wildcard read into one role and asserts that the
// invariants catch it, so the checks are shown able to fail.
import { App } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '../../infra/config.js';
import { COVERAGE_CONFIG } from '../../infra/coverage-config.js';
import { buildFedrad, type FedradStacks } from '../../infra/fedrad.js';
import { RULES, type Templates, violations } from './invariants.js';

const CONTEXT = { 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:defaultCrossStackReferences': 'strong', '@aws-cdk/aws-batch:defaultToAL2023': true };
const ALL_MODES = COVERAGE_CONFIG;
const CENTRAL_ONLY = { federation: 'plain', sites: [{ id: 'a', displayName: 'A' }, { id: 'b', displayName: 'B' }] };

function synth(raw: unknown, mutate?: (stacks: FedradStacks) => void): Templates {
  const app = new App({ context: CONTEXT });
  const stacks = buildFedrad(app, parseDeploymentConfig(raw, 'invariants'));
  mutate?.(stacks);
  return Object.fromEntries(app.synth().stacks.map((s) => [s.stackName, s.template]));
}

describe('security invariants', () => {
  it('hold in every template of a federation with sites in every compute mode', () => {
    const templates = synth(ALL_MODES);
    expect(Object.keys(templates).sort()).toEqual(['fedrad-coverage-data', 'fedrad-coverage-orchestration', 'fedrad-coverage-site-own', 'fedrad-coverage-site-remote', 'fedrad-coverage-training']);
    expect(violations(templates)).toEqual([]);
  });

  it('hold in a federation of central sites only', () => {
    expect(violations(synth(CENTRAL_ONLY))).toEqual([]);
  });

  it('fail when a wildcard read is injected into one role (mutation)', () => {
    const templates = synth(ALL_MODES, (stacks) => {
      const role = [...stacks.training.jobs.values()][0].role;
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 'kms:Decrypt'], resources: ['*'] }));
    });
    const found = violations(templates);
    expect(found.some((v) => v.startsWith('no-wildcard-read fedrad-coverage-training/') && v.includes('s3:GetObject,kms:Decrypt on *'))).toBe(true);
  });

  it('fail when a site key lets the account decrypt, or a site bucket loses its data/ deny (mutation)', () => {
    const templates = synth(ALL_MODES, (stacks) => {
      stacks.data.sites.get('here')!.key!.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.AccountRootPrincipal()], actions: ['kms:Decrypt'], resources: ['*'] }));
    });
    expect(violations(templates).filter((v) => v.startsWith('site-key-decrypt-pinned'))).toHaveLength(1);
    const site = templates['fedrad-coverage-site-own'];
    for (const r of Object.values(site.Resources!)) {
      if (r.Type === 'AWS::S3::BucketPolicy') r.Properties!.PolicyDocument.Statement = r.Properties!.PolicyDocument.Statement.filter((s: { Sid?: string }) => !/^Deny.*Data/.test(s.Sid ?? ''));
    }
    expect(violations(templates).filter((v) => v.startsWith('site-data-denied-to-others fedrad-coverage-site-own/')).length).toBeGreaterThanOrEqual(1);
  });

  it('describes every rule', () => {
    for (const r of RULES) expect(r.description.length, r.name).toBeGreaterThan(40);
  });
});
