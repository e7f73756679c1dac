// Held-out evaluation of an inference model (BatchNormalization with running statistics) on an
// array dataset, in batches.
import type { ArrayDataset } from '../data/synthetic-arrays.js';
import type { Model } from './graph.js';
import { classificationMetrics, type Metrics, segmentationMetrics } from './metrics.js';
import { createSession, floatOrt } from './runtime.js';
import { inferTask, outputActivation } from './foreign-model.js';

export type Task = 'classification' | 'segmentation';

/** The zoo's metadata, or for a model brought from elsewhere, what its output's shape says. */
export function taskOf(model: Model): Task {
  return inferTask(model);
}

/** Runs the model over the dataset; returns probabilities (softmax rows or per-pixel sigmoid). */
export async function predict(model: Model, data: ArrayDataset, opts: { batchSize?: number; threads?: number } = {}): Promise<Float32Array> {
  const session = await createSession(model, { threads: opts.threads });
  const task = taskOf(model);
  const input = model.graph.inputs[0].name;
  const output = model.graph.outputs[0].name;
  // A model that ends in its own Softmax or Sigmoid already outputs probabilities.
  const activated = outputActivation(model.graph) !== undefined;
  const per = data.imageShape.reduce((a, b) => a * b, 1);
  const batch = opts.batchSize ?? 64;
  const chunks: Float32Array[] = [];
  try {
    for (let start = 0; start < data.count; start += batch) {
      const n = Math.min(batch, data.count - start);
      const x = floatOrt([n, ...data.imageShape], data.images.subarray(start * per, (start + n) * per));
      const z = (await session.run({ [input]: x }))[output].data as Float32Array;
      chunks.push(activated ? z.slice() : task === 'classification' ? softmaxRows(z, z.length / n) : z.map((v) => 1 / (1 + Math.exp(-v))));
    }
  } finally {
    await session.release();
  }
  const out = new Float32Array(chunks.reduce((a, c) => a + c.length, 0));
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

function softmaxRows(z: Float32Array, k: number): Float32Array {
  const out = new Float32Array(z.length);
  for (let r = 0; r < z.length / k; r++) {
    let mx = -Infinity;
    for (let j = 0; j < k; j++) mx = Math.max(mx, z[r * k + j]);
    let s = 0;
    for (let j = 0; j < k; j++) s += out[r * k + j] = Math.exp(z[r * k + j] - mx);
    for (let j = 0; j < k; j++) out[r * k + j] /= s;
  }
  return out;
}

export async function evaluateModel(model: Model, data: ArrayDataset, opts: { batchSize?: number; threads?: number } = {}): Promise<Metrics> {
  const probs = await predict(model, data, opts);
  if (taskOf(model) === 'segmentation') return { task: 'segmentation', ...segmentationMetrics(probs, data.masks, data.count) };
  return { task: 'classification', ...classificationMetrics(probs, probs.length / data.count, data.labels) };
}
