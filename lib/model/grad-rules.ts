// Backward rules, one per forward op: given the gradients of a node's outputs, emit the nodes that
// compute the gradients of its inputs. Standard ai.onnx ops only (opset 18), so the training graph
// runs on any onnxruntime build. Forms chosen for onnxruntime's CPU kernels: see DESIGN.md.
import { UnsupportedOpError } from '../errors.js';
import { attr, floatTensor, type GraphBuilder, getFloat, getInt, getInts, getString, type Node, numel } from './graph.js';
import type { BatchNormGroup } from './lower.js';
import { convGeometry, type Shape } from './shapes.js';

export interface GradContext {
  b: GraphBuilder;
  shape(name: string): Shape;
}

/** Returns one gradient name per node input (undefined where none is needed). */
export type GradRule = (ctx: GradContext, node: Node, dOut: Array<string | undefined>, needs: boolean[]) => Array<string | undefined>;

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

function unsupported(node: Node, why: string): UnsupportedOpError {
  return new UnsupportedOpError(`node '${node.name}' (${node.op}): ${why}`, { node: node.name, op: node.op });
}

/** Sums a gradient of shape `gShape` over the axes that broadcasting expanded, back to `x`'s shape. */
export function reduceTo(ctx: GradContext, grad: string, gShape: Shape, x: string): string {
  const xShape = ctx.shape(x);
  const offset = gShape.length - xShape.length;
  const axes: number[] = [];
  for (let i = 0; i < gShape.length; i++) {
    const xd = i < offset ? 1 : xShape[i - offset];
    if (xd === 1 && gShape[i] !== 1) axes.push(i);
  }
  let out = grad;
  if (axes.length > 0) out = ctx.b.op('ReduceSum', [out, ctx.b.ints(axes, 'axes')], { keepdims: attr.int(1) }, 'gsum');
  if (offset !== 0) {
    const target = xShape.every((d) => d >= 0) ? ctx.b.ints(xShape, 'shape') : ctx.b.op('Shape', [x]);
    out = ctx.b.op('Reshape', [out, target], {}, 'greshape');
  }
  return out;
}

function reshapeLike(ctx: GradContext, g: string, x: string): string {
  return ctx.b.op('Reshape', [g, ctx.b.op('Shape', [x])], {}, 'greshape');
}

function elementwise(ctx: GradContext, node: Node, grads: Array<string | undefined>): Array<string | undefined> {
  const ys = ctx.shape(node.outputs[0]);
  return grads.map((g, i) => (g ? reduceTo(ctx, g, ys, node.inputs[i]) : undefined));
}

function convAttrs(strides: number[], dilations: number[], padsBegin: number[], padsEnd: number[]) {
  return { strides: attr.ints(strides), dilations: attr.ints(dilations), pads: attr.ints([...padsBegin, ...padsEnd]) };
}

/** Slices the spatial axes of a weight gradient down to the kernel size when the Conv gave more. */
function sliceKernel(ctx: GradContext, g: string, computed: number[], kernel: number[]): string {
  if (computed.every((c, i) => c === kernel[i])) return g;
  const axes = kernel.map((_, i) => 2 + i);
  return ctx.b.op('Slice', [g, ctx.b.ints(kernel.map(() => 0)), ctx.b.ints(kernel), ctx.b.ints(axes)], {}, 'gslice');
}

function checkGroup(node: Node): void {
  if (getInt(node, 'group', 1) !== 1) throw unsupported(node, `group=${getInt(node, 'group', 1)} is not supported for training; only group=1 convolutions are differentiated`);
}

/** Every offset of a kernel, first axis slowest: [[0,0], [0,1], ..., [k0-1, k1-1]]. */
function kernelOffsets(kernel: number[]): number[][] {
  return kernel.reduce<number[][]>((acc, k) => acc.flatMap((prefix) => range(k).map((i) => [...prefix, i])), [[]]);
}

/**
 * Weight gradient of a stride-1, undilated Conv as k*k matrix products, one per kernel offset: the
 * input (channels first, padded) sliced at that offset, [C, N*H*W], against the output gradient
 * [O, N*H*W]: dW[:, :, offset] = dy x slice^T (im2col by Slice, one offset at a time, so no k*k
 * times larger patch matrix is ever held; stacking all offsets into one patch matrix and one GEMM
 * cost 15% more CPU on unet-segmenter, the Conv below 48% more).
 */
function convWeightGradByOffsets(ctx: GradContext, x: string, dy: string, xs: Shape, ys: Shape, kernel: number[], padsBegin: number[], padsEnd: number[]): string {
  const n = kernel.length;
  const b = ctx.b;
  const perm = [1, 0, ...range(n, 2)];
  let xc = b.op('Transpose', [x], { perm: attr.ints(perm) }, 'gpatch_x'); // [C, N, ...spatial]
  if ([...padsBegin, ...padsEnd].some((p) => p !== 0)) xc = b.op('Pad', [xc, b.ints([0, 0, ...padsBegin, 0, 0, ...padsEnd])], {}, 'gpatch_pad');
  const spatialAxes = b.ints(range(n, 2), 'gpatch_axes');
  const out = ys.slice(2);
  const rows = b.ints([xs[1], -1], 'gpatch_rows');
  const dyc = b.op('Reshape', [b.op('Transpose', [dy], { perm: attr.ints(perm) }), b.ints([ys[1], -1])]); // [O, N*H*W]
  const perOffset = kernelOffsets(kernel).map((o) => {
    const slice = b.op('Reshape', [b.op('Slice', [xc, b.ints(o), b.ints(o.map((v, i) => v + out[i])), spatialAxes], {}, 'gpatch_slice'), rows]); // [C, N*H*W]
    return b.op('Gemm', [dyc, slice], { transB: attr.int(1) }, 'gconvw'); // [O, C]
  });
  const stacked = perOffset.length === 1 ? perOffset[0] : b.op('Concat', perOffset, { axis: attr.int(1) }); // [O, K*C], offset-major
  const byOffset = b.op('Reshape', [stacked, b.ints([ys[1], numel(kernel), xs[1]])]);
  return b.op('Reshape', [b.op('Transpose', [byOffset], { perm: attr.ints([0, 2, 1]) }), b.ints([ys[1], xs[1], ...kernel])], {}, 'gconvw_w');
}

/**
 * Input gradient of a stride-1, undilated Conv as a Conv with the flipped, channel-swapped kernel
 * (pads k-1-p), which onnxruntime runs in its blocked (NCHWc) layout, unlike ConvTranspose.
 */
function convInputGradByFlippedConv(ctx: GradContext, dy: string, w: string, kernel: number[], padsBegin: number[], padsEnd: number[]): string {
  const n = kernel.length;
  const b = ctx.b;
  const axes = range(n, 2);
  const flipped = b.op('Slice', [w, b.ints(axes.map(() => -1)), b.ints(axes.map(() => Number.MIN_SAFE_INTEGER)), b.ints(axes), b.ints(axes.map(() => -1))], {}, 'gflip');
  const wt = b.op('Transpose', [flipped], { perm: attr.ints([1, 0, ...axes]) });
  const pads = [...kernel.map((k, i) => k - 1 - padsBegin[i]), ...kernel.map((k, i) => k - 1 - padsEnd[i])];
  return b.op('Conv', [dy, wt], { kernel_shape: attr.ints(kernel), pads: attr.ints(pads), strides: attr.ints(kernel.map(() => 1)) }, 'gconvin');
}

const conv: GradRule = (ctx, node, [dy], needs) => {
  checkGroup(node);
  const [x, w] = node.inputs;
  const xs = ctx.shape(x);
  const ws = ctx.shape(w);
  const ys = ctx.shape(node.outputs[0]);
  const kernel = ws.slice(2);
  const n = kernel.length;
  const g = convGeometry(node, xs, kernel);
  const perm = [1, 0, ...range(n, 2)];
  const out: Array<string | undefined> = [undefined, undefined, undefined];
  // Stride 1, no dilation, known channel and spatial sizes: the faster forms above.
  const plain = g.strides.every((s) => s === 1) && g.dilations.every((d) => d === 1) && [...xs.slice(1), ...ys.slice(1)].every((d) => d >= 0);
  if (plain && needs[0] && kernel.every((k, i) => k - 1 - g.padsBegin[i] >= 0 && k - 1 - g.padsEnd[i] >= 0)) {
    out[0] = convInputGradByFlippedConv(ctx, dy!, w, kernel, g.padsBegin, g.padsEnd);
  } else if (needs[0]) {
    // Input gradient: the transposed convolution with output_padding restoring the input size.
    const outputPadding = range(n).map((i) => xs[2 + i] - (g.strides[i] * (ys[2 + i] - 1) + (kernel[i] - 1) * g.dilations[i] + 1 - g.padsBegin[i] - g.padsEnd[i]));
    out[0] = ctx.b.op('ConvTranspose', [dy!, w], { ...convAttrs(g.strides, g.dilations, g.padsBegin, g.padsEnd), output_padding: attr.ints(outputPadding) }, 'gconvt');
  }
  if (needs[1] && plain) out[1] = convWeightGradByOffsets(ctx, x, dy!, xs, ys, kernel, g.padsBegin, g.padsEnd);
  else if (needs[1]) {
    // Weight gradient: a Conv over the batch-transposed input with the output gradient as kernel
    // (stride and dilation swap roles); slice when padding leaves extra positions.
    const xT = ctx.b.op('Transpose', [x], { perm: attr.ints(perm) });
    const dyT = ctx.b.op('Transpose', [dy!], { perm: attr.ints(perm) });
    const padsEnd = range(n).map((i) => Math.max(0, (kernel[i] - 1) * g.dilations[i] + (ys[2 + i] - 1) * g.strides[i] + 1 - xs[2 + i] - g.padsBegin[i]));
    const computed = range(n).map((i) => Math.floor((xs[2 + i] + g.padsBegin[i] + padsEnd[i] - ((ys[2 + i] - 1) * g.strides[i] + 1)) / g.dilations[i]) + 1);
    const r = ctx.b.op('Conv', [xT, dyT], convAttrs(g.dilations, g.strides, g.padsBegin, padsEnd), 'gconvw');
    out[1] = sliceKernel(ctx, ctx.b.op('Transpose', [r], { perm: attr.ints(perm) }), computed, kernel);
  }
  if (needs[2]) out[2] = ctx.b.op('ReduceSum', [dy!, ctx.b.ints([0, ...range(n, 2)])], { keepdims: attr.int(0) }, 'gbias');
  return out;
};

const convTranspose: GradRule = (ctx, node, [dy], needs) => {
  checkGroup(node);
  const [x, w] = node.inputs;
  const xs = ctx.shape(x);
  const kernel = ctx.shape(w).slice(2);
  const n = kernel.length;
  const g = convGeometry(node, xs, kernel, true);
  const perm = [1, 0, ...range(n, 2)];
  const out: Array<string | undefined> = [undefined, undefined, undefined];
  if (needs[0]) out[0] = ctx.b.op('Conv', [dy!, w], convAttrs(g.strides, g.dilations, g.padsBegin, g.padsEnd), 'gconv');
  if (needs[1]) {
    const dyT = ctx.b.op('Transpose', [dy!], { perm: attr.ints(perm) });
    const xT = ctx.b.op('Transpose', [x], { perm: attr.ints(perm) });
    const op = getInts(node, 'output_padding') ?? Array(n).fill(0);
    const computed = range(n).map((i) => kernel[i] + Math.floor(op[i] / g.dilations[i]));
    const r = ctx.b.op('Conv', [dyT, xT], convAttrs(g.dilations, g.strides, g.padsBegin, g.padsEnd), 'gconvw');
    out[1] = sliceKernel(ctx, ctx.b.op('Transpose', [r], { perm: attr.ints(perm) }), computed, kernel);
  }
  if (needs[2]) out[2] = ctx.b.op('ReduceSum', [dy!, ctx.b.ints([0, ...range(n, 2)])], { keepdims: attr.int(0) }, 'gbias');
  return out;
};

function swapLast(ctx: GradContext, v: string): string {
  const r = ctx.shape(v).length;
  return ctx.b.op('Transpose', [v], { perm: attr.ints([...range(r - 2), r - 1, r - 2]) });
}

const matMul: GradRule = (ctx, node, [dy], needs) => {
  const [a, bIn] = node.inputs;
  const as = ctx.shape(a);
  const bs = ctx.shape(bIn);
  const batch = ctx.shape(node.outputs[0]).slice(0, -2);
  return [
    needs[0] ? reduceTo(ctx, ctx.b.op('MatMul', [dy!, swapLast(ctx, bIn)], {}, 'gmatmul'), [...batch, ...as.slice(-2)], a) : undefined,
    needs[1] ? reduceTo(ctx, ctx.b.op('MatMul', [swapLast(ctx, a), dy!], {}, 'gmatmul'), [...batch, ...bs.slice(-2)], bIn) : undefined,
  ];
};

const zeroLike = (ctx: GradContext) => ctx.b.scalar(0, 'zero');

function poolParams(node: Node, xs: Shape) {
  const kernel = getInts(node, 'kernel_shape')!;
  const g = convGeometry(node, xs, kernel);
  if (getInt(node, 'ceil_mode', 0) !== 0) throw unsupported(node, 'ceil_mode=1 is not supported for training; use ceil_mode=0');
  if (g.dilations.some((d) => d !== 1)) throw unsupported(node, 'dilated pooling is not supported for training');
  return { kernel, g };
}

const maxPool: GradRule = (ctx, node, [dy]) => {
  const x = node.inputs[0];
  const xs = ctx.shape(x);
  const { kernel, g } = poolParams(node, xs);
  const fits = kernel.every((k, i) => g.strides[i] === k && g.padsBegin[i] === 0 && g.padsEnd[i] === 0 && xs[2 + i] % k === 0);
  if (!fits) {
    throw unsupported(node, `training supports non-overlapping max pooling only (kernel_shape = strides, no pads, input size divisible by the kernel); got kernel ${kernel}, strides ${g.strides}, pads ${[...g.padsBegin, ...g.padsEnd]}, input ${xs}`);
  }
  // The max positions: where the input equals its window's max, upsampled back (fast on CPU,
  // unlike MaxPool's Indices output).
  const scales = ctx.b.constant(floatTensor([xs.length], [1, 1, ...kernel]), 'scales');
  const up = (v: string) => ctx.b.op('Resize', [v, '', scales], { mode: attr.string('nearest') }, 'gup');
  const mask = ctx.b.op('Cast', [ctx.b.op('Equal', [x, up(node.outputs[0])])], { to: attr.int(1) });
  return [ctx.b.op('Mul', [mask, up(dy!)], {}, 'gmaxpool')];
};

const averagePool: GradRule = (ctx, node, [dy]) => {
  const x = node.inputs[0];
  const xs = ctx.shape(x);
  const ys = ctx.shape(node.outputs[0]);
  const { kernel, g } = poolParams(node, xs);
  const padded = [...g.padsBegin, ...g.padsEnd].some((p) => p !== 0);
  if (padded && getInt(node, 'count_include_pad', 0) === 0) throw unsupported(node, 'padded average pooling with count_include_pad=0 is not supported for training; set count_include_pad=1 or remove the pads');
  const n = kernel.length;
  // Every window spreads its gradient evenly: a transposed convolution with a constant kernel,
  // applied to each channel separately by folding channels into the batch.
  const w = ctx.b.constant(floatTensor([1, 1, ...kernel], Array(numel(kernel)).fill(1 / numel(kernel))), 'avgkernel');
  const folded = ctx.b.op('Reshape', [dy!, ctx.b.ints([-1, 1, ...ys.slice(2)])]);
  const outputPadding = range(n).map((i) => xs[2 + i] - (g.strides[i] * (ys[2 + i] - 1) + kernel[i] - g.padsBegin[i] - g.padsEnd[i]));
  const spread = ctx.b.op('ConvTranspose', [folded, w], { ...convAttrs(g.strides, Array(n).fill(1), g.padsBegin, g.padsEnd), output_padding: attr.ints(outputPadding) }, 'gavgpool');
  return [reshapeLike(ctx, spread, x)];
};

const globalAveragePool: GradRule = (ctx, node, [dy]) => {
  const x = node.inputs[0];
  const spatial = numel(ctx.shape(x).slice(2));
  const expanded = ctx.b.op('Expand', [dy!, ctx.b.op('Shape', [x])]);
  return [ctx.b.op('Mul', [expanded, ctx.b.scalar(1 / spatial)], {}, 'ggap')];
};

const concat: GradRule = (ctx, node, [dy]) => {
  const shapes = node.inputs.map((i) => ctx.shape(i));
  const rank = shapes[0].length;
  const axis = (getInt(node, 'axis', 0) + rank) % rank;
  const sizes = shapes.map((s) => s[axis]);
  if (sizes.some((s) => s < 0)) throw unsupported(node, `concatenation along dynamic axis ${axis} is not supported for training`);
  return ctx.b.opMulti('Split', [dy!, ctx.b.ints(sizes)], sizes.length, { axis: attr.int(axis) }, 'gsplit');
};

const resize: GradRule = (ctx, node, [dy]) => {
  const x = node.inputs[0];
  const xs = ctx.shape(x);
  const ys = ctx.shape(node.outputs[0]);
  if (getString(node, 'mode', 'nearest') !== 'nearest') throw unsupported(node, `mode '${getString(node, 'mode', 'nearest')}' is not supported for training; only nearest`);
  const factors = xs.map((d, i) => (i < 2 ? 1 : ys[i] / d));
  if (xs[0] >= 0 && ys[0] !== xs[0]) throw unsupported(node, 'resizing the batch axis is not supported');
  if (xs[1] !== ys[1] || factors.some((f) => !Number.isInteger(f) || f < 1)) throw unsupported(node, `only integer upscaling of the spatial axes is supported for training; got ${xs} -> ${ys}`);
  const scale = factors.slice(2);
  if (scale.every((s) => s === 1)) return [dy];
  // Nearest upsampling by an integer factor copies each value to one block: its gradient is the block sum.
  const avg = ctx.b.op('AveragePool', [dy!], { kernel_shape: attr.ints(scale), strides: attr.ints(scale) });
  return [ctx.b.op('Mul', [avg, ctx.b.scalar(numel(scale))], {}, 'gresize')];
};

const softmax: GradRule = (ctx, node, [dy]) => {
  const y = node.outputs[0];
  const axis = getInt(node, 'axis', -1);
  const dot = ctx.b.op('ReduceSum', [ctx.b.op('Mul', [dy!, y]), ctx.b.ints([axis])], { keepdims: attr.int(1) });
  return [ctx.b.op('Mul', [y, ctx.b.op('Sub', [dy!, dot])], {}, 'gsoftmax')];
};

const reduceMean: GradRule = (ctx, node, [dy]) => {
  if (getInt(node, 'keepdims', 1) !== 1) throw unsupported(node, 'keepdims=0 is not supported for training');
  const x = node.inputs[0];
  const expanded = ctx.b.op('Expand', [dy!, ctx.b.op('Shape', [x])]);
  const sizeOf = (v: string) => ctx.b.op('Cast', [ctx.b.op('Size', [v])], { to: attr.int(1) });
  const ratio = ctx.b.op('Div', [sizeOf(node.outputs[0]), sizeOf(x)]);
  return [ctx.b.op('Mul', [expanded, ratio], {}, 'gmean')];
};

export const GRAD_RULES: Record<string, GradRule> = {
  Conv: conv,
  ConvTranspose: convTranspose,
  MatMul: matMul,
  Add: (ctx, node, [dy], needs) => elementwise(ctx, node, [needs[0] ? dy : undefined, needs[1] ? dy : undefined]),
  Sub: (ctx, node, [dy], needs) => elementwise(ctx, node, [needs[0] ? dy : undefined, needs[1] ? ctx.b.op('Neg', [dy!]) : undefined]),
  Mul: (ctx, node, [dy], needs) => {
    const [a, b] = node.inputs;
    return elementwise(ctx, node, [needs[0] ? ctx.b.op('Mul', [dy!, b]) : undefined, needs[1] ? ctx.b.op('Mul', [dy!, a]) : undefined]);
  },
  Div: (ctx, node, [dy], needs) => {
    const [, b] = node.inputs;
    const y = node.outputs[0];
    return elementwise(ctx, node, [
      needs[0] ? ctx.b.op('Div', [dy!, b]) : undefined,
      needs[1] ? ctx.b.op('Neg', [ctx.b.op('Div', [ctx.b.op('Mul', [dy!, y]), b])]) : undefined,
    ]);
  },
  // dy * (x > 0): a float mask multiply runs faster than Where with a broadcast zero on onnxruntime's CPU.
  Relu: (ctx, node, [dy]) => [ctx.b.op('Mul', [dy!, ctx.b.op('Cast', [ctx.b.op('Greater', [node.inputs[0], zeroLike(ctx)])], { to: attr.int(1) })], {}, 'grelu')],
  LeakyRelu: (ctx, node, [dy]) => {
    const alpha = ctx.b.scalar(getFloat(node, 'alpha', 0.01), 'alpha');
    return [ctx.b.op('Where', [ctx.b.op('Greater', [node.inputs[0], zeroLike(ctx)]), dy!, ctx.b.op('Mul', [dy!, alpha])], {}, 'gleaky')];
  },
  Sigmoid: (ctx, node, [dy]) => {
    const y = node.outputs[0];
    return [ctx.b.op('Mul', [dy!, ctx.b.op('Mul', [y, ctx.b.op('Sub', [ctx.b.scalar(1), y])])], {}, 'gsigmoid')];
  },
  Tanh: (ctx, node, [dy]) => {
    const y = node.outputs[0];
    return [ctx.b.op('Mul', [dy!, ctx.b.op('Sub', [ctx.b.scalar(1), ctx.b.op('Mul', [y, y])])], {}, 'gtanh')];
  },
  Sqrt: (ctx, node, [dy]) => [ctx.b.op('Div', [dy!, ctx.b.op('Mul', [node.outputs[0], ctx.b.scalar(2)])], {}, 'gsqrt')],
  Neg: (ctx, _node, [dy]) => [ctx.b.op('Neg', [dy!])],
  Identity: (_ctx, _node, [dy]) => [dy],
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
  Concat: concat,
  Resize: resize,
  Flatten: (ctx, node, [dy]) => [reshapeLike(ctx, dy!, node.inputs[0])],
  Reshape: (ctx, node, [dy]) => [reshapeLike(ctx, dy!, node.inputs[0]), undefined],
  Transpose: (ctx, node, [dy]) => {
    const perm = getInts(node, 'perm') ?? range(ctx.shape(node.inputs[0]).length).reverse();
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [ctx.b.op('Transpose', [dy!], { perm: attr.ints(inverse) })];
  },
  Softmax: softmax,
  ReduceMean: reduceMean,
};

/** The inputs of each op that carry gradients (others are shapes, scales, axes, or statistics). */
export const DIFFERENTIABLE_INPUTS: Record<string, number[]> = {
  Resize: [0],
  Reshape: [0],
  ReduceMean: [0],
  ReduceSum: [0],
  BatchNormalization: [0, 1, 2],
};

export function differentiableInputs(node: Node): number[] {
  return DIFFERENTIABLE_INPUTS[node.op] ?? range(node.inputs.length);
}


/**
 * Backward of a training-mode BatchNormalization (lower.ts's group) in closed form, with xhat the
 * normalized input and sums over every axis but the channels (M elements each):
 *   dbias = sum(dy), dscale = sum(dy * xhat),
 *   dx = (scale / std) * (dy - dbias / M - xhat * dscale / M).
 * Returns gradients for [x, scale, bias] where `needs` asks.
 */
export function batchNormGrad(ctx: GradContext, g: BatchNormGroup, dy: string, needs: [boolean, boolean, boolean]): [string | undefined, string | undefined, string | undefined] {
  const b = ctx.b;
  const sumDy = b.op('ReduceSum', [dy, g.axes], { keepdims: attr.int(1) }, 'gbn_sum_dy');
  const sumDyXhat = needs[0] || needs[1] ? b.op('ReduceSum', [b.op('Mul', [dy, g.normalized]), g.axes], { keepdims: attr.int(1) }, 'gbn_sum_dy_xhat') : undefined;
  let dx: string | undefined;
  if (needs[0]) {
    const a = b.op('Div', [b.op('Reshape', [g.scale, g.perChannel]), g.std], {}, 'gbn_a'); // [1, C, 1, ...]
    const perM = (v: string) => b.op('Div', [b.op('Mul', [v, a]), g.count]);
    // dy * a - (xhat * (a dscale / M) + a dbias / M): the per-channel factors first, then 4 passes.
    dx = b.op('Sub', [b.op('Mul', [dy, a]), b.op('Add', [b.op('Mul', [g.normalized, perM(sumDyXhat!)]), perM(sumDy)])], {}, 'gbn_x');
  }
  return [
    dx,
    needs[1] ? b.op('Reshape', [sumDyXhat!, g.flat], {}, 'gbn_scale') : undefined,
    needs[2] ? b.op('Reshape', [sumDy, g.flat], {}, 'gbn_bias') : undefined,
  ];
}
