// Learning check of unet3d-segmenter on the synthetic brain-MR volumes: every site's volumes pooled,
// patch training, sliding-window Dice and HD95 per region on the held-out test volumes.
// Prints one JSON object: the held-out Dice against its target.
// Usage: npm run bench:learn3d [-- --steps 300 --patch 16 --width 8 --depth 2 --channels 2]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { synthesizeFederation3d } from '../lib/data/synth-3d.js';
import { loadAllVolumes } from '../lib/federation/baselines-3d.js';
import { trainVolumes, VOLUME_SPACING_MM } from '../lib/model/volume-trainer.js';
import { buildZooModel } from '../lib/model/zoo/index.js';
import { TrainingSpecSchema } from '../lib/schemas/training-spec.js';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '300' }, patch: { type: 'string', default: '16' }, width: { type: 'string', default: '8' }, depth: { type: 'string', default: '2' }, channels: { type: 'string', default: '2' } } });
const TARGET = 0.75;
const out = await mkdtemp(join(tmpdir(), 'fedrad-learn3d-'));
try {
  const channels = Number(values.channels);
  const fed = await synthesizeFederation3d({ out, sites: 3, seed: 7, channels, minVolumes: 6, maxVolumes: 10, testVolumes: 6 });
  const train = (await Promise.all(fed.sites.map((s) => loadAllVolumes(join(s.dir, 'data'), VOLUME_SPACING_MM)))).flat();
  const test = await loadAllVolumes(join(fed.test.dir, 'data'), VOLUME_SPACING_MM);
  const opts = { seed: 0, inputSize: Number(values.patch), width: Number(values.width), depth: Number(values.depth), channels };
  const spec = TrainingSpecSchema.parse({ loss: 'bce-dice', optimizer: { type: 'adam', learningRate: 5e-3 }, localSteps: Number(values.steps), batchSize: 2, seed: 0 });
  const r = await trainVolumes({ model: buildZooModel('unet3d-segmenter', opts), spec, train, validation: test, round: 0, siteId: 'pooled' });
  const e = r.evaluation!;
  console.log(JSON.stringify({
    model: 'unet3d-segmenter', ...opts, steps: r.steps, batchSize: 2, trainVolumes: train.length, testVolumes: test.length,
    metric: 'dice', value: Math.round(e.dice * 10000) / 10000, target: TARGET, met: e.dice >= TARGET, hd95: e.hd95, perRegion: e.perRegion,
    firstLoss: r.lossCurve[0], lastEpochLoss: r.epochLosses.at(-1), seconds: Math.round(r.seconds * 10) / 10, executionProvider: r.executionProvider,
  }));
} finally {
  await rm(out, { recursive: true, force: true });
}
