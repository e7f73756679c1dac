// `fedrad model check`: will this ONNX model train in fedrad? Builds the training graph the sites
// would build, runs one SGD step on random input of the model's shape, and reports either the
// figures (parameters, running statistics, FLOPs, memory per batch size, task and loss) or the
// first op that blocks training, its node, and what to change in the export.
import { FedradError, InvalidSpecError } from '../errors.js';
import type { LossName } from '../schemas/training-spec.js';
import { foldConstants } from './fold-constants.js';
import { countFlops } from './flops.js';
import { DEFAULT_LOSS, inferTask, type ModelTask, outputShape, toInferenceModel } from './foreign-model.js';
import { type Model, numel } from './graph.js';
import { decodeModel, listInitializers, sha256 } from './onnx-io.js';
import { createSession, floatOrt, scalarOrt, toOrt } from './runtime.js';
import { inferShapes } from './shapes.js';
import { buildTrainingGraph, GRAD_NORM_OUTPUT, LOSS_OUTPUT, MAX_OPSET, TARGET_INPUT } from './training-graph.js';
import { SUPPORTED_OPS } from './lower.js';
import { escapeUntrusted } from '../util/untrusted-text.js';

export interface BlockingIssue {
  /** the op that blocks training ('' when the model as a whole does) */
  op: string;
  /** the node's name in the export ('' when none) */
  node: string;
  message: string;
  /** what to change in the model or the export */
  advice: string;
}

export interface ModelCheck {
  source: string;
  sha256: string;
  opset: number;
  producer: string;
  trainable: boolean;
  blocking?: BlockingIssue;
  task: ModelTask;
  /** 'output-shape' when read from the model, 'option' when given */
  taskFrom: 'output-shape' | 'metadata' | 'option';
  loss: LossName;
  input: { name: string; shape: Array<number | string> } | undefined;
  outputShape: number[] | undefined;
  parameters: number;
  runningStatistics: number;
  /** nodes the constant-folding pass evaluates away before training */
  foldedNodes: number;
  /** what the global model a run writes changes against this file (inference form) */
  inferenceChanges: string[];
  flopsPerSample?: { forward: number; trainingStep: number };
  /** estimated peak memory of one training step, bytes, per batch size */
  peakMemory?: Array<{ batchSize: number; bytes: number }>;
  /** the one SGD step on random input */
  step?: { batchSize: number; loss: number; gradNorm: number };
}

const ADVICE: Record<string, string> = {
  Erf: 'use ReLU or LeakyReLU instead of GELU (GELU exports as Erf)',
  Gelu: 'use ReLU or LeakyReLU instead of GELU',
  Pad: "pad in the convolution (nn.Conv2d(..., padding=1)) instead of F.pad / nn.ZeroPad2d",
  LayerNormalization: 'use BatchNorm or GroupNorm',
  Slice: 'avoid slicing activations (crop with padding in the convolutions instead)',
  Clip: 'use ReLU instead of ReLU6/clamp',
  HardSigmoid: 'use Sigmoid',
  GlobalMaxPool: 'use global average pooling (nn.AdaptiveAvgPool2d(1))',
  Einsum: 'express the product with nn.Linear or torch.matmul',
};

function adviceFor(op: string, message: string): string {
  if (/group=/.test(message)) return 'use groups=1 convolutions';
  if (/max pooling/.test(message)) return 'use non-overlapping max pooling (kernel_size == stride, no padding) and input sizes divisible by it';
  if (/mode '/.test(message) && op === 'Resize') return "upsample with mode='nearest' (nn.Upsample(scale_factor=2, mode='nearest'))";
  if (/ceil_mode/.test(message)) return 'export with ceil_mode=False';
  if (/opset/.test(message)) return `re-export with torch.onnx.export(..., opset_version=17) (13-${MAX_OPSET} train)`;
  if (/data inputs/.test(message)) return 'export a model with one image input (pass one tensor to torch.onnx.export)';
  if (/segmentation model must output/.test(message)) return 'pass --task classification, or make the model output one logit per pixel ([N, 1, H, W])';
  if (/does not fit a/.test(message)) return 'pass a loss of the task: softmax-cross-entropy for classification; sigmoid-bce, soft-dice or bce-dice for segmentation';
  if (/dynamic batch/.test(message)) return 'flatten with torch.flatten(x, 1) or x.view(x.size(0), -1); keep spatial sizes static';
  if (!op) return 'see docs/bring-your-own-model.md for what fedrad trains';
  return ADVICE[op] ?? `build the model from ops fedrad differentiates: ${SUPPORTED_OPS.join(', ')}`;
}

function blockingFrom(err: unknown): BlockingIssue {
  const e = err as FedradError;
  const ctx = (e.context ?? {}) as Record<string, unknown>;
  // Names and ops come from the file: escaped and bounded.
  const op = typeof ctx.op === 'string' ? escapeUntrusted(ctx.op, 64) : '';
  const node = typeof ctx.node === 'string' ? escapeUntrusted(ctx.node, 120) : '';
  return { op, node, message: escapeUntrusted(e.message, 800), advice: adviceFor(op, e.message) };
}

/** Bytes of one training step: weights, gradients and two optimizer moments, plus each forward value kept for backward and its gradient. */
function estimateMemory(model: Model, batchSizes: number[]): Array<{ batchSize: number; bytes: number }> {
  const g = foldConstants(model.graph).graph;
  const fixed = { ...g, inputs: g.inputs.map((i) => ({ ...i, shape: i.shape.map((d, k) => (k === 0 ? 1 : d)) })) };
  const shapes = inferShapes(fixed);
  let perSample = 0;
  for (const node of g.nodes) for (const o of node.outputs) {
    const s = shapes.get(o);
    if (s && o !== '') perSample += numel(s) * 4;
  }
  let weights = 0;
  for (const t of g.initializers.values()) weights += numel(t.dims) * 4;
  return batchSizes.map((batchSize) => ({ batchSize, bytes: 4 * weights + 2 * perSample * batchSize }));
}

export interface CheckOptions {
  task?: ModelTask;
  loss?: LossName;
  batchSizes?: number[];
  /** batch of the one training step (default 2) */
  stepBatch?: number;
}

export async function checkModel(bytes: Uint8Array, source: string, o: CheckOptions = {}): Promise<ModelCheck> {
  const { model, changes } = toInferenceModel(decodeModel(bytes, source));
  const metaTask = model.metadata['fedrad.task'];
  const task = o.task ?? inferTask(model);
  const taskFrom = o.task ? 'option' : metaTask ? 'metadata' : 'output-shape';
  const loss = o.loss ?? DEFAULT_LOSS[task];
  const inits = listInitializers(model);
  const total = (role: string) => inits.filter((i) => i.role === role).reduce((a, i) => a + i.size, 0);
  const input = model.graph.inputs[0];
  const report: ModelCheck = {
    source,
    sha256: sha256(bytes),
    opset: model.opset,
    producer: model.producer,
    trainable: false,
    task,
    taskFrom,
    loss,
    input: input && { name: input.name, shape: input.shape },
    outputShape: undefined,
    parameters: total('parameter'),
    runningStatistics: total('running-statistic'),
    foldedNodes: 0,
    inferenceChanges: changes,
  };
  try {
    report.outputShape = outputShape(model);
    report.foldedNodes = foldConstants(model.graph).foldedNodes;
    if ((task === 'classification') !== (loss === 'softmax-cross-entropy')) {
      throw new InvalidSpecError(`loss '${loss}' does not fit a ${task} model; use ${task === 'classification' ? "'softmax-cross-entropy'" : "'sigmoid-bce', 'soft-dice' or 'bce-dice'"}`, { loss, task });
    }
    if (task === 'segmentation' && report.outputShape && report.outputShape[1] !== 1) {
      throw new InvalidSpecError(`a segmentation model must output one logit per pixel or voxel ([N, 1, ...]); this one outputs [${report.outputShape.map((d) => (d < 0 ? 'N' : d)).join(', ')}]`, { shape: report.outputShape });
    }
    const tg = buildTrainingGraph(model, { loss, optimizer: { type: 'sgd', learningRate: 0.01, momentum: 0, weightDecay: 0 } });
    const n = o.stepBatch ?? 2;
    const dims = input.shape.map((d, i) => (i === 0 ? n : typeof d === 'number' ? d : Number.NaN));
    if (dims.some((d) => !Number.isInteger(d))) throw new InvalidSpecError(`input '${input.name}' has shape [${input.shape.join(', ')}]: only the batch (first) dimension may be dynamic`, { shape: input.shape });
    const targetDims = tg.targetShape.map((d, i) => (i === 0 ? n : Number(d)));
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const target = new Float32Array(numel(targetDims));
    if (loss === 'softmax-cross-entropy') for (let r = 0; r < n; r++) target[r * targetDims[1] + (r % targetDims[1])] = 1;
    else target.forEach((_, i) => (target[i] = rand() > 0.6 ? 1 : 0));
    const session = await createSession(tg.model, { threads: 1 });
    try {
      const feeds: Record<string, ReturnType<typeof toOrt>> = {
        [tg.dataInput]: floatOrt(dims, Float32Array.from({ length: numel(dims) }, rand)),
        [TARGET_INPUT]: floatOrt(targetDims, target),
        learning_rate: scalarOrt(0.01),
      };
      for (const name of [...tg.params, ...tg.buffers]) feeds[name] = toOrt(model.graph.initializers.get(name)!);
      const out = await session.run(feeds);
      const stepLoss = (out[LOSS_OUTPUT].data as Float32Array)[0];
      const gradNorm = (out[GRAD_NORM_OUTPUT].data as Float32Array)[0];
      report.step = { batchSize: n, loss: stepLoss, gradNorm };
      if (!Number.isFinite(stepLoss) || !Number.isFinite(gradNorm)) throw new InvalidSpecError(`one training step on random input gave loss ${stepLoss} and gradient norm ${gradNorm}`, {});
    } finally {
      await session.release();
    }
    report.flopsPerSample = countFlops({ ...model, graph: foldConstants(model.graph).graph });
    report.peakMemory = estimateMemory(model, o.batchSizes ?? [1, 8, 32]);
    report.trainable = true;
  } catch (err) {
    if (!(err instanceof FedradError)) throw err;
    report.blocking = blockingFrom(err);
  }
  return report;
}

const mib = (b: number) => `${(b / 1024 ** 2).toFixed(1)} MiB`;

/** The report as lines for a terminal. */
export function formatModelCheck(c: ModelCheck): string {
  const lines = [
    `${c.source}: ${c.trainable ? 'TRAINABLE' : 'NOT TRAINABLE'}`,
    `sha256      ${c.sha256}`,
    `opset       ${c.opset}   producer ${c.producer || '-'}`,
    `input       ${c.input ? `${c.input.name} [${c.input.shape.join(', ')}]` : '-'}`,
    `output      ${c.outputShape ? `[${c.outputShape.map((d) => (d < 0 ? 'N' : d)).join(', ')}]` : '-'}`,
    `task        ${c.task} (${c.taskFrom === 'option' ? 'from --task' : c.taskFrom === 'metadata' ? "from the model's metadata" : 'from the output shape; --task overrides'})   loss ${c.loss}`,
    `parameters  ${c.parameters.toLocaleString('en-US')}   running statistics ${c.runningStatistics.toLocaleString('en-US')}`,
  ];
  if (c.foldedNodes) lines.push(`folded      ${c.foldedNodes} Constant/shape nodes into initializers for training`);
  if (c.flopsPerSample) lines.push(`FLOPs       ${(c.flopsPerSample.forward / 1e6).toFixed(2)} M forward, ${(c.flopsPerSample.trainingStep / 1e6).toFixed(2)} M per training step, per sample`);
  if (c.peakMemory) lines.push(`memory      ${c.peakMemory.map((m) => `batch ${m.batchSize}: ~${mib(m.bytes)}`).join(', ')} (estimated)`);
  if (c.step) lines.push(`one step    batch ${c.step.batchSize}: loss ${c.step.loss.toFixed(4)}, gradient norm ${c.step.gradNorm.toFixed(4)}`);
  for (const ch of c.inferenceChanges) lines.push(`global model: ${ch}`);
  if (c.blocking) {
    lines.push('', `blocked by  ${c.blocking.op ? `op ${c.blocking.op}` : 'the model'}${c.blocking.node ? ` at node '${c.blocking.node}'` : ''}`, `reason      ${c.blocking.message}`, `change      ${c.blocking.advice}`);
  }
  return lines.join('\n');
}
