// The round-0 global model of a run: a zoo model built from its seed, or the ONNX model a researcher
// brought, read from the models bucket and pinned by its SHA-256. A brought model is checked here
// (it decodes, its training graph builds, its task fits its loss) and written as an inference model
// (BatchNormalization in inference mode whatever mode it was exported in) with its task and loss in
// its metadata, so every site and every later global model treats it the same way.
import { FedradError } from '../errors.js';
import { DEFAULT_LOSS, inferTask, toInferenceModel } from '../model/foreign-model.js';
import type { Model } from '../model/graph.js';
import { decodeModel, sha256 } from '../model/onnx-io.js';
import { buildTrainingGraph } from '../model/training-graph.js';
import { buildZooModel } from '../model/zoo/index.js';
import type { RunModel } from '../schemas/run-input.js';
import type { BlobStore } from '../storage/blob-store.js';
import { quoteUntrusted } from '../util/untrusted-text.js';
import { InvalidRunInputError } from './errors.js';

/** Largest ONNX model a run takes (the aggregation keeps a few copies in memory). */
export const MAX_MODEL_BYTES = 512 * 1024 * 1024;

export interface RunModelSource {
  store: BlobStore;
  modelsBucket: string;
}

/** The brought model's bytes made into the run's model: inference form, task and loss in the metadata. */
export function prepareBroughtModel(bytes: Uint8Array, source: string, o: { task?: 'classification' | 'segmentation'; loss?: string } = {}): { model: Model; changes: string[] } {
  const { model, changes } = toInferenceModel(decodeModel(bytes, source));
  const task = o.task ?? inferTask(model);
  const loss = o.loss ?? DEFAULT_LOSS[task];
  return { model: { ...model, metadata: { ...model.metadata, 'fedrad.task': task, 'fedrad.loss': loss, 'fedrad.source-sha256': sha256(bytes) } }, changes };
}

export async function loadRunModel(src: RunModelSource, spec: RunModel): Promise<Model> {
  if ('zoo' in spec) return buildZooModel(spec.zoo, spec);
  const { key, sha256: expected } = spec.onnx;
  const where = `model.onnx.key ${quoteUntrusted(key, 200)}`;
  const info = await src.store.head(src.modelsBucket, key);
  if (!info) throw new InvalidRunInputError(`${where}: there is no such object in the models bucket ${src.modelsBucket}; upload it with 'fedrad model upload <file>', which prints the run input to use`, { field: 'model.onnx.key', key });
  if (info.size > MAX_MODEL_BYTES) throw new InvalidRunInputError(`${where}: the object has ${info.size} bytes, more than the ${MAX_MODEL_BYTES} a run takes`, { field: 'model.onnx.key', size: info.size });
  const bytes = await src.store.get(src.modelsBucket, key);
  const actual = sha256(bytes);
  if (actual !== expected) {
    throw new InvalidRunInputError(`model.onnx.sha256: the object ${quoteUntrusted(key, 200)} has SHA-256 ${actual}, not ${expected} as the run input says; the object was replaced, or the hash is of another file`, { field: 'model.onnx.sha256', expected, actual });
  }
  try {
    const { model } = prepareBroughtModel(bytes, key, { task: spec.task, loss: spec.loss });
    const loss = model.metadata['fedrad.loss'] as NonNullable<typeof spec.loss>;
    const task = model.metadata['fedrad.task'];
    if ((task === 'classification') !== (loss === 'softmax-cross-entropy')) throw new InvalidRunInputError(`model.loss: '${loss}' does not fit a ${task} model; use ${task === 'classification' ? "'softmax-cross-entropy'" : "'sigmoid-bce', 'soft-dice' or 'bce-dice'"}`, { field: 'model.loss' });
    // The sites will build this graph: a model they cannot train is refused before any round.
    buildTrainingGraph(model, { loss, optimizer: { type: 'sgd', learningRate: 0, momentum: 0, weightDecay: 0 } });
    return model;
  } catch (err) {
    if (err instanceof InvalidRunInputError || !(err instanceof FedradError)) throw err;
    throw new InvalidRunInputError(`${where} cannot be trained: ${err.message} ('fedrad model check' on the file says what to change)`, { field: 'model.onnx.key', ...err.context }, { cause: err });
  }
}
