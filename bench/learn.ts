// Learning check of the zoo models on the synthetic lesion task (held-out set from other seeds).
// Prints one JSON object per model: the held-out metric against its target.
// Usage: npm run bench:learn [-- --models cnn-classifier,unet-segmenter --norm batch|group]
import { parseArgs } from 'node:util';
import { makeLesionDataset } from '../lib/data/synthetic-arrays.js';
import { trainModel } from '../lib/model/trainer.js';
import { buildZooModel } from '../lib/model/zoo/index.js';
import { TrainingSpecSchema } from '../lib/schemas/training-spec.js';

const { values } = parseArgs({ options: { models: { type: 'string', default: 'cnn-classifier,unet-segmenter' }, norm: { type: 'string', default: 'batch' } } });
const norm = values.norm as 'batch' | 'group';

const SETUPS = {
  'cnn-classifier': { train: 2000, validation: 500, prevalence: 0.5, epochs: 5, batchSize: 32, loss: 'softmax-cross-entropy', metric: 'accuracy', target: 0.9 },
  'unet-segmenter': { train: 800, validation: 200, prevalence: 0.9, epochs: 5, batchSize: 16, loss: 'bce-dice', metric: 'dice', target: 0.75 },
} as const;

for (const name of values.models!.split(',') as Array<keyof typeof SETUPS>) {
  const s = SETUPS[name];
  const model = buildZooModel(name, { seed: 0, inputSize: 64, ...(norm === 'group' ? { norm } : {}) });
  const spec = TrainingSpecSchema.parse({ loss: s.loss, optimizer: { type: 'adam', learningRate: 2e-3 }, epochs: s.epochs, batchSize: s.batchSize, seed: 0 });
  const train = makeLesionDataset({ count: s.train, size: 64, seed: 100, prevalence: s.prevalence });
  const validation = makeLesionDataset({ count: s.validation, size: 64, seed: 200, prevalence: s.prevalence });
  const r = await trainModel({ model, spec, train, validation });
  const metrics = r.metrics as unknown as Record<string, number>;
  console.log(JSON.stringify({
    model: name, norm, inputSize: 64, trainSamples: s.train, validationSamples: s.validation, epochs: s.epochs, batchSize: s.batchSize,
    metric: s.metric, value: Math.round(metrics[s.metric] * 10000) / 10000, target: s.target, met: metrics[s.metric] >= s.target,
    metrics, firstLoss: r.lossCurve[0], lastEpochLoss: r.epochLosses.at(-1), seconds: Math.round(r.seconds * 10) / 10, executionProvider: r.executionProvider,
  }));
}
