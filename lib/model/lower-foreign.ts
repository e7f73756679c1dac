// Lowerings for ops exporters emit that fedrad trains by rewriting them into primitives that
// already have backward rules (so no new gradient code, and every rule stays checked by the
// float64 reference): InstanceNormalization (MONAI's default norm), PRelu (MONAI's default
// activation), grouped Conv/ConvTranspose (a block-diagonal dense kernel), and Resize in linear mode (nn.Upsample(mode='bilinear'/'trilinear')) as products
// with constant interpolation matrices, one per spatial axis, exact for every coordinate mode.
import { UnsupportedOpError } from '../errors.js';
import { attr, floatTensor, type GraphBuilder, getFloat, getString, type Node } from './graph.js';
import type { Shape } from './shapes.js';

/** Ops this module lowers (when `lowerForeign` accepts the node's form). */
export const FOREIGN_OPS = ['InstanceNormalization', 'PRelu', 'Unsqueeze', 'Squeeze'] as const;

function instanceNorm(b: GraphBuilder, node: Node, xs: Shape): void {
  const [x, scale, bias] = node.inputs;
  const eps = getFloat(node, 'epsilon', 1e-5);
  const spatial = xs.slice(2).map((_, i) => i + 2);
  const axes = b.ints(spatial, 'in_axes');
  const perChannel = b.ints([1, xs[1], ...spatial.map(() => 1)], 'in_shape');
  const mean = b.op('ReduceMean', [x, axes], { keepdims: attr.int(1) }, 'in_mean');
  const centered = b.op('Sub', [x, mean], {}, 'in_centered');
  const variance = b.op('ReduceMean', [b.op('Mul', [centered, centered]), axes], { keepdims: attr.int(1) }, 'in_var');
  const normalized = b.op('Div', [centered, b.op('Sqrt', [b.op('Add', [variance, b.scalar(eps, 'in_eps')])])], {}, 'in_norm');
  const scaled = b.op('Mul', [normalized, b.op('Reshape', [scale, perChannel])]);
  b.opNamed('Add', [scaled, b.op('Reshape', [bias, perChannel])], [node.outputs[0]]);
}

function prelu(b: GraphBuilder, node: Node): void {
  // max(0, x) + slope * min(0, x) = Relu(x) - slope * Relu(-x)
  const [x, slope] = node.inputs;
  const negative = b.op('Relu', [b.op('Neg', [x])], {}, 'prelu_neg');
  b.opNamed('Sub', [b.op('Relu', [x]), b.op('Mul', [slope, negative])], [node.outputs[0]]);
}

/**
 * The [outSize, inSize] matrix of ONNX Resize's linear mode along one axis: row o holds the two
 * weights of the input positions output position o interpolates between.
 */
export function linearResizeMatrix(inSize: number, outSize: number, mode: string): Float32Array {
  const scale = outSize / inSize;
  const m = new Float32Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    let x: number;
    switch (mode) {
      case 'half_pixel': x = (o + 0.5) / scale - 0.5; break;
      case 'pytorch_half_pixel': x = outSize > 1 ? (o + 0.5) / scale - 0.5 : 0; break;
      case 'align_corners': x = outSize > 1 ? (o * (inSize - 1)) / (outSize - 1) : 0; break;
      case 'asymmetric': x = o / scale; break;
      default: throw new RangeError(`coordinate_transformation_mode '${mode}'`);
    }
    x = Math.min(Math.max(x, 0), inSize - 1);
    const lo = Math.floor(x);
    const hi = Math.min(lo + 1, inSize - 1);
    const w = x - lo;
    m[o * inSize + lo] += 1 - w;
    m[o * inSize + hi] += w;
  }
  return m;
}

const LINEAR_MODES = ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric'];

function resizeLinear(b: GraphBuilder, node: Node, xs: Shape, ys: Shape): void {
  const mode = getString(node, 'coordinate_transformation_mode', 'half_pixel');
  if (!LINEAR_MODES.includes(mode)) throw new UnsupportedOpError(`node '${node.name}' (Resize): linear mode with coordinate_transformation_mode '${mode}' is not supported for training; use ${LINEAR_MODES.join(', ')}`, { node: node.name, op: node.op });
  if (getFloat(node, 'antialias', 0) !== 0) throw new UnsupportedOpError(`node '${node.name}' (Resize): antialias=1 is not supported for training`, { node: node.name, op: node.op });
  const rank = xs.length;
  if (rank < 3 || rank > 5 || xs.slice(1).some((d) => d < 0) || ys[1] !== xs[1]) {
    throw new UnsupportedOpError(`node '${node.name}' (Resize): linear resizing is trained on the spatial axes of a [N, C, spatial...] tensor with static sizes; got ${JSON.stringify(xs)} -> ${JSON.stringify(ys)}`, { node: node.name, op: node.op });
  }
  const matrix = (axis: number, transposed: boolean): string => {
    const m = linearResizeMatrix(xs[axis], ys[axis], mode);
    const [rows, cols] = [ys[axis], xs[axis]];
    if (!transposed) return b.constant(floatTensor([rows, cols], m), 'resize_matrix');
    const t = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c];
    return b.constant(floatTensor([cols, rows], t), 'resize_matrix');
  };
  let v = node.inputs[0];
  const changed = (axis: number) => xs[axis] !== ys[axis];
  const last = rank - 1;
  // Innermost axis: X @ A^T. The axis before it: A @ X (MatMul broadcasts the leading axes).
  if (changed(last)) v = b.op('MatMul', [v, matrix(last, true)], {}, 'resize_w');
  if (rank >= 4 && changed(last - 1)) v = b.op('MatMul', [matrix(last - 1, false), v], {}, 'resize_h');
  if (rank === 5 && changed(2)) {
    // Depth: fold H and W together so depth is the second-to-last axis, then unfold.
    const hw = ys[3] * ys[4];
    const folded = b.op('Reshape', [v, b.ints([0, xs[1], xs[2], hw])], {}, 'resize_fold');
    const scaled = b.op('MatMul', [matrix(2, false), folded], {}, 'resize_d');
    v = b.op('Reshape', [scaled, b.ints([0, ys[1], ys[2], ys[3], ys[4]])], {}, 'resize_unfold');
  }
  b.opNamed('Identity', [v], [node.outputs[0]]);
}

/**
 * A grouped Conv/ConvTranspose as one dense convolution with a block-diagonal kernel: the kernel
 * is g copies of the weight, each masked to its group's output (Conv) or input (ConvTranspose)
 * channels, concatenated along axis 1. Exact, trained through Mul and Concat, at g times the
 * FLOPs of the grouped form (fine for a few groups; depthwise convolutions pay C times).
 */
function groupedConv(b: GraphBuilder, node: Node, group: number, ws: Shape): void {
  const [x, w, bias] = node.inputs;
  const rows = ws[0]; // Conv: output channels; ConvTranspose: input channels
  if (rows % group !== 0) throw new UnsupportedOpError(`node '${node.name}' (${node.op}): weight dimension 0 (${rows}) is not divisible by group=${group}`, { node: node.name, op: node.op });
  const per = rows / group;
  const parts = Array.from({ length: group }, (_, j) => {
    const mask = floatTensor([rows, ...ws.slice(1).map(() => 1)], Array.from({ length: rows }, (_, r) => (Math.floor(r / per) === j ? 1 : 0)));
    return b.op('Mul', [w, b.constant(mask, 'group_mask')], {}, 'group_part');
  });
  const dense = b.op('Concat', parts, { axis: attr.int(1) }, 'group_kernel');
  const { group: _g, ...attrs } = node.attrs;
  b.opNamed(node.op, bias ? [x, dense, bias] : [x, dense], [node.outputs[0]], attrs);
}

/**
 * Lowers `node` into builder `b` when it is one of the forms this module handles; false otherwise
 * (the caller then lowers it as usual).
 */
export function lowerForeign(b: GraphBuilder, node: Node, shapes: ReadonlyMap<string, Shape>): boolean {
  const xs = shapes.get(node.inputs[0]);
  if (!xs) return false;
  if (node.op === 'InstanceNormalization') {
    instanceNorm(b, node, xs);
    return true;
  }
  if (node.op === 'Unsqueeze' || node.op === 'Squeeze') {
    // A reshape to the static output shape (exporters unsqueeze PReLU slopes to [C, 1, 1]).
    const ys = shapes.get(node.outputs[0]);
    if (!ys || ys.filter((d) => d < 0).length > 1) throw new UnsupportedOpError(`node '${node.name}' (${node.op}): its output shape must be static but for one dimension`, { node: node.name, op: node.op });
    b.opNamed('Reshape', [node.inputs[0], b.ints(ys, 'unsqueeze_shape')], [node.outputs[0]]);
    return true;
  }
  if (node.op === 'PRelu') {
    prelu(b, node);
    return true;
  }
  const group = node.attrs.group?.kind === 'int' ? node.attrs.group.value : 1;
  if ((node.op === 'Conv' || node.op === 'ConvTranspose') && group > 1) {
    groupedConv(b, node, group, shapes.get(node.inputs[1])!);
    return true;
  }
  if (node.op === 'Resize' && getString(node, 'mode', 'nearest') === 'linear') {
    resizeLinear(b, node, xs, shapes.get(node.outputs[0])!);
    return true;
  }
  return false;
}
