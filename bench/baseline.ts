// Baselines for federated runs: held-out metric of the zoo classifier trained on all sites pooled
// (centralized) and on each site alone, on the synthetic federation's test set. Prints one JSON line.
// Usage: npm run bench:baseline [-- --sites 4 --seed 7 --min-images 100 --max-images 2000 --epochs 5 --data DIR]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { synthesizeFederation } from '../lib/data/synth.js';
import { computeBaselines } from '../lib/federation/baselines.js';

const { values } = parseArgs({
  options: {
    sites: { type: 'string', default: '4' },
    seed: { type: 'string', default: '7' },
    'min-images': { type: 'string', default: '100' },
    'max-images': { type: 'string', default: '2000' },
    'test-images': { type: 'string', default: '400' },
    epochs: { type: 'string', default: '5' },
    zoo: { type: 'string', default: 'cnn-classifier' },
  },
});
const started = performance.now();
const dir = await mkdtemp(join(tmpdir(), 'fedrad-baseline-'));
try {
  const fed = await synthesizeFederation({ out: dir, sites: Number(values.sites), seed: Number(values.seed), minImages: Number(values['min-images']), maxImages: Number(values['max-images']), testImages: Number(values['test-images']) });
  const b = await computeBaselines({ sites: fed.sites.map((s) => ({ siteId: s.siteId, dataDir: join(s.dir, 'data') })), testDataDir: join(fed.test.dir, 'data'), zoo: values.zoo, spec: { epochs: Number(values.epochs) }, log: (m) => process.stderr.write(`${m}\n`) });
  const round = (v: number) => Math.round(v * 10000) / 10000;
  console.log(JSON.stringify({
    metric: b.metric, centralized: round(b.centralized), siteAlone: Object.fromEntries(Object.entries(b.siteAlone).map(([k, v]) => [k, round(v)])), siteAloneMean: round(b.siteAloneMean),
    rocAuc: { centralized: b.details.centralized.task === 'classification' ? round(b.details.centralized.rocAuc) : undefined },
    trainSamples: b.trainSamples, testImages: fed.test.images, epochs: Number(values.epochs), seed: Number(values.seed), seconds: Math.round((performance.now() - started) / 100) / 10,
  }));
} finally {
  await rm(dir, { recursive: true, force: true });
}
