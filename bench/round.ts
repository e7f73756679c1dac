// Orchestration overhead of the local workflow: site-rounds through both state machines with a
// no-op trainer (the functions, storage and state transitions only), then the demo's wall time.
// Prints one JSON line per measurement. Usage: npm run bench:round [-- --sites 8 --rounds 10 --skip-demo]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { simulate } from '../infra/local/simulate.js';

const { values } = parseArgs({ options: { sites: { type: 'string', default: '8' }, rounds: { type: 'string', default: '10' }, 'skip-demo': { type: 'boolean', default: false } } });
const sites = Number(values.sites);
const rounds = Number(values.rounds);
const out = await mkdtemp(join(tmpdir(), 'fedrad-bench-round-'));
try {
  const r = await simulate({ sites, rounds, out, trainer: 'noop', baselines: false, minImages: 10, maxImages: 10, testImages: 10, inputSize: 64 });
  console.log(JSON.stringify({
    measurement: 'orchestration', trainer: 'noop', model: 'cnn-classifier', sites, rounds, status: r.status,
    workflowSeconds: Math.round(r.workflowSeconds * 1000) / 1000,
    overheadMsPerSiteRound: Math.round((r.workflowSeconds * 1000 * 10) / (sites * rounds)) / 10,
    target: 50,
  }));
} finally {
  await rm(out, { recursive: true, force: true });
}
if (!values['skip-demo']) {
  const demoOut = await mkdtemp(join(tmpdir(), 'fedrad-bench-demo-'));
  try {
    const r = await simulate({ out: demoOut });
    console.log(JSON.stringify({
      measurement: 'demo', rounds: r.rounds, sites: r.sites, status: r.status, seconds: Math.round(r.seconds * 10) / 10, workflowSeconds: Math.round(r.workflowSeconds * 10) / 10,
      federatedMetric: r.federatedMetric, centralizedMetric: r.centralizedMetric, siteAloneMeanMetric: r.siteAloneMeanMetric, target: 180,
    }));
  } finally {
    await rm(demoOut, { recursive: true, force: true });
  }
}
