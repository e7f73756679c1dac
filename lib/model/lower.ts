// Rewrites an inference graph into its training-mode forward graph: BatchNormalization uses batch
// statistics (composed from primitives, with running statistics as extra outputs), Gemm becomes
// MatMul/Add, Dropout becomes Identity. Autodiff then needs rules for primitives only.
import { UnsupportedOpError } from '../errors.js';
import { attr, type Graph, GraphBuilder, getFloat, getInt, type Node } from './graph.js';
import { GRAD_RULES } from './grad-rules.js';
import { inferShapes, type Shape } from './shapes.js';
import { lowerForeign } from './lower-foreign.js';

/** Ops an inference graph may contain for fedrad to train it. */
export const SUPPORTED_OPS = [
  'Conv', 'ConvTranspose', 'Gemm', 'MatMul', 'Add', 'Sub', 'Mul', 'Div', 'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh',
  'MaxPool', 'AveragePool', 'GlobalAveragePool', 'BatchNormalization', 'Concat', 'Resize', 'Flatten', 'Reshape',
  'Transpose', 'Softmax', 'Identity', 'Dropout', 'Constant', 'ReduceMean', 'Sqrt',
  // lowered into the ops above (lower-foreign.ts)
  'InstanceNormalization', 'PRelu', 'Unsqueeze', 'Squeeze',
] as const;

export interface BufferUpdate {
  /** The graph input holding the running statistic (an initializer of the inference model). */
  input: string;
  /** The training graph value holding its updated value. */
  output: string;
  /** The value holding this batch's statistic, one per channel (mean, or unbiased variance). */
  batch: string;
}

/**
 * A training-mode BatchNormalization lowered to primitives, whose backward autodiff takes in closed
 * form (see batchNormGrad) rather than through each primitive: about 5 passes over the activation
 * instead of about 15.
 */
export interface BatchNormGroup {
  x: string;
  scale: string;
  bias: string;
  /** (x - mean) / std, shape of x */
  normalized: string;
  /** sqrt(var + eps), [1, C, 1, ...] */
  std: string;
  /** the reduction axes (all but channels) as an int64 initializer */
  axes: string;
  /** [1, C, 1, ...] as an int64 initializer, and [C] */
  perChannel: string;
  flat: string;
  /** elements per channel, as a float scalar */
  count: string;
}

export interface LoweredGraph {
  nodes: Node[];
  builder: GraphBuilder;
  bufferUpdates: BufferUpdate[];
  /** output value of each lowered BatchNormalization -> its group */
  batchNorms: Map<string, BatchNormGroup>;
}

function rejectUnsupported(graph: Graph): void {
  const supported = new Set<string>(SUPPORTED_OPS);
  for (const node of graph.nodes) {
    if (!supported.has(node.op)) {
      throw new UnsupportedOpError(
        `node '${node.name}' uses op ${node.op}, which fedrad cannot differentiate. Supported ops: ${SUPPORTED_OPS.join(', ')}`,
        { node: node.name, op: node.op },
      );
    }
    if (node.outputs.length > 1 && node.op !== 'BatchNormalization' && node.op !== 'Dropout' && node.outputs.slice(1).some((o) => o !== '')) {
      throw new UnsupportedOpError(`node '${node.name}' (${node.op}) uses its secondary outputs, which training does not support`, { node: node.name });
    }
  }
}

function lowerBatchNorm(b: GraphBuilder, node: Node, shapes: Map<string, Shape>, bufferUpdates: BufferUpdate[], batchNorms: Map<string, BatchNormGroup>): void {
  const [x, scale, bias, mean, variance] = node.inputs;
  const xs = shapes.get(x)!;
  const channels = xs[1];
  const eps = getFloat(node, 'epsilon', 1e-5);
  const momentum = getFloat(node, 'momentum', 0.9);
  const axes = b.ints([0, ...xs.slice(2).map((_, i) => i + 2)], 'bn_axes');
  const perChannel = b.ints([1, channels, ...xs.slice(2).map(() => 1)], 'bn_shape');
  const batchMean = b.op('ReduceMean', [x, axes], { keepdims: attr.int(1) }, 'bn_mean');
  const centered = b.op('Sub', [x, batchMean], {}, 'bn_centered');
  const batchVar = b.op('ReduceMean', [b.op('Mul', [centered, centered]), axes], { keepdims: attr.int(1) }, 'bn_var');
  const std = b.op('Sqrt', [b.op('Add', [batchVar, b.scalar(eps, 'bn_eps')])], {}, 'bn_std');
  const normalized = b.op('Div', [centered, std], {}, 'bn_norm');
  const scaled = b.op('Mul', [normalized, b.op('Reshape', [scale, perChannel])]);
  b.opNamed('Add', [scaled, b.op('Reshape', [bias, perChannel])], [node.outputs[0]]);
  // Running statistics (not differentiated): running = running * momentum + batch * (1 - momentum),
  // with the unbiased batch variance, as PyTorch keeps them.
  const flat = b.ints([channels], 'bn_flat');
  const count = b.op('Div', [b.op('Cast', [b.op('Size', [x])], { to: attr.int(1) }), b.scalar(channels)], {}, 'bn_count');
  const unbiased = b.op('Div', [count, b.op('Sub', [count, b.scalar(1)])]);
  const blend = (running: string, batch: string) => {
    const flatBatch = b.op('Reshape', [batch, flat], {}, 'bn_batch_stat');
    return { input: running, batch: flatBatch, output: b.op('Add', [b.op('Mul', [running, b.scalar(momentum)]), b.op('Mul', [flatBatch, b.scalar(1 - momentum)])], {}, 'bn_running') };
  };
  bufferUpdates.push(blend(mean, batchMean));
  bufferUpdates.push(blend(variance, b.op('Mul', [batchVar, unbiased])));
  batchNorms.set(node.outputs[0], { x, scale, bias, normalized, std, axes, perChannel, flat, count });
}

function lowerGemm(b: GraphBuilder, node: Node): void {
  const [a, bb, c] = node.inputs;
  const at = getInt(node, 'transA', 0) ? b.op('Transpose', [a], { perm: attr.ints([1, 0]) }) : a;
  const bt = getInt(node, 'transB', 0) ? b.op('Transpose', [bb], { perm: attr.ints([1, 0]) }) : bb;
  const alpha = getFloat(node, 'alpha', 1);
  const beta = getFloat(node, 'beta', 1);
  let y = b.op('MatMul', [at, bt], {}, 'gemm_mm');
  if (alpha !== 1) y = b.op('Mul', [y, b.scalar(alpha)]);
  const hasC = c !== undefined && c !== '';
  if (hasC) {
    const cc = beta !== 1 ? b.op('Mul', [c, b.scalar(beta)]) : c;
    b.opNamed('Add', [y, cc], [node.outputs[0]]);
  } else {
    b.opNamed('Identity', [y], [node.outputs[0]]);
  }
}

export function lowerForTraining(graph: Graph, reserved: Iterable<string>): LoweredGraph {
  rejectUnsupported(graph);
  const shapes = inferShapes(graph);
  const b = new GraphBuilder(reserved);
  const bufferUpdates: BufferUpdate[] = [];
  const batchNorms = new Map<string, BatchNormGroup>();
  for (const node of graph.nodes) {
    for (const o of node.outputs) b.reserve(o);
  }
  for (const node of graph.nodes) {
    if (node.op === 'BatchNormalization') lowerBatchNorm(b, node, shapes, bufferUpdates, batchNorms);
    else if (node.op === 'Gemm') lowerGemm(b, node);
    else if (node.op === 'Dropout') b.opNamed('Identity', [node.inputs[0]], [node.outputs[0]]);
    else if (lowerForeign(b, node, shapes)) continue;
    else if (node.op === 'Constant' || GRAD_RULES[node.op]) b.nodes.push({ ...node, outputs: node.outputs.filter((o, i) => i === 0 || o !== '') });
    else throw new UnsupportedOpError(`node '${node.name}' (${node.op}) has no backward rule`, { node: node.name, op: node.op });
  }
  return { nodes: b.nodes, builder: b, bufferUpdates, batchNorms };
}
