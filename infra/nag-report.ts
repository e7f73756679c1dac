// `npm run nag`: both cdk-nag packs over the app as `cdk synth` builds it; one JSON object per pack
// with every finding, the acknowledged ones with their reasons. Exits 1 if any is unacknowledged.
import { App } from 'aws-cdk-lib';
import { loadDeploymentConfig } from './config.js';
import { buildFedrad } from './fedrad.js';
import { runNag } from './nag.js';

const app = new App({ context: { 'aws:cdk:bundling-stacks': [], 'fedrad:config': 'fedrad.config.json' } });
buildFedrad(app, loadDeploymentConfig(app.node.tryGetContext('fedrad:config')));
app.synth(); // resolves cross-stack references, as in `cdk synth`
let unacknowledged = 0;
for (const p of runNag(app)) {
  const open = p.findings.filter((f) => !f.acknowledged);
  unacknowledged += open.length;
  const byRule = new Map<string, { count: number; reason?: string }>();
  for (const f of p.findings) {
    const rule = f.id.replace(/\[.*$/, '');
    const entry = byRule.get(rule) ?? { count: 0, reason: f.reason };
    entry.count++;
    byRule.set(rule, entry);
  }
  console.log(JSON.stringify({
    pack: p.pack,
    findings: p.findings.length,
    acknowledged: p.findings.length - open.length,
    unacknowledged: open.map((f) => ({ id: f.id, path: f.path })),
    byRule: Object.fromEntries(byRule),
    acknowledgements: p.findings.filter((f) => f.acknowledged).map((f) => ({ id: f.id, path: f.path, reason: f.reason })),
  }));
}
process.exitCode = unacknowledged ? 1 : 0;
