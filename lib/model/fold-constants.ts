// Constant folding before lowering: what exporters emit where fedrad's ops want a constant
// initializer. PyTorch and MONAI write Resize scales as a Concat of Constant nodes, Reshape targets
// as Shape -> Gather -> Unsqueeze -> Concat arithmetic on the input's shape, pads and slice bounds
// as Constant nodes. This pass evaluates those nodes once, on static shapes, and leaves a graph
// whose shape-like inputs are initializers. The dynamic batch dimension is tracked symbolically:
// a Reshape target that carries it becomes 0 (copy the input's batch) or -1, and Resize sizes that
// carry it become scales. The inference model itself is never rewritten: only the training graph
// is built from the folded graph.
import { UnsupportedOpError } from '../errors.js';
import { escapeUntrusted, quoteUntrusted } from '../util/untrusted-text.js';
import { type Graph, getInt, getInts, type Node, numel, type TensorData } from './graph.js';
import { inferNode, type Shape } from './shapes.js';

/** One element of a folded value: a number, or a dimension only known at run time (axis of the shape it came from). */
type Elem = number | { dynamicAxis: number };

interface FoldValue {
  dtype: 'float32' | 'int64';
  dims: number[];
  elems: Elem[];
}

export interface FoldResult {
  graph: Graph;
  /** initializers the pass added (folded values: never trained) */
  added: string[];
  /** how many nodes were evaluated away */
  foldedNodes: number;
}

const isNum = (e: Elem): e is number => typeof e === 'number';
const numeric = (v: FoldValue) => v.elems.every(isNum);

function toTensor(v: FoldValue): TensorData {
  const nums = v.elems as number[];
  return v.dtype === 'int64' ? { dtype: 'int64', dims: [...v.dims], data: BigInt64Array.from(nums, (n) => BigInt(Math.trunc(n))) } : { dtype: 'float32', dims: [...v.dims], data: Float32Array.from(nums) };
}

function fromTensor(t: TensorData): FoldValue {
  return { dtype: t.dtype, dims: [...t.dims], elems: t.dtype === 'int64' ? Array.from(t.data as BigInt64Array, Number) : Array.from(t.data as Float32Array) };
}

function constantValue(node: Node): FoldValue | undefined {
  const a = node.attrs;
  if (a.value?.kind === 'tensor') return fromTensor(a.value.value);
  if (a.value_float && (a.value_float.kind === 'float' || a.value_float.kind === 'int')) return { dtype: 'float32', dims: [], elems: [a.value_float.value] };
  if (a.value_floats?.kind === 'floats') return { dtype: 'float32', dims: [a.value_floats.value.length], elems: [...a.value_floats.value] };
  if (a.value_int?.kind === 'int') return { dtype: 'int64', dims: [], elems: [a.value_int.value] };
  if (a.value_ints?.kind === 'ints') return { dtype: 'int64', dims: [a.value_ints.value.length], elems: [...a.value_ints.value] };
  return undefined;
}

/** The axes of an Unsqueeze/Squeeze/ReduceX node: the second input (opset 13+) or the attribute. */
function axesOf(node: Node, ins: Array<FoldValue | undefined>): number[] | undefined {
  if (node.inputs[1]) {
    const a = ins[1];
    return a && numeric(a) ? (a.elems as number[]) : undefined;
  }
  return getInts(node, 'axes');
}

function binary(op: string, x: FoldValue, y: FoldValue): FoldValue | undefined {
  const scalarY = y.elems.length === 1;
  const scalarX = x.elems.length === 1;
  if (!scalarX && !scalarY && x.dims.join(',') !== y.dims.join(',')) return undefined;
  const dims = scalarX && !scalarY ? y.dims : x.dims.length >= y.dims.length ? x.dims : y.dims;
  const n = Math.max(x.elems.length, y.elems.length);
  const int = x.dtype === 'int64' && y.dtype === 'int64';
  const f = (a: number, b: number) => {
    switch (op) {
      case 'Add': return a + b;
      case 'Sub': return a - b;
      case 'Mul': return a * b;
      default: return int ? Math.trunc(a / b) : a / b;
    }
  };
  const elems: Elem[] = [];
  for (let i = 0; i < n; i++) {
    const a = x.elems[scalarX ? 0 : i];
    const b = y.elems[scalarY ? 0 : i];
    elems.push(isNum(a) && isNum(b) ? (int || x.dtype === 'int64' ? f(a, b) : Math.fround(f(a, b))) : { dynamicAxis: -1 });
  }
  return { dtype: x.dtype, dims: [...dims], elems };
}

function concat(values: FoldValue[], axisRaw: number): FoldValue | undefined {
  const rank = values[0].dims.length;
  if (rank === 0 || values.some((v) => v.dims.length !== rank)) return undefined;
  const axis = (axisRaw + rank) % rank;
  const outer = numel(values[0].dims.slice(0, axis));
  const elems: Elem[] = [];
  for (let o = 0; o < outer; o++) {
    for (const v of values) {
      const chunk = numel(v.dims.slice(axis));
      elems.push(...v.elems.slice(o * chunk, (o + 1) * chunk));
    }
  }
  const dims = [...values[0].dims];
  dims[axis] = values.reduce((a, v) => a + v.dims[axis], 0);
  return { dtype: values[0].dtype, dims, elems };
}

function slice1d(x: FoldValue, starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined): FoldValue | undefined {
  if (x.dims.length !== 1 || starts.length !== 1 || (axes && axes[0] !== 0 && axes[0] !== -1)) return undefined;
  const n = x.dims[0];
  const step = steps?.[0] ?? 1;
  if (step === 0) return undefined;
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  const norm = (v: number) => (v < 0 ? v + n : v);
  const elems: Elem[] = [];
  if (step > 0) {
    for (let i = clamp(norm(starts[0]), 0, n); i < clamp(norm(ends[0]), 0, n); i += step) elems.push(x.elems[i]);
  } else {
    for (let i = clamp(norm(starts[0]), -1, n - 1); i > clamp(norm(ends[0]), -1, n - 1); i += step) elems.push(x.elems[i]);
  }
  return { dtype: x.dtype, dims: [elems.length], elems };
}

/** Evaluates one node whose inputs are all folded values; undefined when the pass does not know the op or form. */
function evaluate(node: Node, ins: Array<FoldValue | undefined>, shapes: ReadonlyMap<string, Shape>): FoldValue | undefined {
  const x = ins[0];
  const ints = (i: number) => (ins[i] && numeric(ins[i]!) ? (ins[i]!.elems as number[]) : undefined);
  switch (node.op) {
    case 'Constant':
      return constantValue(node);
    case 'Shape': {
      const s = shapes.get(node.inputs[0]);
      if (!s) return undefined;
      const start = getInt(node, 'start', 0);
      const endRaw = node.attrs.end ? getInt(node, 'end', s.length) : s.length;
      const lo = Math.max(0, start < 0 ? start + s.length : start);
      const hi = Math.min(s.length, endRaw < 0 ? endRaw + s.length : endRaw);
      const elems: Elem[] = s.slice(lo, hi).map((d, i) => (d >= 0 ? d : { dynamicAxis: lo + i }));
      return { dtype: 'int64', dims: [elems.length], elems };
    }
    case 'ConstantOfShape': {
      const dims = ints(0);
      if (!dims) return undefined;
      const v = node.attrs.value?.kind === 'tensor' ? fromTensor(node.attrs.value.value) : { dtype: 'float32' as const, dims: [1], elems: [0] };
      return { dtype: v.dtype, dims, elems: Array(numel(dims)).fill(v.elems[0]) };
    }
    case 'Identity':
      return x && { ...x };
    case 'Cast': {
      const to = getInt(node, 'to', 1);
      if (!x || (to !== 1 && to !== 7)) return undefined;
      return { dtype: to === 7 ? 'int64' : 'float32', dims: [...x.dims], elems: x.elems.map((e) => (isNum(e) ? (to === 7 ? Math.trunc(e) : Math.fround(e)) : e)) };
    }
    case 'Floor':
    case 'Ceil':
    case 'Neg':
      if (!x) return undefined;
      return { ...x, elems: x.elems.map((e) => (isNum(e) ? (node.op === 'Floor' ? Math.floor(e) : node.op === 'Ceil' ? Math.ceil(e) : -e) : { dynamicAxis: -1 })) };
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
      return x && ins[1] ? binary(node.op, x, ins[1]) : undefined;
    case 'Concat':
      return ins.every((v) => v) ? concat(ins as FoldValue[], getInt(node, 'axis', 0)) : undefined;
    case 'Gather': {
      const idx = ins[1];
      if (!x || !idx || !numeric(idx) || x.dims.length !== 1 || getInt(node, 'axis', 0) !== 0) return undefined;
      const n = x.dims[0];
      return { dtype: x.dtype, dims: [...idx.dims], elems: (idx.elems as number[]).map((i) => x.elems[i < 0 ? i + n : i]) };
    }
    case 'Unsqueeze': {
      const axes = axesOf(node, ins);
      if (!x || !axes) return undefined;
      const rank = x.dims.length + axes.length;
      const norm = axes.map((a) => (a < 0 ? a + rank : a));
      const dims: number[] = [];
      let k = 0;
      for (let i = 0; i < rank; i++) dims.push(norm.includes(i) ? 1 : x.dims[k++]);
      return { ...x, dims };
    }
    case 'Squeeze': {
      const axes = axesOf(node, ins) ?? x?.dims.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
      if (!x || !axes) return undefined;
      const norm = axes.map((a) => (a < 0 ? a + x.dims.length : a));
      return { ...x, dims: x.dims.filter((_, i) => !norm.includes(i)) };
    }
    case 'Reshape': {
      const target = ints(1);
      if (!x || !target) return undefined;
      const dims = target.map((d, i) => (d === 0 ? x.dims[i] : d));
      const inf = dims.indexOf(-1);
      if (inf >= 0) dims[inf] = x.elems.length / numel(dims.filter((_, i) => i !== inf));
      return numel(dims) === x.elems.length ? { ...x, dims } : undefined;
    }
    case 'Slice': {
      const starts = ints(1);
      const ends = ints(2);
      if (!x || !starts || !ends) return undefined;
      return slice1d(x, starts, ends, node.inputs[3] ? ints(3) : undefined, node.inputs[4] ? ints(4) : undefined);
    }
    default:
      return undefined;
  }
}

/** Ops the pass evaluates when every input is known. */
export const FOLDABLE_OPS = new Set(['Constant', 'Shape', 'ConstantOfShape', 'Identity', 'Cast', 'Floor', 'Ceil', 'Neg', 'Add', 'Sub', 'Mul', 'Div', 'Concat', 'Gather', 'Unsqueeze', 'Squeeze', 'Reshape', 'Slice']);

const fmtElems = (v: FoldValue) => `[${v.elems.map((e) => (isNum(e) ? e : 'batch')).join(',')}]`;

/** A Reshape target that carries the dynamic batch: 0 copies the input's batch, one unknown is -1. */
function resolveReshapeTarget(node: Node, target: FoldValue, xs: Shape | undefined): number[] {
  const out = target.elems.map((e, i) => (isNum(e) ? e : e.dynamicAxis === i && xs && xs[i] < 0 ? 0 : Number.NaN));
  const unknown = out.filter((d) => Number.isNaN(d) || d === -1).length;
  if (unknown === 1) return out.map((d) => (Number.isNaN(d) ? -1 : d));
  if (unknown === 0) return out;
  throw new UnsupportedOpError(`node ${quoteUntrusted(node.name, 120)} (Reshape): its target shape ${fmtElems(target)} depends on the dynamic batch size in more than one place; fedrad needs at most one unknown dimension (export with x.flatten(1) or view(x.size(0), -1))`, { node: node.name, op: node.op });
}

/** Resize sizes that carry the dynamic batch, as scales over the static input shape. */
function sizesToScales(node: Node, sizes: FoldValue, xs: Shape | undefined): TensorData {
  if (!xs || xs.length !== sizes.elems.length) throw new UnsupportedOpError(`node ${quoteUntrusted(node.name, 120)} (Resize): sizes ${fmtElems(sizes)} do not match the input's rank`, { node: node.name, op: node.op });
  const scales = sizes.elems.map((e, i) => {
    if (!isNum(e)) {
      if (xs[i] < 0) return 1;
      throw new UnsupportedOpError(`node ${quoteUntrusted(node.name, 120)} (Resize): size ${i} is only known at run time; fedrad needs static spatial sizes`, { node: node.name, op: node.op });
    }
    if (xs[i] < 0) throw new UnsupportedOpError(`node ${quoteUntrusted(node.name, 120)} (Resize): input dimension ${i} is dynamic; only the batch may be`, { node: node.name, op: node.op });
    return e / xs[i];
  });
  return { dtype: 'float32', dims: [scales.length], data: Float32Array.from(scales) };
}

/**
 * Folds Constant nodes and constant or shape arithmetic into initializers. Float initializers
 * (weights) are never folded into anything: only Constant nodes, int64 initializers and shapes
 * start a folded value.
 */
export function foldConstants(graph: Graph): FoldResult {
  const values = new Map<string, FoldValue>();
  const constants = new Map<string, TensorData>(graph.initializers);
  for (const [name, t] of graph.initializers) if (t.dtype === 'int64') values.set(name, fromTensor(t));
  const shapes = new Map<string, Shape>();
  for (const [name, t] of graph.initializers) shapes.set(name, [...t.dims]);
  for (const v of graph.inputs) shapes.set(v.name, v.shape.map((d) => (typeof d === 'number' ? d : -1)));
  const kept: Node[] = [];
  const added = new Map<string, TensorData>();
  let foldedNodes = 0;
  const materialize = (name: string): void => {
    if (graph.initializers.has(name) || added.has(name)) return;
    const v = values.get(name)!;
    if (!numeric(v)) return;
    const t = constants.get(name) ?? toTensor(v);
    added.set(name, t);
    constants.set(name, t);
  };

  for (const node of graph.nodes) {
    const ins = node.inputs.map((n) => (n === '' ? undefined : values.get(n)));
    const allKnown = node.inputs.every((n, i) => n === '' || ins[i] !== undefined);
    if (FOLDABLE_OPS.has(node.op) && node.outputs.length === 1 && (allKnown || node.op === 'Shape')) {
      const v = evaluate(node, ins, shapes);
      if (v) {
        values.set(node.outputs[0], v);
        shapes.set(node.outputs[0], [...v.dims]);
        if (numeric(v)) constants.set(node.outputs[0], toTensor(v));
        foldedNodes++;
        continue;
      }
    }
    let rewritten = node;
    // Opset 13-17 ReduceMean takes its axes as an attribute; the training graph is opset 18, where they are an input.
    const axesAttr = node.op === 'ReduceMean' && node.attrs.axes?.kind === 'ints' ? node.attrs.axes.value : undefined;
    if (axesAttr && node.inputs.length === 1) {
      const t: TensorData = { dtype: 'int64', dims: [axesAttr.length], data: BigInt64Array.from(axesAttr, (a) => BigInt(a)) };
      const tname = `${node.outputs[0]}__axes`;
      added.set(tname, t);
      constants.set(tname, t);
      const { axes: _axes, ...attrs } = node.attrs;
      rewritten = { ...node, inputs: [node.inputs[0], tname], attrs };
    }
    node.inputs.forEach((name, i) => {
      const v = name === '' ? undefined : values.get(name);
      if (!v) return;
      if (numeric(v)) return materialize(name);
      const xs = shapes.get(node.inputs[0]);
      if (node.op === 'Reshape' && i === 1) {
        const target = resolveReshapeTarget(node, v, xs);
        const t: TensorData = { dtype: 'int64', dims: [target.length], data: BigInt64Array.from(target, (d) => BigInt(d)) };
        const tname = `${name}__static`;
        added.set(tname, t);
        constants.set(tname, t);
        rewritten = { ...rewritten, inputs: rewritten.inputs.map((n, k) => (k === 1 ? tname : n)) };
      } else if (node.op === 'Resize' && i === 3) {
        const t = sizesToScales(node, v, xs);
        const tname = `${name}__scales`;
        added.set(tname, t);
        constants.set(tname, t);
        rewritten = { ...rewritten, inputs: [node.inputs[0], '', tname] };
      } else {
        throw new UnsupportedOpError(`node ${quoteUntrusted(node.name, 120)} (${escapeUntrusted(node.op)}) takes input ${quoteUntrusted(name, 120)} = ${fmtElems(v)}, computed from the dynamic batch size; fedrad folds such values only into Reshape targets and Resize sizes`, { node: node.name, op: node.op, input: name });
      }
    });
    kept.push(rewritten);
    try {
      const outs = inferNode(rewritten, rewritten.inputs.map((n) => (n === '' ? undefined : shapes.get(n))) as Shape[], constants);
      rewritten.outputs.forEach((o, k) => {
        if (o !== '' && outs[k]) shapes.set(o, outs[k]);
      });
    } catch {
      // An op shape inference does not know: lowering refuses it by name; folding goes on without its shape.
    }
  }
  // A graph output that is a folded value stays computed by an Identity of its initializer.
  for (const out of graph.outputs) {
    if (values.has(out.name) && !kept.some((n) => n.outputs.includes(out.name))) {
      materialize(out.name);
      const t = added.get(out.name);
      if (t) {
        added.delete(out.name);
        added.set(`${out.name}__folded`, t);
        kept.push({ op: 'Identity', name: `${out.name}__folded_identity`, inputs: [`${out.name}__folded`], outputs: [out.name], attrs: {} });
      }
    }
  }
  return { graph: { ...graph, nodes: kept, initializers: new Map([...graph.initializers, ...added]) }, added: [...added.keys()], foldedNodes };
}
