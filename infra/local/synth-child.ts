// Synthesizes the CDK app for a local run in a child process (forked by synthesizeLocalAside), so
// that loading aws-cdk-lib and synthesizing (~8 s of CPU on a cold process) overlap with writing
// the synthetic sites on the parent's core. Answers one DeploymentConfig with its LocalDeployment.
import type { DeploymentConfig } from '../../lib/schemas/deployment-config.js';
import { synthesizeLocal } from './synth-local.js';

process.once('message', (config: DeploymentConfig) => {
  try {
    process.send!({ deployment: synthesizeLocal(config) }, () => process.disconnect());
  } catch (err) {
    process.send!({ error: err instanceof Error ? err.message : String(err) }, () => process.disconnect());
  }
});
