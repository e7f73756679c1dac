// Synthesizes the CDK app in-process for a local run (no bundling, no AWS account) and returns the
// run and round state machines' ASL, resolved to local ARNs, plus the local names of the buckets
// and job definitions the functions' environment would carry in the cloud.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnResource } from 'aws-cdk-lib';
import type { SiteRef } from '../../lib/federation/round-state.js';
import type { DeploymentConfig } from '../../lib/schemas/deployment-config.js';
import type { WorkflowDefinitions } from '../../lib/workflow/local-runner.js';
import { type CfnTemplate, LOCAL_ACCOUNT, LOCAL_REGION, stateMachineDefinition } from '../../lib/workflow/resolve-template.js';
import { buildFedrad } from '../fedrad.js';

export interface LocalDeployment {
  definitions: WorkflowDefinitions;
  modelsBucket: string;
  sites: SiteRef[];
  template: CfnTemplate;
}

export const localBucket = (federation: string, siteId: string) => `fedrad-${federation}-${siteId}`;
export const localModelsBucket = (federation: string) => `fedrad-${federation}-models`;

export function synthesizeLocal(config: DeploymentConfig): LocalDeployment {
  const outdir = mkdtempSync(join(tmpdir(), 'fedrad-synth-'));
  try {
    const app = new App({
      outdir,
      context: {
        'aws:cdk:bundling-stacks': [], // the functions run in-process locally: no esbuild bundles
        '@aws-cdk/core:defaultCrossStackReferences': 'strong',
        '@aws-cdk/aws-batch:defaultToAL2023': true,
      },
    });
    const stacks = buildFedrad(app, config);
    const assembly = app.synth();
    const orchestration = stacks.orchestration;
    const template = assembly.getStackByName(orchestration.stackName).template as CfnTemplate;
    const logicalId = (c: { node: { defaultChild?: unknown } }) => orchestration.getLogicalId(c.node.defaultChild as CfnResource);
    const definitions = {
      run: stateMachineDefinition(template, logicalId(orchestration.workflow.runMachine)),
      round: stateMachineDefinition(template, logicalId(orchestration.workflow.roundMachine)),
    };
    return {
      definitions,
      template,
      modelsBucket: localModelsBucket(config.federation),
      sites: config.sites.map((s) => ({
        siteId: s.id,
        bucket: localBucket(config.federation, s.id),
        compute: s.compute,
        ...(s.compute === 'on-premises' ? {} : { jobDefinitionArn: `arn:aws:batch:${LOCAL_REGION}:${s.account ?? LOCAL_ACCOUNT}:job-definition/fedrad-${config.federation}-${s.id}:1` }),
        ...(s.compute === 'site-account' ? { jobQueueArn: `arn:aws:batch:${LOCAL_REGION}:${s.account}:job-queue/fedrad-${config.federation}-${s.id}-training`, submitRoleArn: `arn:aws:iam::${s.account}:role/fedrad-${config.federation}-${s.id}-submit` } : {}),
      })),
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/**
 * synthesizeLocal in a child process (infra/local/synth-child.ts): the same result, computed beside
 * whatever this process does meanwhile. The child's failure is this promise's rejection.
 */
export function synthesizeLocalAside(config: DeploymentConfig): Promise<LocalDeployment> {
  return new Promise((resolve, reject) => {
    const child = fork(join(import.meta.dirname, 'synth-child.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    let settled = false;
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    child.once('message', (m: { deployment?: LocalDeployment; error?: string }) => {
      settled = true;
      if (m.deployment) resolve(m.deployment);
      else reject(new Error(`synthesizing the CDK app failed: ${m.error}`));
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (!settled) reject(new Error(`synthesizing the CDK app failed (exit code ${code}): ${stderr.trim().split('\n').slice(-3).join(' ')}`));
    });
    child.send(config);
  });
}
