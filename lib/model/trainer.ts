// The local trainer: E epochs (or a fixed number of steps) over shuffled batches of one training-step graph on onnxruntime,
// swapping parameter, optimizer-state and running-statistic tensors between steps. Returns the
// trained weights, the loss curve and held-out metrics of the exported inference model.
import type { ArrayDataset } from '../data/synthetic-arrays.js';
import { InvalidSpecError, NonFiniteLossError, ShapeError } from '../errors.js';
import type { TrainingSpec } from '../schemas/training-spec.js';
import { Random } from '../util/random.js';
import { evaluateModel, type Task, taskOf } from './evaluate.js';
import { exportModel } from './export.js';
import type { Model, TensorData } from './graph.js';
import type { Metrics } from './metrics.js';
import { LEARNING_RATE_INPUT, STEP_INPUT } from './optimizers.js';
import { createSession, detectExecutionProvider, type ExecutionProvider, floatOrt, fromOrt, type OrtTensor, scalarOrt, toOrt } from './runtime.js';
import { buildStatisticsGraph, buildTrainingGraph, globalName, GRAD_NORM_OUTPUT, initialOptimizerState, LOSS_OUTPUT, TARGET_INPUT, type TrainingGraph } from './training-graph.js';

export interface TrainOptions {
  /** the global (inference) model to start from */
  model: Model;
  spec: TrainingSpec;
  train: ArrayDataset;
  validation?: ArrayDataset;
  threads?: number;
  log?: (message: string) => void;
  /** Recompute BatchNormalization running statistics with the final weights (default true). */
  recalibrateBatchNorm?: boolean;
  onStep?: (step: StepInfo) => void;
}

export interface StepInfo {
  epoch: number;
  step: number;
  loss: number;
  gradNorm: number;
}

export interface TrainResult {
  /** parameters and running statistics, named as the model's initializers */
  weights: Map<string, TensorData>;
  /** the inference model with the trained weights */
  trained: Model;
  lossCurve: number[];
  epochLosses: number[];
  metrics?: Metrics;
  steps: number;
  samples: number;
  executionProvider: ExecutionProvider;
  seconds: number;
}

/** Samples used to recompute running statistics at the end of training. */
const CALIBRATION_SAMPLES = 1024;

/** Averages each BatchNormalization's batch statistics over up to CALIBRATION_SAMPLES training samples, drawn at random. */
export async function recalibrateBatchNorm(model: Model, data: ArrayDataset, batchSize: number, seed: number, threads?: number): Promise<Map<string, TensorData>> {
  const sg = buildStatisticsGraph(model);
  const sums = new Map<string, Float64Array>();
  if (!sg) return new Map();
  const session = await createSession(sg.model, { threads });
  const per = data.imageShape.reduce((a, b) => a * b, 1);
  const order = new Random(seed + 1).shuffle(Array.from({ length: data.count }, (_, i) => i)).slice(0, CALIBRATION_SAMPLES);
  let batches = 0;
  try {
    for (let start = 0; start < order.length; start += batchSize) {
      const indices = order.slice(start, start + batchSize);
      if (indices.length < 2) break; // a one-sample batch has no variance
      const images = new Float32Array(indices.length * per);
      indices.forEach((s, i) => images.set(data.images.subarray(s * per, (s + 1) * per), i * per));
      const out = await session.run({ [sg.dataInput]: floatOrt([indices.length, ...data.imageShape], images) });
      for (const [input, output] of sg.batchOutputs) {
        const v = out[output].data as Float32Array;
        const acc = sums.get(input) ?? new Float64Array(v.length);
        for (let i = 0; i < v.length; i++) acc[i] += v[i];
        sums.set(input, acc);
      }
      batches++;
    }
  } finally {
    await session.release();
  }
  return new Map([...sums].map(([name, acc]) => [name, { dtype: 'float32' as const, dims: [acc.length], data: Float32Array.from(acc, (v) => v / batches) }]));
}

function checkData(model: Model, data: ArrayDataset, what: string): void {
  const expected = model.graph.inputs[0].shape.slice(1);
  const got = data.imageShape;
  if (expected.length !== got.length || expected.some((d, i) => typeof d === 'number' && d !== got[i])) {
    throw new ShapeError(`${what} images are [${got}] per sample but the model's input '${model.graph.inputs[0].name}' takes [${expected}]`, { expected, got });
  }
  if (data.count < 1) throw new InvalidSpecError(`${what} set is empty`, {});
}

/** Builds one batch's target: one-hot rows for classification, masks for segmentation. */
function fillTarget(task: Task, data: ArrayDataset, indices: number[], classes: number, pixels: number, out: Float32Array): void {
  if (task === 'classification') {
    out.fill(0);
    indices.forEach((s, i) => {
      out[i * classes + data.labels[s]] = 1;
    });
  } else {
    indices.forEach((s, i) => out.set(data.masks.subarray(s * pixels, (s + 1) * pixels), i * pixels));
  }
}

export async function trainModel(opts: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  const { model, spec, train } = opts;
  const log = opts.log ?? (() => {});
  checkData(model, train, 'training');
  if (opts.validation) checkData(model, opts.validation, 'validation');
  const task = taskOf(model);
  const lossName = spec.loss;
  if ((task === 'classification') !== (lossName === 'softmax-cross-entropy')) {
    throw new InvalidSpecError(`loss '${lossName}' does not fit a ${task} model; use ${task === 'classification' ? "'softmax-cross-entropy'" : "'sigmoid-bce', 'soft-dice' or 'bce-dice'"}`, { loss: lossName, task });
  }
  const tg: TrainingGraph = buildTrainingGraph(model, { loss: lossName, optimizer: spec.optimizer, gradientClipNorm: spec.gradientClipNorm, fedproxMu: spec.fedproxMu });
  const ep = await detectExecutionProvider();
  const session = await createSession(tg.model, { threads: opts.threads, executionProvider: ep });
  const passes = spec.localSteps === undefined ? spec.epochs : Math.ceil(spec.localSteps / Math.ceil(train.count / spec.batchSize));
  const budget = spec.localSteps === undefined ? `${spec.epochs} epoch(s)` : `${spec.localSteps} step(s) (${passes} pass(es))`;
  log(`training ${model.graph.name} on ${ep.toUpperCase()}: ${tg.params.length} parameter tensors, ${train.count} samples, ${budget} of batch ${spec.batchSize}`);

  const init = model.graph.initializers;
  const state = new Map<string, OrtTensor>();
  for (const name of [...tg.params, ...tg.buffers]) state.set(name, toOrt(init.get(name)!));
  for (const [name, t] of initialOptimizerState(tg, init)) state.set(name, toOrt(t));
  const globals: Record<string, OrtTensor> = {};
  if (tg.fedprox) for (const p of tg.params) globals[globalName(p)] = toOrt(init.get(p)!);

  const classes = Number(tg.targetShape[1]);
  const pixels = train.imageShape.reduce((a, b) => a * b, 1);
  const targetPer = task === 'classification' ? classes : pixels;
  const rng = new Random(spec.seed);
  const order = Array.from({ length: train.count }, (_, i) => i);
  const lossCurve: number[] = [];
  const epochLosses: number[] = [];
  const lr = scalarOrt(spec.optimizer.learningRate);
  let step = 0;
  try {
    for (let epoch = 0; epoch < passes; epoch++) {
      rng.shuffle(order);
      let epochLoss = 0;
      let seen = 0;
      for (let start = 0; start < train.count && step !== spec.localSteps; start += spec.batchSize) {
        const indices = order.slice(start, start + spec.batchSize);
        const n = indices.length;
        const images = new Float32Array(n * pixels);
        indices.forEach((s, i) => images.set(train.images.subarray(s * pixels, (s + 1) * pixels), i * pixels));
        const target = new Float32Array(n * targetPer);
        fillTarget(task, train, indices, classes, pixels, target);
        step++;
        const feeds: Record<string, OrtTensor> = {
          ...Object.fromEntries(state),
          ...globals,
          [tg.dataInput]: floatOrt([n, ...train.imageShape], images),
          [TARGET_INPUT]: floatOrt(task === 'classification' ? [n, classes] : [n, ...train.imageShape], target),
          [LEARNING_RATE_INPUT]: lr,
        };
        if (tg.usesStep) feeds[STEP_INPUT] = scalarOrt(step);
        const out = await session.run(feeds);
        const loss = (out[LOSS_OUTPUT].data as Float32Array)[0];
        const gradNorm = (out[GRAD_NORM_OUTPUT].data as Float32Array)[0];
        if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
          throw new NonFiniteLossError(
            `training stopped at step ${step} (epoch ${epoch + 1}, batch starting at sample ${start}): the loss is ${loss} and the gradient norm ${gradNorm}. ` +
              'The weights from before this step are kept. Lower the learning rate, set gradientClipNorm, or check the input data for NaN/Inf.',
            { step, epoch: epoch + 1, loss, gradNorm },
          );
        }
        for (const [input, output] of tg.carried) state.set(input, out[output]);
        lossCurve.push(loss);
        epochLoss += loss * n;
        seen += n;
        opts.onStep?.({ epoch: epoch + 1, step, loss, gradNorm });
      }
      epochLosses.push(epochLoss / seen);
      log(`epoch ${epoch + 1}/${passes}: mean loss ${(epochLoss / seen).toFixed(4)}${seen < train.count ? ` (${seen} of ${train.count} samples: the step budget ended the pass)` : ''}`);
    }
  } finally {
    await session.release();
  }
  const weights = new Map<string, TensorData>();
  for (const name of [...tg.params, ...tg.buffers]) weights.set(name, fromOrt(state.get(name)!));
  if (opts.recalibrateBatchNorm ?? true) {
    for (const [name, t] of await recalibrateBatchNorm(exportModel(model, weights).model, train, spec.batchSize, spec.seed, opts.threads)) weights.set(name, t);
  }
  const trained = exportModel(model, weights).model;
  const metrics = opts.validation ? await evaluateModel(trained, opts.validation, { threads: opts.threads }) : undefined;
  if (metrics) log(`held-out ${JSON.stringify(metrics)}`);
  return { weights, trained, lossCurve, epochLosses, metrics, steps: step, samples: train.count, executionProvider: ep, seconds: (performance.now() - started) / 1000 };
}
