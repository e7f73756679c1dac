// Local training of a 3D segmentation model on patches: each step draws a batch of random patches
// (foreground-oversampled, flipped, intensity-shifted; lib/model/patches.ts) from a stream seeded by
// the run's seed, the round and the site, so a rerun is identical; validation runs sliding-window
// inference over whole volumes and reports Dice and HD95 per region. The 2D trainer (trainer.ts)
// feeds whole images; this one is its volumetric counterpart with the same result shape.
import { totalmem } from 'node:os';
import { InvalidSpecError, NonFiniteLossError, ShapeError } from '../errors.js';
import type { TrainingSpec } from '../schemas/training-spec.js';
import { Random } from '../util/random.js';
import { exportModel } from './export.js';
import type { Model, TensorData } from './graph.js';
import { type RegionMetrics, volumeMetrics } from './metrics-3d.js';
import type { Metrics } from './metrics.js';
import { trainingStepMemory } from './memory.js';
import { encodeModel } from './onnx-io.js';
import { LEARNING_RATE_INPUT, STEP_INPUT } from './optimizers.js';
import { DEFAULT_PATCH_OPTIONS, type Normalization, type PatchOptions, type PatchVolume, patchSeed, prepareVolume, type PreparedVolume, samplePatches } from './patches.js';
import { createSession, detectExecutionProvider, type ExecutionProvider, floatOrt, fromOrt, type OrtTensor, scalarOrt, toOrt } from './runtime.js';
import { sessionPredictor, slidingWindow } from './sliding-window.js';
import { buildTrainingGraph, globalName, GRAD_NORM_OUTPUT, initialOptimizerState, LOSS_OUTPUT, TARGET_INPUT } from './training-graph.js';

/** A volume with its voxel spacing (mm), for HD95. */
export type SpacedVolume = PatchVolume & { spacing: [number, number, number] };

/** Patches per training volume in one epoch (when the spec gives epochs, not localSteps). */
export const PATCHES_PER_VOLUME = 4;

export interface VolumeTrainOptions {
  model: Model;
  spec: TrainingSpec;
  train: readonly PatchVolume[];
  validation?: readonly SpacedVolume[];
  /** the patch stream's identity: seeded by spec.seed, round and site */
  round: number;
  siteId: string;
  normalization?: Normalization;
  patch?: Partial<Omit<PatchOptions, 'patch'>>;
  threads?: number;
  log?: (message: string) => void;
  /** memory a step may take (default: this machine's total); a site with a GPU passes the device's */
  memoryLimitBytes?: number;
}

/** Measured resident growth of a step was up to 2.8x the shape estimate (bench/train-3d.ts): keep 3x. */
export const STEP_MEMORY_FACTOR = 3;

/** Refuses, before any work, a batch of patches whose training step cannot fit `limit` bytes. */
export function checkStepMemory(model: Model, batch: number, limit: number): number {
  const need = STEP_MEMORY_FACTOR * trainingStepMemory(model, batch).estimateBytes;
  if (need > limit) {
    const { channels, patch } = volumeModelShape(model);
    const gib = (b: number) => (b / 1024 ** 3).toFixed(2);
    throw new InvalidSpecError(
      `a training step of ${batch} patch(es) of ${patch}^3 x ${channels} channel(s) needs about ${gib(need)} GiB, more than the ${gib(limit)} GiB available: ` +
        'lower training.batchSize, model.inputSize (the patch edge) or model.width',
      { batch, patch, needBytes: need, limitBytes: limit },
    );
  }
  return need;
}

export interface VolumeEvaluation {
  /** mean over volumes and regions */
  dice: number;
  /** mean over volumes and regions where defined, mm */
  hd95: number | null;
  perRegion: Array<{ dice: number; hd95: number | null }>;
  count: number;
}

export interface VolumeTrainResult {
  weights: Map<string, TensorData>;
  trained: Model;
  lossCurve: number[];
  epochLosses: number[];
  metrics?: Metrics;
  evaluation?: VolumeEvaluation;
  steps: number;
  samples: number;
  executionProvider: ExecutionProvider;
  seconds: number;
}

/** [C, p, p, p] and the number of regions, from a 3D segmentation model's input and output. */
export function volumeModelShape(model: Model): { channels: number; patch: number; regions: number } {
  const input = model.graph.inputs[0].shape;
  const output = model.graph.outputs[0].shape;
  const [, c, d, h, w] = input;
  if (input.length !== 5 || typeof c !== 'number' || typeof d !== 'number' || d !== h || d !== w) {
    throw new ShapeError(`a 3D model takes [N, C, p, p, p] (a cubic patch); '${model.graph.inputs[0].name}' is [${input.join(', ')}]`, { input });
  }
  if (output.length !== 5 || typeof output[1] !== 'number') throw new ShapeError(`a 3D segmentation model gives [N, regions, p, p, p]; its output is [${output.join(', ')}]`, { output });
  return { channels: c, patch: d, regions: output[1] };
}

/** Sliding-window evaluation of an inference model over whole volumes. */
export async function evaluateVolumes(model: Model, volumes: readonly SpacedVolume[], opts: { normalization?: Normalization; threads?: number; regionSets?: readonly number[][] } = {}): Promise<VolumeEvaluation> {
  const { channels, patch, regions } = volumeModelShape(model);
  const sets = opts.regionSets ?? DEFAULT_PATCH_OPTIONS.regions;
  if (sets.length !== regions) throw new InvalidSpecError(`the model gives ${regions} region(s) but ${sets.length} region label set(s) were given`, { regions });
  const session = await createSession(encodeModel(model), { threads: opts.threads });
  const all: RegionMetrics[][] = [];
  try {
    for (const v of volumes) {
      if (v.channels !== channels) throw new ShapeError(`a volume has ${v.channels} channel(s); the model takes ${channels}`, { channels: v.channels });
      const prepared = prepareVolume(v, opts.normalization ?? { kind: 'zscore' }, sets);
      const probs = await slidingWindow(prepared.image, v.size, sessionPredictor(session, patch, channels), { patch, channels, regions });
      all.push(volumeMetrics(probs, prepared.target, regions, v.size, v.spacing));
    }
  } finally {
    await session.release();
  }
  const perRegion = Array.from({ length: regions }, (_, r) => {
    const hds = all.map((m) => m[r].hd95).filter((x): x is number => x !== null);
    return { dice: all.reduce((a, m) => a + m[r].dice, 0) / all.length, hd95: hds.length ? hds.reduce((a, b) => a + b, 0) / hds.length : null };
  });
  const hds = perRegion.map((r) => r.hd95).filter((x): x is number => x !== null);
  return { dice: perRegion.reduce((a, r) => a + r.dice, 0) / regions, hd95: hds.length ? hds.reduce((a, b) => a + b, 0) / hds.length : null, perRegion, count: volumes.length };
}

export function evaluationMetrics(e: VolumeEvaluation): Metrics {
  return { task: 'segmentation', dice: e.dice, iou: e.dice / (2 - e.dice), count: e.count };
}

export async function trainVolumes(o: VolumeTrainOptions): Promise<VolumeTrainResult> {
  const started = performance.now();
  const log = o.log ?? (() => {});
  const { channels, patch, regions } = volumeModelShape(o.model);
  const patchOptions: PatchOptions = { ...DEFAULT_PATCH_OPTIONS, ...o.patch, patch };
  if (patchOptions.regions.length !== regions) throw new InvalidSpecError(`the model gives ${regions} region(s) but ${patchOptions.regions.length} region label set(s) were given`, { regions });
  if (o.spec.loss === 'softmax-cross-entropy') throw new InvalidSpecError("loss 'softmax-cross-entropy' does not fit a 3D segmentation model; use 'sigmoid-bce', 'soft-dice' or 'bce-dice'", { loss: o.spec.loss });
  if (o.train.length === 0) throw new InvalidSpecError('the training set has no volumes', {});
  for (const v of o.train) if (v.channels !== channels) throw new ShapeError(`a training volume has ${v.channels} channel(s); the model takes ${channels}`, { channels: v.channels });
  const need = checkStepMemory(o.model, o.spec.batchSize, o.memoryLimitBytes ?? totalmem());
  const normalization = o.normalization ?? { kind: 'zscore' };
  const prepared: PreparedVolume[] = o.train.map((v) => prepareVolume(v, normalization, patchOptions.regions));
  const tg = buildTrainingGraph(o.model, { loss: o.spec.loss, optimizer: o.spec.optimizer, gradientClipNorm: o.spec.gradientClipNorm, fedproxMu: o.spec.fedproxMu });
  if (tg.buffers.length > 0) throw new InvalidSpecError('3D patch training supports instance and group norm only (BatchNorm running statistics are not recalibrated on patches); build the model with norm "instance" or "group"', {});
  const ep = await detectExecutionProvider();
  const session = await createSession(tg.model, { threads: o.threads, executionProvider: ep });
  const batch = o.spec.batchSize;
  const stepsPerEpoch = Math.max(1, Math.ceil((o.train.length * PATCHES_PER_VOLUME) / batch));
  const steps = o.spec.localSteps ?? o.spec.epochs * stepsPerEpoch;
  log(`training ${o.model.graph.name} on ${ep.toUpperCase()}: ${o.train.length} volumes, ${steps} step(s) of ${batch} patches of ${patch}^3 x ${channels} channel(s), about ${Math.ceil(need / 1024 ** 2)} MiB a step`);
  const init = o.model.graph.initializers;
  const state = new Map<string, OrtTensor>();
  for (const name of tg.params) state.set(name, toOrt(init.get(name)!));
  for (const [name, t] of initialOptimizerState(tg, init)) state.set(name, toOrt(t));
  const globals: Record<string, OrtTensor> = {};
  if (tg.fedprox) for (const p of tg.params) globals[globalName(p)] = toOrt(init.get(p)!);
  const rng = new Random(patchSeed(o.spec.seed, o.round, o.siteId));
  const lr = scalarOrt(o.spec.optimizer.learningRate);
  const lossCurve: number[] = [];
  const epochLosses: number[] = [];
  let acc = 0;
  let inEpoch = 0;
  try {
    for (let step = 1; step <= steps; step++) {
      const b = samplePatches(prepared, batch, rng, patchOptions);
      const feeds: Record<string, OrtTensor> = {
        ...Object.fromEntries(state),
        ...globals,
        [tg.dataInput]: floatOrt([batch, channels, patch, patch, patch], b.images),
        [TARGET_INPUT]: floatOrt([batch, regions, patch, patch, patch], b.targets),
        [LEARNING_RATE_INPUT]: lr,
      };
      if (tg.usesStep) feeds[STEP_INPUT] = scalarOrt(step);
      const out = await session.run(feeds);
      const loss = (out[LOSS_OUTPUT].data as Float32Array)[0];
      const gradNorm = (out[GRAD_NORM_OUTPUT].data as Float32Array)[0];
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        throw new NonFiniteLossError(`training stopped at step ${step}: the loss is ${loss} and the gradient norm ${gradNorm}. Lower the learning rate, set gradientClipNorm, or check the volumes for NaN/Inf.`, { step, loss, gradNorm });
      }
      for (const [input, output] of tg.carried) state.set(input, out[output]);
      lossCurve.push(loss);
      acc += loss;
      inEpoch++;
      if (inEpoch === stepsPerEpoch || step === steps) {
        epochLosses.push(acc / inEpoch);
        log(`patch epoch ${epochLosses.length}: mean loss ${(acc / inEpoch).toFixed(4)}`);
        acc = 0;
        inEpoch = 0;
      }
    }
  } finally {
    await session.release();
  }
  const weights = new Map<string, TensorData>();
  for (const name of tg.params) weights.set(name, fromOrt(state.get(name)!));
  const trained = exportModel(o.model, weights).model;
  const evaluation = o.validation?.length ? await evaluateVolumes(trained, o.validation, { normalization, threads: o.threads, regionSets: patchOptions.regions }) : undefined;
  if (evaluation) log(`held-out volumes: Dice ${evaluation.dice.toFixed(4)}, HD95 ${evaluation.hd95?.toFixed(2) ?? 'undefined'} mm`);
  return {
    weights, trained, lossCurve, epochLosses, evaluation, metrics: evaluation && evaluationMetrics(evaluation),
    steps, samples: o.train.length, executionProvider: ep, seconds: (performance.now() - started) / 1000,
  };
}

/** The voxel grid 3D models train on unless the model's metadata says otherwise ('fedrad.spacing': "2,2,2"). */
export const VOLUME_SPACING_MM: [number, number, number] = [2, 2, 2];

export function volumeSpacingOf(model: Model): [number, number, number] {
  const text = model.metadata['fedrad.spacing'];
  if (!text) return VOLUME_SPACING_MM;
  const v = text.split(',').map(Number);
  if (v.length !== 3 || v.some((x) => !(x > 0))) throw new InvalidSpecError(`model metadata fedrad.spacing must be three positive millimetre values like "2,2,2"; got "${text.slice(0, 40)}"`, {});
  return v as [number, number, number];
}
