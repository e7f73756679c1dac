// Configuration-dependent hardening: job images pinned by digest (never a tag), an existing site
// bucket that gets the same data/ protection as a created one, and configs that would weaken either
// refused with a message naming the field.
import { App } from 'aws-cdk-lib';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '../../infra/config.js';
import { buildFedrad } from '../../infra/fedrad.js';
import { breakGlassRoleName, siteJobRoleName } from '../../infra/naming.js';

const CONTEXT = { 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:defaultCrossStackReferences': 'strong', '@aws-cdk/aws-batch:defaultToAL2023': true };
const TRAIN = `123456789012.dkr.ecr.eu-west-2.amazonaws.com/fedrad-train@sha256:${'a'.repeat(64)}`;
const AGGREGATE = `123456789012.dkr.ecr.eu-west-2.amazonaws.com/fedrad-aggregate@sha256:${'b'.repeat(64)}`;
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource?: unknown; Condition?: Record<string, Record<string, unknown>> };

describe('hardening that depends on the config', () => {
  it('runs the pinned images by digest, builds nothing, and guards an existing bucket like a created one', () => {
    const app = new App({ context: CONTEXT });
    const config = parseDeploymentConfig({ federation: 'pinned', images: { training: TRAIN, aggregation: AGGREGATE }, sites: [{ id: 'a', displayName: 'A', existingBucket: 'hospital-a-archive' }, { id: 'b', displayName: 'B' }] }, 'pinned');
    const stacks = buildFedrad(app, config);
    const assembly = app.synth();
    const training = assembly.getStackByName(stacks.training.stackName);
    const images = Object.values(training.template.Resources as Record<string, { Type: string; Properties: { ContainerProperties: { Image: unknown } } }>).filter((r) => r.Type === 'AWS::Batch::JobDefinition').map((r) => r.Properties.ContainerProperties.Image);
    expect(images.sort()).toEqual([AGGREGATE, TRAIN, TRAIN]);
    // no image is built at deploy time (by default the training stack's asset manifest holds two: test/infra/synth.test.ts)
    const manifests = training.dependencies.filter((d): d is cxapi.AssetManifestArtifact => d instanceof cxapi.AssetManifestArtifact);
    expect(manifests).toHaveLength(1);
    expect(Object.keys(manifests[0].contents.dockerImages ?? {})).toEqual([]);

    const data = assembly.getStackByName(stacks.data.stackName).template as { Resources: Record<string, { Type: string; Properties: { Bucket: unknown; PolicyDocument: { Statement: Statement[] } } }> };
    const [policy] = Object.values(data.Resources).filter((r) => r.Type === 'AWS::S3::BucketPolicy' && r.Properties.Bucket === 'hospital-a-archive');
    expect(policy, 'the existing bucket gets a policy').toBeDefined();
    const bySid = new Map(policy.Properties.PolicyDocument.Statement.map((s) => [s.Sid, s]));
    for (const sid of ['DenyInsecureTransport', 'DenyUploadsNotEncryptedWithKms', 'DenyUploadsWithAnotherKey', 'DenyUpdateWritesThatMayOverwrite', 'DenyDataReadsToOtherPrincipals', 'DenyDataListingToOtherPrincipals']) expect(bySid.has(sid), sid).toBe(true);
    const allowed = JSON.stringify(bySid.get('DenyDataReadsToOtherPrincipals')!.Condition);
    expect(allowed).toContain(`role/${siteJobRoleName('pinned', 'a')}`);
    expect(allowed).toContain('BreakGlass');
    expect(allowed).not.toContain(`role/${siteJobRoleName('pinned', 'b')}`);
    expect(breakGlassRoleName('pinned')).toBe('fedrad-pinned-break-glass');
  });

  it.each([
    [{ images: { training: '123456789012.dkr.ecr.eu-west-2.amazonaws.com/fedrad-train:latest' } }, /images\.training: an image pinned by digest/],
    [{ images: { aggregation: `fedrad-aggregate@sha256:${'c'.repeat(63)}` } }, /images\.aggregation: an image pinned by digest/],
    [{ sites: [{ id: 'a', displayName: 'A', existingBucket: 'shared-archive' }, { id: 'b', displayName: 'B', existingBucket: 'shared-archive' }] }, /sites: each existingBucket may belong to one site only/],
  ])('refuses %j', (extra, message) => {
    expect(() => parseDeploymentConfig({ federation: 'x', sites: [{ id: 'a', displayName: 'A' }], ...extra }, 'cfg')).toThrow(message);
  });
});
