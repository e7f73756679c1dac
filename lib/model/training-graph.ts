// Builds ONE training-step graph from an inference model: training-mode forward, loss, backward,
// optional FedProx term and gradient clipping, optimizer update. Parameters, optimizer state and
// running statistics are inputs and come back as `<name>.next` outputs; the trainer swaps them.
import { initializerRoles } from './onnx-io.js';
import { InvalidSpecError, ShapeError } from '../errors.js';
import type { LossName, OptimizerSpec } from '../schemas/training-spec.js';
import { differentiate } from './autodiff.js';
import { type Dim, type Model, type TensorData, type ValueInfo, floatTensor, numel } from './graph.js';
import { emitLoss } from './losses.js';
import { lowerForTraining } from './lower.js';
import { emitClip, emitGlobalNorm, emitOptimizer, LEARNING_RATE_INPUT, type OptimizerState, STEP_INPUT } from './optimizers.js';
import { inferShapes } from './shapes.js';
import { foldConstants } from './fold-constants.js';
import { logitsBeforeActivation } from './foreign-model.js';

/** The newest opset a model may use to be trained. */
export const MAX_OPSET = 20;
export const TARGET_INPUT = 'target';
export const LOSS_OUTPUT = 'loss';
export const GRAD_NORM_OUTPUT = 'grad_norm';
export const nextName = (input: string) => `${input}.next`;
export const gradName = (param: string) => `${param}.grad`;
export const globalName = (param: string) => `${param}.global`;

export interface TrainingGraphOptions {
  loss: LossName;
  optimizer: OptimizerSpec;
  gradientClipNorm?: number;
  /** FedProx mu; > 0 adds mu/2 ||w - w_global||^2 with `<param>.global` inputs. */
  fedproxMu?: number;
  /** The model output that holds the logits; defaults to the first graph output. */
  logitsOutput?: string;
  /** Also output each parameter's gradient as `<param>.grad` (before clipping). */
  emitGradients?: boolean;
  /** Initializers never trained. */
  frozen?: readonly string[];
}

export interface TrainingGraph {
  model: Model;
  dataInput: string;
  targetShape: Dim[];
  params: string[];
  buffers: string[];
  optimizerState: OptimizerState[];
  /** input -> output carrying its next value (parameters, optimizer state, running statistics) */
  carried: Map<string, string>;
  gradientOutputs: Map<string, string>;
  usesStep: boolean;
  fedprox: boolean;
}

export function buildTrainingGraph(inference: Model, options: TrainingGraphOptions): TrainingGraph {
  if (inference.opset < 13 || inference.opset > MAX_OPSET) {
    throw new InvalidSpecError(`the model uses opset ${inference.opset}; training needs opset 13 to ${MAX_OPSET} (re-export it with opset_version=17)`, { opset: inference.opset });
  }
  // Exporters' Constant nodes and shape arithmetic become initializers, never trained.
  const folded = foldConstants(inference.graph);
  const model: Model = { ...inference, graph: folded.graph };
  const g = model.graph;
  if (g.inputs.length !== 1) {
    throw new InvalidSpecError(`the model has ${g.inputs.length} data inputs (${g.inputs.map((i) => i.name).join(', ')}); training needs exactly one image input`, { inputs: g.inputs.map((i) => i.name) });
  }
  const dataInput = g.inputs[0];
  const output = options.logitsOutput ?? g.outputs[0]?.name;
  const logitsInfo = g.outputs.find((o) => o.name === output);
  if (!logitsInfo) throw new InvalidSpecError(`model output '${output}' does not exist; outputs are ${g.outputs.map((o) => o.name).join(', ')}`, { logits: output });
  // A model that ends in Softmax (or Sigmoid) trains on the values before it, with the loss's closed form.
  const logits = logitsBeforeActivation(g, output!, options.loss);
  const mu = options.fedproxMu ?? 0;

  const reserved = [...g.initializers.keys(), dataInput.name, TARGET_INPUT, LOSS_OUTPUT, GRAD_NORM_OUTPUT, LEARNING_RATE_INPUT, STEP_INPUT];
  const lowered = lowerForTraining(g, reserved);
  const b = lowered.builder;
  const buffers = lowered.bufferUpdates.map((u) => u.input);
  const frozen = new Set([...(options.frozen ?? []), ...buffers, ...folded.added]);

  // Shapes of every forward value (builder constants included), with the batch dynamic.
  const forwardShapes = inferShapes({ ...g, nodes: lowered.nodes }, b.initializers);
  const logitsShape = forwardShapes.get(logits!)!;
  if (options.loss === 'softmax-cross-entropy' && logitsShape.length !== 2) {
    throw new ShapeError(`softmax cross-entropy needs logits of shape [N, classes]; output '${logits}' has rank ${logitsShape.length}`, { logits, shape: logitsShape });
  }
  const targetShape: Dim[] = logitsInfo.shape.map((d, i) => (i === 0 ? 'N' : typeof d === 'number' ? d : logitsShape[i]));

  const lossNodes = emitLoss(b, options.loss, logits!, TARGET_INPUT, logitsShape.length);
  // Weights only: not running statistics, nor constants such as a normalization's epsilon.
  const roles = initializerRoles(model);
  const candidates = [...g.initializers].filter(([name]) => roles.get(name) === 'parameter' && !frozen.has(name)).map(([name]) => name);
  let grads = differentiate({ builder: b, nodes: lowered.nodes, shapes: forwardShapes, seeds: new Map([[logits!, lossNodes.dLogits]]), wrt: candidates, batchNorms: lowered.batchNorms });
  const params = [...grads.keys()];
  if (params.length === 0) throw new InvalidSpecError('no initializer of the model reaches the loss: there is nothing to train', {});

  let loss = lossNodes.loss;
  if (mu > 0) {
    const proxTerms: string[] = [];
    grads = new Map(
      [...grads].map(([p, gr]) => {
        const diff = b.op('Sub', [p, globalName(p)], {}, 'prox_diff');
        proxTerms.push(b.op('ReduceSumSquare', [diff], { keepdims: { kind: 'int', value: 0 } }));
        return [p, b.op('Add', [gr, b.op('Mul', [diff, b.scalar(mu)])], {}, 'gprox')];
      }),
    );
    const prox = b.op('Mul', [proxTerms.length === 1 ? proxTerms[0] : b.op('Sum', proxTerms), b.scalar(mu / 2)], {}, 'prox_loss');
    loss = b.op('Add', [loss, prox], {}, 'loss_total');
  }
  const gradientOutputs = new Map<string, string>();
  if (options.emitGradients) {
    for (const [p, gr] of grads) {
      gradientOutputs.set(p, gradName(p));
      b.opNamed('Identity', [gr], [gradName(p)]);
    }
  }
  const norm = emitGlobalNorm(b, [...grads.values()]);
  if (options.gradientClipNorm !== undefined) grads = emitClip(b, grads, norm, options.gradientClipNorm);
  const step = emitOptimizer(b, options.optimizer, grads);

  const carried = new Map<string, string>();
  const carry = (input: string, value: string) => {
    carried.set(input, nextName(input));
    b.opNamed('Identity', [value], [nextName(input)]);
  };
  for (const [p, v] of step.next) carry(p, v);
  for (const [s, v] of step.stateNext) carry(s, v);
  for (const u of lowered.bufferUpdates) carry(u.input, u.output);
  b.opNamed('Identity', [loss], [LOSS_OUTPUT]);
  b.opNamed('Identity', [norm], [GRAD_NORM_OUTPUT]);

  const float = (name: string, shape: Dim[]): ValueInfo => ({ name, dtype: 'float32', shape });
  const dimsOf = (name: string) => g.initializers.get(name)!.dims;
  const inputs: ValueInfo[] = [
    { ...dataInput, shape: dataInput.shape.map((d, i) => (i === 0 ? 'N' : d)) },
    float(TARGET_INPUT, targetShape),
    float(LEARNING_RATE_INPUT, []),
    ...params.map((p) => float(p, dimsOf(p))),
    ...step.state.map((s) => float(s.input, dimsOf(s.param))),
    ...buffers.map((name) => float(name, dimsOf(name))),
  ];
  const usesStep = options.optimizer.type === 'adam';
  if (usesStep) inputs.push(float(STEP_INPUT, []));
  if (mu > 0) inputs.push(...params.map((p) => float(globalName(p), dimsOf(p))));
  const outputs: ValueInfo[] = [
    float(LOSS_OUTPUT, []),
    float(GRAD_NORM_OUTPUT, []),
    ...[...carried].map(([input, out]) => float(out, dimsOf(step.state.find((s) => s.input === input)?.param ?? input))),
    ...[...gradientOutputs].map(([p, out]) => float(out, dimsOf(p))),
  ];
  const trainable = new Set([...params, ...buffers]);
  const initializers = new Map<string, TensorData>([...g.initializers].filter(([name]) => !trainable.has(name)));
  for (const [name, t] of b.initializers) initializers.set(name, t);
  // Constants only the inference form used (a linear Resize's scales, lowered away) stay out.
  const used = new Set(b.nodes.flatMap((n) => n.inputs));
  for (const name of initializers.keys()) if (!used.has(name)) initializers.delete(name);

  return {
    model: { graph: { name: `${g.name}_training_step`, nodes: b.nodes, inputs, outputs, initializers }, opset: model.opset < 18 ? 18 : model.opset, producer: 'fedrad', metadata: {} },
    dataInput: dataInput.name,
    targetShape,
    params,
    buffers,
    optimizerState: step.state,
    carried,
    gradientOutputs,
    usesStep,
    fedprox: mu > 0,
  };
}

export interface StatisticsGraph {
  model: Model;
  dataInput: string;
  /** running-statistic initializer -> output holding this batch's value of it */
  batchOutputs: Map<string, string>;
}

/**
 * A forward-only graph in training mode that outputs each BatchNormalization's batch statistics:
 * the trainer averages them over many batches at the end of training ("precise BN"), so the
 * exported model's running statistics match its final weights rather than a lagging average.
 * Returns undefined when the model has no BatchNormalization.
 */
export function buildStatisticsGraph(model: Model): StatisticsGraph | undefined {
  const g = foldConstants(model.graph).graph;
  const lowered = lowerForTraining(g, [...g.initializers.keys(), ...g.inputs.map((i) => i.name)]);
  if (lowered.bufferUpdates.length === 0) return undefined;
  const b = lowered.builder;
  const batchOutputs = new Map<string, string>();
  for (const u of lowered.bufferUpdates) {
    batchOutputs.set(u.input, `${u.input}.batch`);
    b.opNamed('Identity', [u.batch], [`${u.input}.batch`]);
  }
  const outputs: ValueInfo[] = [...batchOutputs].map(([input, out]) => ({ name: out, dtype: 'float32', shape: g.initializers.get(input)!.dims }));
  const used = new Set(b.nodes.flatMap((n) => n.inputs));
  const initializers = new Map<string, TensorData>([...g.initializers, ...b.initializers].filter(([name]) => used.has(name)));
  return {
    model: { graph: { name: `${g.name}_statistics`, nodes: b.nodes, inputs: g.inputs, outputs, initializers }, opset: Math.max(model.opset, 18), producer: 'fedrad', metadata: {} },
    dataInput: g.inputs[0].name,
    batchOutputs,
  };
}

/** Zero tensors for every optimizer state input (a fresh optimizer). */
export function initialOptimizerState(tg: TrainingGraph, weights: ReadonlyMap<string, TensorData>): Map<string, TensorData> {
  return new Map(tg.optimizerState.map((s) => [s.input, floatTensor(weights.get(s.param)!.dims)]));
}

export function parameterCount(model: Model): number {
  let n = 0;
  for (const t of model.graph.initializers.values()) if (t.dtype === 'float32') n += numel(t.dims);
  return n;
}
