// Static shape inference for the ops fedrad trains. -1 marks a dynamic dimension (the batch).
// Backward rules need these shapes (output padding, broadcast axes, split sizes), and a model whose
// shapes do not fit is refused here with the node, the op and the shapes involved.
import { ShapeError, UnsupportedOpError } from '../errors.js';
import { type Graph, getFloat, getInt, getInts, getString, type Node, numel, type TensorData } from './graph.js';

export type Shape = number[];

export interface ConvGeometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  padsEnd: number[];
}

function shapeErr(node: Node, why: string, context: Record<string, unknown> = {}): ShapeError {
  return new ShapeError(`node '${node.name}' (${node.op}): ${why}`, { node: node.name, op: node.op, ...context });
}

const fmt = (s: Shape | undefined) => (s ? `[${s.map((d) => (d < 0 ? '?' : d)).join(',')}]` : '[unknown]');

/** Strides, dilations and explicit pads of a Conv/ConvTranspose/pool node, auto_pad resolved. */
export function convGeometry(node: Node, inputShape: Shape, kernel: number[], transposed = false): ConvGeometry {
  const n = kernel.length;
  const strides = getInts(node, 'strides') ?? Array(n).fill(1);
  const dilations = getInts(node, 'dilations') ?? Array(n).fill(1);
  const pads = getInts(node, 'pads') ?? Array(2 * n).fill(0);
  const autoPad = getString(node, 'auto_pad', 'NOTSET');
  let padsBegin = pads.slice(0, n);
  let padsEnd = pads.slice(n);
  if (autoPad === 'VALID') {
    padsBegin = Array(n).fill(0);
    padsEnd = Array(n).fill(0);
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    if (transposed) throw new UnsupportedOpError(`node '${node.name}' (${node.op}): auto_pad ${autoPad} is not supported on ConvTranspose; give explicit pads`, { node: node.name });
    padsBegin = [];
    padsEnd = [];
    for (let i = 0; i < n; i++) {
      const inSize = inputShape[2 + i];
      const out = Math.ceil(inSize / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - inSize);
      const small = Math.floor(total / 2);
      padsBegin.push(autoPad === 'SAME_UPPER' ? small : total - small);
      padsEnd.push(autoPad === 'SAME_UPPER' ? total - small : small);
    }
  } else if (autoPad !== 'NOTSET') {
    throw new UnsupportedOpError(`node '${node.name}' (${node.op}): auto_pad '${autoPad}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER`, { node: node.name });
  }
  return { kernel, strides, dilations, padsBegin, padsEnd };
}

export function convOutputSize(inSize: number, g: ConvGeometry, i: number): number {
  return Math.floor((inSize + g.padsBegin[i] + g.padsEnd[i] - ((g.kernel[i] - 1) * g.dilations[i] + 1)) / g.strides[i]) + 1;
}

/** Numpy-style broadcast of two shapes; throws with both shapes when they do not broadcast. */
export function broadcastShapes(node: Node, a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else if (da < 0 || db < 0) out.push(da < 0 ? db : da);
    else throw shapeErr(node, `shapes ${fmt(a)} and ${fmt(b)} do not broadcast (dimension ${i}: ${da} vs ${db})`, { shapes: [a, b] });
  }
  return out;
}

/** Integer values of a constant input (an initializer or a Constant node's tensor). */
export function constantInts(constants: ReadonlyMap<string, TensorData>, name: string): number[] | undefined {
  const t = constants.get(name);
  if (!t) return undefined;
  return t.dtype === 'int64' ? Array.from(t.data as BigInt64Array, Number) : Array.from(t.data as Float32Array);
}

const ELEMENTWISE_UNARY = new Set(['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Sqrt', 'Neg', 'Identity', 'Exp', 'Log', 'Abs', 'Reciprocal', 'Softmax', 'LogSoftmax', 'Softplus', 'Dropout', 'InstanceNormalization']);
const ELEMENTWISE_BINARY = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Equal', 'Greater', 'Min', 'Max', 'PRelu']);

/**
 * Infers the shape of every value of `graph`, given the shapes of its inputs (dynamic dims as -1).
 * Returns the map of value name to shape; initializers are included.
 */
export function inferShapes(graph: Graph, extraConstants: ReadonlyMap<string, TensorData> = new Map()): Map<string, Shape> {
  const shapes = new Map<string, Shape>();
  const constants = new Map<string, TensorData>([...graph.initializers, ...extraConstants]);
  for (const [name, t] of constants) shapes.set(name, [...t.dims]);
  for (const v of graph.inputs) shapes.set(v.name, v.shape.map((d) => (typeof d === 'number' ? d : -1)));
  for (const node of graph.nodes) {
    const ins = node.inputs.map((n) => (n === '' ? undefined : shapes.get(n)));
    node.inputs.forEach((n, i) => {
      if (n !== '' && !ins[i]) throw shapeErr(node, `input '${n}' is produced by no earlier node, initializer or graph input`, { input: n });
    });
    const outs = inferNode(node, ins as Shape[], constants);
    node.outputs.forEach((o, i) => {
      if (o !== '' && outs[i]) shapes.set(o, outs[i]);
    });
    if (node.op === 'Constant') {
      const v = node.attrs.value;
      if (v?.kind === 'tensor') constants.set(node.outputs[0], v.value);
    }
  }
  return shapes;
}

/** The output shapes of one node, given its input shapes and the graph's constant values. */
export function inferNode(node: Node, ins: Shape[], constants: ReadonlyMap<string, TensorData>): Shape[] {
  const x = ins[0];
  if (ELEMENTWISE_UNARY.has(node.op)) return [[...x]];
  if (ELEMENTWISE_BINARY.has(node.op)) return [broadcastShapes(node, x, ins[1])];
  switch (node.op) {
    case 'Constant': {
      const v = node.attrs.value;
      if (v?.kind !== 'tensor') throw new UnsupportedOpError(`node '${node.name}' (Constant): only the 'value' tensor form is supported`, { node: node.name });
      return [[...v.value.dims]];
    }
    case 'Conv':
    case 'ConvTranspose': {
      const w = ins[1];
      if (x.length < 3 || w.length !== x.length) throw shapeErr(node, `input ${fmt(x)} and weight ${fmt(w)} must both be rank 3-5 (N, C, spatial...)`);
      const group = getInt(node, 'group', 1);
      const kernel = w.slice(2);
      const g = convGeometry(node, x, kernel, node.op === 'ConvTranspose');
      if (node.op === 'Conv') {
        if (x[1] >= 0 && x[1] !== w[1] * group) throw shapeErr(node, `input has ${x[1]} channels but the weight ${fmt(w)} expects ${w[1] * group}`, { input: x, weight: w });
        const spatial = kernel.map((_, i) => convOutputSize(x[2 + i], g, i));
        if (spatial.some((s) => s < 1)) throw shapeErr(node, `input ${fmt(x)} is too small for kernel ${fmt(kernel)} with these strides and pads`);
        return [[x[0], w[0], ...spatial]];
      }
      if (x[1] >= 0 && x[1] !== w[0]) throw shapeErr(node, `input has ${x[1]} channels but the weight ${fmt(w)} expects ${w[0]}`, { input: x, weight: w });
      if (getInts(node, 'output_shape')) throw new UnsupportedOpError(`node '${node.name}' (ConvTranspose): the output_shape attribute is not supported; give pads and output_padding`, { node: node.name });
      const op = getInts(node, 'output_padding') ?? Array(kernel.length).fill(0);
      const spatial = kernel.map((k, i) => g.strides[i] * (x[2 + i] - 1) + op[i] + (k - 1) * g.dilations[i] + 1 - g.padsBegin[i] - g.padsEnd[i]);
      return [[x[0], w[1] * group, ...spatial]];
    }
    case 'Gemm': {
      const a = getInt(node, 'transA', 0) ? [x[1], x[0]] : x;
      const b = getInt(node, 'transB', 0) ? [ins[1][1], ins[1][0]] : ins[1];
      if (a.length !== 2 || b.length !== 2) throw shapeErr(node, `Gemm needs rank-2 inputs, got ${fmt(x)} and ${fmt(ins[1])}`);
      if (a[1] >= 0 && b[0] >= 0 && a[1] !== b[0]) throw shapeErr(node, `inner dimensions differ: A is ${fmt(a)} and B is ${fmt(b)} (after transA/transB)`, { a, b });
      const out = [a[0], b[1]];
      if (ins[2]) broadcastShapes(node, out, ins[2]);
      return [out];
    }
    case 'MatMul': {
      const b = ins[1];
      if (x.length < 2 || b.length < 2) throw shapeErr(node, `MatMul needs inputs of rank >= 2, got ${fmt(x)} and ${fmt(b)}`);
      const k1 = x[x.length - 1];
      const k2 = b[b.length - 2];
      if (k1 >= 0 && k2 >= 0 && k1 !== k2) throw shapeErr(node, `inner dimensions differ: ${fmt(x)} x ${fmt(b)}`, { a: x, b });
      const batch = broadcastShapes(node, x.slice(0, -2), b.slice(0, -2));
      return [[...batch, x[x.length - 2], b[b.length - 1]]];
    }
    case 'MaxPool':
    case 'AveragePool': {
      const kernel = getInts(node, 'kernel_shape');
      if (!kernel) throw shapeErr(node, 'kernel_shape is required');
      const g = convGeometry(node, x, kernel);
      const ceil = getInt(node, 'ceil_mode', 0);
      const spatial = kernel.map((_, i) => {
        const span = x[2 + i] + g.padsBegin[i] + g.padsEnd[i] - ((kernel[i] - 1) * g.dilations[i] + 1);
        return (ceil ? Math.ceil(span / g.strides[i]) : Math.floor(span / g.strides[i])) + 1;
      });
      if (spatial.some((s) => s < 1)) throw shapeErr(node, `input ${fmt(x)} is smaller than the pooling kernel ${fmt(kernel)}`);
      return [[x[0], x[1], ...spatial], [x[0], x[1], ...spatial]];
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
      return [[x[0], x[1], ...x.slice(2).map(() => 1)]];
    case 'BatchNormalization': {
      for (let i = 1; i < 5; i++) {
        if (ins[i] && (ins[i].length !== 1 || (x[1] >= 0 && ins[i][0] !== x[1]))) throw shapeErr(node, `input ${i} has shape ${fmt(ins[i])}; it must be [${x[1]}], one value per channel of ${fmt(x)}`);
      }
      return [[...x], ins[3] ? [...ins[3]] : [], ins[4] ? [...ins[4]] : []];
    }
    case 'Concat': {
      const rank = x.length;
      const axis = (getInt(node, 'axis', 0) + rank) % rank;
      const out = [...x];
      for (const s of ins.slice(1)) {
        if (s.length !== rank) throw shapeErr(node, `inputs of ranks ${rank} and ${s.length} cannot be concatenated`);
        for (let d = 0; d < rank; d++) {
          if (d !== axis && s[d] >= 0 && out[d] >= 0 && s[d] !== out[d]) throw shapeErr(node, `inputs ${fmt(x)} and ${fmt(s)} differ outside the concat axis ${axis}`, { shapes: ins });
        }
        out[axis] = out[axis] < 0 || s[axis] < 0 ? -1 : out[axis] + s[axis];
      }
      return [out];
    }
    case 'Resize': {
      const scales = node.inputs[2] ? constantInts(constants, node.inputs[2]) : undefined;
      const sizes = node.inputs[3] ? constantInts(constants, node.inputs[3]) : undefined;
      if (sizes) return [x.map((d, i) => (i === 0 && d < 0 ? -1 : sizes[i]))];
      if (!scales) throw new UnsupportedOpError(`node '${node.name}' (Resize): scales or sizes must be a constant initializer`, { node: node.name });
      return [x.map((d, i) => (d < 0 ? -1 : Math.floor(d * scales[i])))];
    }
    case 'Flatten': {
      const raw = getInt(node, 'axis', 1);
      const axis = raw < 0 ? raw + x.length : raw;
      const prod = (s: Shape) => (s.some((d) => d < 0) ? -1 : numel(s));
      return [[prod(x.slice(0, axis)), prod(x.slice(axis))]];
    }
    case 'Reshape': {
      const target = constantInts(constants, node.inputs[1]);
      if (!target) throw new UnsupportedOpError(`node '${node.name}' (Reshape): the target shape must be a constant initializer`, { node: node.name });
      const out = target.map((d, i) => (d === 0 ? x[i] : d));
      const known = x.every((d) => d >= 0);
      const inf = out.indexOf(-1);
      if (inf >= 0 && known) {
        const rest = numel(out.filter((_, i) => i !== inf));
        out[inf] = numel(x) / rest;
        if (!Number.isInteger(out[inf])) throw shapeErr(node, `cannot reshape ${fmt(x)} to ${fmt(target)}`);
      } else if (known && numel(out) !== numel(x)) {
        throw shapeErr(node, `cannot reshape ${fmt(x)} (${numel(x)} values) to ${fmt(target)} (${numel(out)} values)`);
      }
      return [out];
    }
    case 'Transpose': {
      const perm = getInts(node, 'perm') ?? x.map((_, i) => x.length - 1 - i);
      return [perm.map((p) => x[p])];
    }
    case 'ReduceMean':
    case 'ReduceSum': {
      const axesIn = node.inputs[1] ? constantInts(constants, node.inputs[1]) : undefined;
      const axes = (axesIn ?? x.map((_, i) => i)).map((a) => (a + x.length) % x.length);
      const keep = getInt(node, 'keepdims', 1);
      return [keep ? x.map((d, i) => (axes.includes(i) ? 1 : d)) : x.filter((_, i) => !axes.includes(i))];
    }
    case 'Unsqueeze':
    case 'Squeeze': {
      const axesIn = node.inputs[1] ? constantInts(constants, node.inputs[1]) : getInts(node, 'axes');
      if (node.op === 'Unsqueeze') {
        if (!axesIn) throw new UnsupportedOpError(`node '${node.name}' (Unsqueeze): the axes must be constant`, { node: node.name, op: node.op });
        const rank = x.length + axesIn.length;
        const axes = axesIn.map((a) => (a < 0 ? a + rank : a));
        const out: Shape = [];
        for (let i = 0, k = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : x[k++]);
        return [out];
      }
      const axes = (axesIn ?? x.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => (a < 0 ? a + x.length : a));
      return [x.filter((_, i) => !axes.includes(i))];
    }
    case 'Cast':
      return [[...x]];
    case 'Shape':
      return [[x.length]];
    case 'Size':
      return [[]];
    default:
      throw new UnsupportedOpError(`node '${node.name}': op ${node.op} is not supported by fedrad's training-graph builder`, { node: node.name, op: node.op });
  }
}

export function getAlpha(node: Node): number {
  return getFloat(node, 'alpha', node.op === 'LeakyRelu' ? 0.01 : 1);
}
