// The CDK app: load and validate the deployment config, create the stacks.
import { App } from 'aws-cdk-lib';
import { loadDeploymentConfig } from './config.js';
import { buildFedrad } from './fedrad.js';

const app = new App();
const configPath = app.node.tryGetContext('fedrad:config') ?? 'fedrad.config.json';
buildFedrad(app, loadDeploymentConfig(configPath));
app.synth();
