// ONNX files in and out: protobuf through onnx-proto, converted to and from the plain Model of graph.ts.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import { ModelFormatError, ShapeError } from '../errors.js';
import { type AttrValue, type DType, type Graph, type Model, type Node, type TensorData, type ValueInfo, numel, OPSET } from './graph.js';

const { onnx } = onnxProto;
type Long = { toNumber(): number };

// onnx-proto's Version enum stops at 8, but ir_version is a plain integer field: 8 is what opset 18 needs.
const IR_VERSION = 8;

const ELEM = { float32: 1, int64: 7, bool: 9 } as const;

function toNumber(v: number | Long | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

function dtypeOf(elemType: number, where: string): DType {
  if (elemType === ELEM.float32) return 'float32';
  if (elemType === ELEM.int64) return 'int64';
  if (elemType === ELEM.bool) return 'bool';
  throw new ModelFormatError(`${where}: element type ${elemType} is not supported (float32=1, int64=7 or bool=9 are)`, { where, elemType });
}

function encodeTensor(name: string, t: TensorData): InstanceType<typeof onnx.TensorProto> {
  const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return onnx.TensorProto.create({ name, dims: t.dims, dataType: ELEM[t.dtype], rawData: raw });
}

function decodeTensor(p: InstanceType<typeof onnx.TensorProto>, withoutValues = false): TensorData {
  const dims = (p.dims ?? []).map(toNumber);
  const dtype = dtypeOf(p.dataType ?? 0, `initializer '${p.name}'`);
  if (withoutValues && dtype !== 'bool') return { dtype, dims, data: dtype === 'float32' ? new Float32Array(0) : new BigInt64Array(0) };
  const size = numel(dims);
  const raw = p.rawData && p.rawData.length > 0 ? p.rawData : undefined;
  if (dtype === 'float32') {
    let data: Float32Array;
    if (raw) {
      if (raw.length !== size * 4) throw new ModelFormatError(`initializer '${p.name}' has ${raw.length} bytes, dims ${JSON.stringify(dims)} need ${size * 4}`, { name: p.name });
      data = new Float32Array(size);
      new Uint8Array(data.buffer).set(raw);
    } else {
      data = Float32Array.from(p.floatData ?? []);
    }
    if (data.length !== size) throw new ModelFormatError(`initializer '${p.name}' has ${data.length} values, dims ${JSON.stringify(dims)} need ${size}`, { name: p.name });
    return { dtype, dims, data };
  }
  if (dtype === 'int64') {
    let data: BigInt64Array;
    if (raw) {
      data = new BigInt64Array(size);
      new Uint8Array(data.buffer).set(raw.subarray(0, size * 8));
    } else {
      data = BigInt64Array.from((p.int64Data ?? []).map((v) => BigInt(toNumber(v as number | Long))));
    }
    if (data.length !== size) throw new ModelFormatError(`initializer '${p.name}' has ${data.length} values, dims ${JSON.stringify(dims)} need ${size}`, { name: p.name });
    return { dtype, dims, data };
  }
  throw new ModelFormatError(`initializer '${p.name}' is boolean; only float32 and int64 initializers are supported`, { name: p.name });
}

function encodeAttr(name: string, a: AttrValue) {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int': return { name, type: T.INT, i: a.value };
    case 'ints': return { name, type: T.INTS, ints: a.value };
    case 'float': return { name, type: T.FLOAT, f: a.value };
    case 'floats': return { name, type: T.FLOATS, floats: a.value };
    case 'string': return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case 'tensor': return { name, type: T.TENSOR, t: encodeTensor('', a.value) };
  }
}

function decodeAttr(p: InstanceType<typeof onnx.AttributeProto>, node: string): AttrValue {
  const T = onnx.AttributeProto.AttributeType;
  switch (p.type) {
    case T.INT: return { kind: 'int', value: toNumber(p.i as number | Long) };
    case T.INTS: return { kind: 'ints', value: (p.ints ?? []).map((v) => toNumber(v as number | Long)) };
    case T.FLOAT: return { kind: 'float', value: p.f ?? 0 };
    case T.FLOATS: return { kind: 'floats', value: [...(p.floats ?? [])] };
    case T.STRING: return { kind: 'string', value: new TextDecoder().decode(p.s ?? new Uint8Array()) };
    case T.TENSOR: return { kind: 'tensor', value: decodeTensor(p.t as InstanceType<typeof onnx.TensorProto>) };
    default:
      throw new ModelFormatError(`node '${node}': attribute '${p.name}' has type ${p.type}, which fedrad does not read (int, ints, float, floats, string and tensor are read)`, { node, attribute: p.name });
  }
}

function encodeValueInfo(v: ValueInfo) {
  return {
    name: v.name,
    type: { tensorType: { elemType: ELEM[v.dtype], shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function decodeValueInfo(p: InstanceType<typeof onnx.ValueInfoProto>): ValueInfo {
  const tt = p.type?.tensorType;
  if (!tt) throw new ModelFormatError(`graph value '${p.name}' is not a tensor; fedrad models take and return tensors only`, { name: p.name });
  const shape = (tt.shape?.dim ?? []).map((d, i) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null && toNumber(d.dimValue as number | Long) > 0 ? toNumber(d.dimValue as number | Long) : `d${i}`));
  return { name: p.name ?? '', dtype: dtypeOf(tt.elemType ?? 0, `graph value '${p.name}'`), shape };
}

export function encodeModel(model: Model): Uint8Array {
  const g = model.graph;
  const proto = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: model.producer,
    opsetImport: [{ domain: '', version: model.opset }],
    metadataProps: Object.entries(model.metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: g.name,
      node: g.nodes.map((n) => ({ opType: n.op, name: n.name, input: n.inputs, output: n.outputs, attribute: Object.entries(n.attrs).map(([k, a]) => encodeAttr(k, a)) })),
      initializer: [...g.initializers].map(([name, t]) => encodeTensor(name, t)),
      input: g.inputs.map(encodeValueInfo),
      output: g.outputs.map(encodeValueInfo),
    },
  });
  return onnx.ModelProto.encode(proto).finish();
}

/**
 * Decodes an ONNX model. With `withoutValues`, initializers keep their dtype and dims but hold no
 * values (zero-length data): the graph's structure at no cost in memory.
 */
export function decodeModel(bytes: Uint8Array, source = 'model', options: { withoutValues?: boolean } = {}): Model {
  let proto: InstanceType<typeof onnx.ModelProto>;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (cause) {
    throw new ModelFormatError(`${source} is not an ONNX model: ${(cause as Error).message}`, { source }, { cause });
  }
  const gp = proto.graph;
  if (!gp || !gp.node) throw new ModelFormatError(`${source} has no graph; is it an ONNX model file?`, { source });
  const domainOpset = (proto.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = domainOpset ? toNumber(domainOpset.version as number | Long) : OPSET;
  const initializers = new Map<string, TensorData>();
  for (const t of gp.initializer ?? []) initializers.set(t.name ?? '', decodeTensor(t as InstanceType<typeof onnx.TensorProto>, options.withoutValues));
  const nodes: Node[] = (gp.node ?? []).map((n, i) => {
    if (n.domain && n.domain !== 'ai.onnx') {
      throw new ModelFormatError(`${source}: node '${n.name || i}' uses op domain '${n.domain}'; fedrad uses standard ai.onnx ops only`, { node: n.name, domain: n.domain });
    }
    const name = n.name || `${n.opType}_${i}`;
    const attrs: Record<string, AttrValue> = {};
    for (const a of n.attribute ?? []) attrs[a.name ?? ''] = decodeAttr(a as InstanceType<typeof onnx.AttributeProto>, name);
    return { op: n.opType ?? '', name, inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attrs };
  });
  const graph: Graph = {
    name: gp.name ?? 'graph',
    nodes,
    // Older exporters list initializers among the inputs too: those are weights, not data inputs.
    inputs: (gp.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map((v) => decodeValueInfo(v as InstanceType<typeof onnx.ValueInfoProto>)),
    outputs: (gp.output ?? []).map((v) => decodeValueInfo(v as InstanceType<typeof onnx.ValueInfoProto>)),
    initializers,
  };
  const metadata: Record<string, string> = {};
  for (const p of proto.metadataProps ?? []) metadata[p.key ?? ''] = p.value ?? '';
  return { graph, opset, producer: proto.producerName ?? '', metadata };
}

export async function readModel(path: string): Promise<Model> {
  return decodeModel(await readFile(path), path);
}

export async function writeModel(path: string, model: Model): Promise<Uint8Array> {
  const bytes = encodeModel(model);
  await writeFile(path, bytes);
  return bytes;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** parameter: trained weights; running-statistic: BatchNormalization mean/var; constant: shapes, scales, axes. */
export type InitializerRole = 'parameter' | 'running-statistic' | 'constant';

export interface InitializerInfo {
  name: string;
  dtype: TensorData['dtype'];
  dims: number[];
  size: number;
  role: InitializerRole;
}

const CONSTANT_INPUTS: Record<string, number[]> = { Resize: [1, 2, 3], Reshape: [1], ReduceMean: [1], ReduceSum: [1], Split: [1], Slice: [1, 2, 3, 4] };

export function initializerRoles(model: Model): Map<string, InitializerRole> {
  const roles = new Map<string, InitializerRole>();
  // A rank-0 float initializer is a constant of the graph (an epsilon, a scale), never a weight:
  // training one (an epsilon pushed below zero) turns a normalization into NaN.
  for (const [name, t] of model.graph.initializers) roles.set(name, t.dtype === 'float32' && t.dims.length > 0 ? 'parameter' : 'constant');
  for (const node of model.graph.nodes) {
    node.inputs.forEach((input, i) => {
      if (!roles.has(input)) return;
      if (node.op === 'BatchNormalization' && i >= 3) roles.set(input, 'running-statistic');
      else if (CONSTANT_INPUTS[node.op]?.includes(i)) roles.set(input, 'constant');
    });
  }
  return roles;
}

export function listInitializers(model: Model): InitializerInfo[] {
  const roles = initializerRoles(model);
  return [...model.graph.initializers].map(([name, t]) => ({ name, dtype: t.dtype, dims: [...t.dims], size: numel(t.dims), role: roles.get(name)! }));
}

/**
 * A copy of `model` whose named initializers hold new values. Every replacement must name an
 * existing initializer and keep its dtype and shape: a global model's structure never changes.
 */
export function replaceInitializers(model: Model, values: ReadonlyMap<string, TensorData>): Model {
  const initializers = new Map(model.graph.initializers);
  for (const [name, t] of values) {
    const old = initializers.get(name);
    if (!old) throw new ShapeError(`initializer '${name}' is not in the model (it has ${[...initializers.keys()].slice(0, 8).join(', ')}...)`, { name });
    if (old.dtype !== t.dtype || old.dims.join(',') !== t.dims.join(',')) {
      throw new ShapeError(`initializer '${name}' is ${old.dtype}[${old.dims}] in the model but the new value is ${t.dtype}[${t.dims}]`, { name, expected: old.dims, got: t.dims });
    }
    initializers.set(name, t);
  }
  return { ...model, graph: { ...model.graph, initializers } };
}

/** Where an initializer's raw little-endian values sit inside an encoded model. */
export interface InitializerSpan {
  dtype: TensorData['dtype'];
  dims: number[];
  /** byte offset of the values in the encoded model, or -1 when they are not stored as raw_data */
  offset: number;
  byteLength: number;
}

/**
 * The initializers' positions inside an encoded model, read without copying any values: lets a
 * caller change weights in place in the model's own bytes (same shapes, same encoding).
 */
export function initializerSpans(bytes: Uint8Array, source = 'model'): Map<string, InitializerSpan> {
  let proto: InstanceType<typeof onnx.ModelProto>;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (cause) {
    throw new ModelFormatError(`${source} is not an ONNX model: ${(cause as Error).message}`, { source }, { cause });
  }
  const spans = new Map<string, InitializerSpan>();
  for (const t of proto.graph?.initializer ?? []) {
    const dims = (t.dims ?? []).map(toNumber);
    const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
    const dtype = dtypeOf(t.dataType ?? 0, `initializer '${t.name}'`) as TensorData['dtype'];
    const inside = raw && raw.buffer === bytes.buffer;
    spans.set(t.name ?? '', { dtype, dims, offset: inside ? raw.byteOffset - bytes.byteOffset : -1, byteLength: raw?.length ?? 0 });
  }
  return spans;
}
