import { App } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks } from 'cdk-nag';
import { buildFedrad } from './infra/fedrad.js';
import { loadDeploymentConfig } from './infra/config.js';
import { runNag } from './infra/nag.js';
const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
buildFedrad(app, loadDeploymentConfig('fedrad.config.json'));
app.synth();
const t = performance.now();
const r = runNag(app);
console.log('nag ms', performance.now() - t);
for (const p of r) console.log(p.pack, p.findings.length, p.findings.filter(f => !f.acknowledged).map(f => f.id + ' ' + f.path));
for (const Pack of [AwsSolutionsChecks, HIPAASecurityChecks]) { const rep = new Pack(app).validateScope(app); console.log('after acks', Pack.name, rep.success, rep.violations.length); }
