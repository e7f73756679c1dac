// `npm run nag`: both cdk-nag packs over the app as `cdk synth` builds it, and over a coverage
// federation with a site in every compute mode (infra/coverage-config.ts: the hospital's site stack
// included); one JSON object per app and pack with every finding, the acknowledged ones with their
// reasons. Exits 1 if any is unacknowledged.
import { App, Stack } from 'aws-cdk-lib';
import { loadDeploymentConfig, parseDeploymentConfig } from './config.js';
import { COVERAGE_CONFIG } from './coverage-config.js';
import { buildFedrad } from './fedrad.js';
import { runNag } from './nag.js';

const CONTEXT = { 'aws:cdk:bundling-stacks': [] };
const apps: Array<[string, App]> = [];
const configured = new App({ context: { ...CONTEXT, 'fedrad:config': 'fedrad.config.json' } });
buildFedrad(configured, loadDeploymentConfig(configured.node.tryGetContext('fedrad:config')));
apps.push(['configured', configured]);
const coverage = new App({ context: CONTEXT });
buildFedrad(coverage, parseDeploymentConfig(COVERAGE_CONFIG, 'infra/coverage-config.ts'));
apps.push(['coverage', coverage]);

let unacknowledged = 0;
for (const [name, app] of apps) {
  app.synth(); // resolves cross-stack references, as in `cdk synth`
  const stacks = app.node.children.filter((c) => c instanceof Stack).map((c) => c.node.id);
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
      app: name,
      stacks,
      pack: p.pack,
      findings: p.findings.length,
      acknowledged: p.findings.length - open.length,
      unacknowledged: open.map((f) => ({ id: f.id, path: f.path })),
      byRule: Object.fromEntries(byRule),
      acknowledgements: p.findings.filter((f) => f.acknowledged).map((f) => ({ id: f.id, path: f.path, reason: f.reason })),
    }));
  }
}
process.exitCode = unacknowledged ? 1 : 0;
