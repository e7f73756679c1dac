// The CDK app: load and validate the deployment config, create the stacks, check them with cdk-nag.
import { App, Validations } from 'aws-cdk-lib';
import { loadDeploymentConfig } from './config.js';
import { buildFedrad } from './fedrad.js';
import { PACKS, runNag } from './nag.js';

const app = new App();
const configPath = app.node.tryGetContext('fedrad:config') ?? 'fedrad.config.json';
buildFedrad(app, loadDeploymentConfig(configPath));
// cdk-nag runs in every synth: the accepted findings are acknowledged with their reasons, and any
// other finding fails the synth.
// The first synth resolves cross-stack references, so findings carry the ids the plugins report.
app.synth();
runNag(app);
Validations.of(app).addPlugins(...PACKS.map((Pack) => new Pack(app)));
app.synth({ force: true });
