// The in-memory model: a small, plain mirror of ONNX's graph that the rest of lib/model builds,
// differentiates and rewrites. onnx-io converts it to and from ONNX protobuf.

export type DType = 'float32' | 'int64' | 'bool';

export interface TensorData {
  dtype: 'float32' | 'int64';
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'float'; value: number }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: TensorData };

export const attr = {
  int: (value: number): AttrValue => ({ kind: 'int', value }),
  ints: (value: number[]): AttrValue => ({ kind: 'ints', value }),
  // ONNX stores float attributes as float32: round here so a model equals itself after a round trip.
  float: (value: number): AttrValue => ({ kind: 'float', value: Math.fround(value) }),
  floats: (value: number[]): AttrValue => ({ kind: 'floats', value: value.map(Math.fround) }),
  string: (value: string): AttrValue => ({ kind: 'string', value }),
  tensor: (value: TensorData): AttrValue => ({ kind: 'tensor', value }),
};

export interface Node {
  op: string;
  name: string;
  inputs: string[]; // '' marks an omitted optional input
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

/** A dimension: a number, or a symbolic name (a dynamic batch, say). */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  dtype: DType;
  shape: Dim[];
}

export interface Graph {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: Map<string, TensorData>;
}

export interface Model {
  graph: Graph;
  opset: number;
  producer: string;
  /** metadata_props: the zoo records its name, input shape and task here. */
  metadata: Record<string, string>;
}

export const OPSET = 18;

export function floatTensor(dims: number[], data?: ArrayLike<number>): TensorData {
  const size = numel(dims);
  const arr = new Float32Array(size);
  if (data) {
    if (data.length !== size) throw new RangeError(`tensor data has ${data.length} values, dims ${JSON.stringify(dims)} need ${size}`);
    arr.set(data);
  }
  return { dtype: 'float32', dims: [...dims], data: arr };
}

export function int64Tensor(dims: number[], data: number[]): TensorData {
  return { dtype: 'int64', dims: [...dims], data: BigInt64Array.from(data.map((v) => BigInt(v))) };
}

export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function getInt(node: Node, name: string, fallback: number): number {
  const a = node.attrs[name];
  return a && a.kind === 'int' ? a.value : fallback;
}

export function getFloat(node: Node, name: string, fallback: number): number {
  const a = node.attrs[name];
  return a && (a.kind === 'float' || a.kind === 'int') ? a.value : fallback;
}

export function getInts(node: Node, name: string): number[] | undefined {
  const a = node.attrs[name];
  return a && a.kind === 'ints' ? a.value : undefined;
}

export function getString(node: Node, name: string, fallback: string): string {
  const a = node.attrs[name];
  return a && a.kind === 'string' ? a.value : fallback;
}

/**
 * Appends nodes with fresh, readable value names. Used by the zoo, by lowering and by autodiff,
 * so every generated name is unique within one graph.
 */
export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers = new Map<string, TensorData>();
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(reserved: Iterable<string> = []) {
    for (const n of reserved) this.used.add(n);
  }

  reserve(name: string): void {
    this.used.add(name);
  }

  fresh(hint: string): string {
    let name = `${hint}_${this.counter++}`;
    while (this.used.has(name)) name = `${hint}_${this.counter++}`;
    this.used.add(name);
    return name;
  }

  /** Adds one node with a single output and returns the output's name. */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, hint?: string): string {
    const out = this.fresh(hint ?? op.toLowerCase());
    this.nodes.push({ op, name: `${out}_node`, inputs, outputs: [out], attrs });
    return out;
  }

  /** Adds one node with several outputs. */
  opMulti(op: string, inputs: string[], outputCount: number, attrs: Record<string, AttrValue> = {}, hint?: string): string[] {
    const outs = Array.from({ length: outputCount }, () => this.fresh(hint ?? op.toLowerCase()));
    this.nodes.push({ op, name: `${outs[0]}_node`, inputs, outputs: outs, attrs });
    return outs;
  }

  /** Adds a node whose outputs are already named (graph outputs, say). */
  opNamed(op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): void {
    for (const o of outputs) this.used.add(o);
    this.nodes.push({ op, name: `${outputs[0]}_node`, inputs, outputs, attrs });
  }

  constant(tensor: TensorData, hint = 'const'): string {
    const name = this.fresh(hint);
    this.initializers.set(name, tensor);
    return name;
  }

  scalar(value: number, hint = 'scalar'): string {
    return this.constant(floatTensor([], [value]), hint);
  }

  ints(values: number[], hint = 'ints'): string {
    return this.constant(int64Tensor([values.length], values), hint);
  }
}
