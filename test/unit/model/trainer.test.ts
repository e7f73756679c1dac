import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeLesionDataset } from '../../../lib/data/synthetic-arrays.js';
import { NonFiniteLossError } from '../../../lib/errors.js';
import { predict } from '../../../lib/model/evaluate.js';
import { readModel, writeModel } from '../../../lib/model/onnx-io.js';
import { trainModel } from '../../../lib/model/trainer.js';
import { buildZooModel } from '../../../lib/model/zoo/index.js';
import { TrainingSpecSchema } from '../../../lib/schemas/training-spec.js';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const l2 = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));

describe('trainModel', () => {
  it('trains the classifier: loss falls and held-out accuracy beats chance clearly', async () => {
    const model = buildZooModel('cnn-classifier', { seed: 11, inputSize: 32, width: 8 });
    const spec = TrainingSpecSchema.parse({ loss: 'softmax-cross-entropy', optimizer: { type: 'adam', learningRate: 3e-3 }, epochs: 3, batchSize: 32, seed: 1 });
    const r = await trainModel({ model, spec, train: makeLesionDataset({ count: 800, size: 32, seed: 1 }), validation: makeLesionDataset({ count: 300, size: 32, seed: 2 }) });
    expect(r.steps).toBe(3 * 25);
    expect(mean(r.lossCurve.slice(-10))).toBeLessThan(0.6 * mean(r.lossCurve.slice(0, 5)));
    expect(r.metrics!.task).toBe('classification');
    if (r.metrics!.task === 'classification') {
      expect(r.metrics!.accuracy).toBeGreaterThan(0.75);
      expect(r.metrics!.rocAuc).toBeGreaterThan(0.85);
    }
    expect(r.executionProvider).toBe('cpu');
  });

  it('trains the U-Net: loss falls and held-out Dice is far above an empty or full mask', async () => {
    const model = buildZooModel('unet-segmenter', { seed: 12, inputSize: 32, width: 4 });
    const spec = TrainingSpecSchema.parse({ loss: 'bce-dice', optimizer: { type: 'adam', learningRate: 3e-3 }, epochs: 4, batchSize: 16, seed: 2 });
    const validation = makeLesionDataset({ count: 100, size: 32, seed: 4, prevalence: 0.9 });
    const r = await trainModel({ model, spec, train: makeLesionDataset({ count: 240, size: 32, seed: 3, prevalence: 0.9 }), validation });
    expect(mean(r.lossCurve.slice(-5))).toBeLessThan(0.8 * mean(r.lossCurve.slice(0, 5)));
    const lesionFraction = validation.masks.reduce((a, b) => a + b, 0) / validation.masks.length;
    const allOnesDice = (2 * lesionFraction) / (1 + lesionFraction);
    expect(r.metrics!.task).toBe('segmentation');
    if (r.metrics!.task === 'segmentation') expect(r.metrics!.dice).toBeGreaterThan(Math.max(0.5, 3 * allOnesDice));
  });

  it('exports a model that gives identical outputs after writing and reading it back', async () => {
    const model = buildZooModel('cnn-classifier', { seed: 13, inputSize: 16, width: 4 });
    const spec = TrainingSpecSchema.parse({ loss: 'softmax-cross-entropy', epochs: 1, batchSize: 16 });
    const data = makeLesionDataset({ count: 64, size: 16, seed: 5 });
    const r = await trainModel({ model, spec, train: data });
    const file = join(await mkdtemp(join(tmpdir(), 'fedrad-export-')), 'global.onnx');
    await writeModel(file, r.trained);
    const reloaded = await readModel(file);
    const before = await predict(r.trained, data);
    const after = await predict(reloaded, data);
    expect(after).toEqual(before);
    const untrained = await predict(model, data);
    expect(l2(after, untrained)).toBeGreaterThan(1e-3); // the weights did change
  });

  it('localSteps trains exactly that many batches, passing over the data again as needed, whatever the site size', async () => {
    const model = buildZooModel('cnn-classifier', { seed: 15, inputSize: 16, width: 4 });
    const spec = TrainingSpecSchema.parse({ loss: 'softmax-cross-entropy', localSteps: 7, batchSize: 16, seed: 4 });
    const small = await trainModel({ model, spec, train: makeLesionDataset({ count: 48, size: 16, seed: 7 }) });
    expect(small.steps).toBe(7); // 3 batches a pass: 3 + 3 + 1
    expect(small.lossCurve).toHaveLength(7);
    expect(small.epochLosses).toHaveLength(3);
    const large = await trainModel({ model, spec, train: makeLesionDataset({ count: 400, size: 16, seed: 8 }) });
    expect(large.steps).toBe(7); // less than one pass of 25 batches
    expect(large.epochLosses).toHaveLength(1);
    expect(large.epochLosses.every(Number.isFinite)).toBe(true);
  });

  it('refuses a spec that sets both epochs and localSteps, naming the field', () => {
    const r = TrainingSpecSchema.safeParse({ loss: 'softmax-cross-entropy', epochs: 3, localSteps: 10 });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0].path).toEqual(['localSteps']);
    expect(r.error!.issues[0].message).toMatch(/either epochs or localSteps/);
  });

  it('stops at a NaN loss, naming the step, and keeps nothing from it', async () => {
    const model = buildZooModel('cnn-classifier', { seed: 14, inputSize: 16, width: 4 });
    const data = makeLesionDataset({ count: 64, size: 16, seed: 6 });
    data.images[40 * 256 + 3] = Number.NaN; // one pixel of sample 40
    const spec = TrainingSpecSchema.parse({ loss: 'softmax-cross-entropy', epochs: 2, batchSize: 16, seed: 3 });
    const err = await trainModel({ model, spec, train: data }).catch((e) => e);
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect(err.message).toMatch(/training stopped at step \d+ \(epoch 1, batch starting at sample \d+\): the loss is NaN/);
    expect(err.context.step).toBeGreaterThanOrEqual(1);
    expect(err.context.step).toBeLessThanOrEqual(4);
  });

  it('FedProx keeps the local weights closer to the global model', async () => {
    const model = buildZooModel('cnn-classifier', { seed: 15, inputSize: 16, width: 4 });
    const data = makeLesionDataset({ count: 128, size: 16, seed: 7 });
    const drift = async (fedproxMu: number) => {
      const spec = TrainingSpecSchema.parse({ loss: 'softmax-cross-entropy', optimizer: { type: 'sgd', learningRate: 0.05, momentum: 0.9 }, epochs: 2, batchSize: 16, fedproxMu });
      const r = await trainModel({ model, spec, train: data, recalibrateBatchNorm: false });
      return l2(r.weights.get('stage2.conv.weight')!.data as Float32Array, model.graph.initializers.get('stage2.conv.weight')!.data as Float32Array);
    };
    const free = await drift(0);
    const proximal = await drift(5);
    expect(proximal).toBeLessThan(0.7 * free);
  });

  it('gradient clipping bounds each SGD step', async () => {
    const model = buildZooModel('cnn-classifier', { seed: 16, inputSize: 16, width: 4 });
    const data = makeLesionDataset({ count: 16, size: 16, seed: 8 });
    const step = async (gradientClipNorm?: number) => {
      const spec = TrainingSpecSchema.parse({ loss: 'softmax-cross-entropy', optimizer: { type: 'sgd', learningRate: 1, momentum: 0 }, epochs: 1, batchSize: 16, gradientClipNorm });
      const r = await trainModel({ model, spec, train: data, recalibrateBatchNorm: false });
      let sq = 0;
      for (const [name, t] of r.weights) {
        if (name.includes('running')) continue;
        sq += l2(t.data as Float32Array, model.graph.initializers.get(name)!.data as Float32Array) ** 2;
      }
      return Math.sqrt(sq);
    };
    expect(await step()).toBeGreaterThan(0.05);
    expect(await step(0.01)).toBeCloseTo(0.01, 4);
  });

  it('refuses data that does not fit the model, and a loss that does not fit the task', async () => {
    const model = buildZooModel('cnn-classifier', { seed: 17, inputSize: 16, width: 4 });
    const spec = TrainingSpecSchema.parse({ loss: 'softmax-cross-entropy' });
    await expect(trainModel({ model, spec, train: makeLesionDataset({ count: 8, size: 24, seed: 1 }) })).rejects.toThrow(/training images are \[1,24,24\] per sample but the model's input 'image' takes \[1,16,16\]/);
    await expect(trainModel({ model, spec: { ...spec, loss: 'soft-dice' }, train: makeLesionDataset({ count: 8, size: 16, seed: 1 }) })).rejects.toThrow(/loss 'soft-dice' does not fit a classification model/);
  });
});
