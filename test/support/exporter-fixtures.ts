// ONNX models with the exact structure torch.onnx.export (PyTorch 1.13-2.x, opset 17) writes, built
// with onnx-proto and none of fedrad's graph helpers: Constant nodes for Resize scales and roi, a
// Concat of Constants, Reshape targets from Shape -> Gather -> Unsqueeze -> Concat on a dynamic
// batch, BatchNormalization in training mode (training_mode=1, three outputs), a final Softmax.
import onnxProto from 'onnx-proto';
import { Random } from '../../lib/util/random.js';

const { onnx } = onnxProto;
const T = onnx.AttributeProto.AttributeType;

type Attr = { name: string; type: number; i?: number; ints?: number[]; f?: number; s?: Uint8Array; t?: { dims: number[]; dataType: number; rawData: Uint8Array } };
const ints = (name: string, v: number[]): Attr => ({ name, type: T.INTS, ints: v });
const int = (name: string, v: number): Attr => ({ name, type: T.INT, i: v });
const float = (name: string, v: number): Attr => ({ name, type: T.FLOAT, f: v });
const str = (name: string, v: string): Attr => ({ name, type: T.STRING, s: new TextEncoder().encode(v) });

class Exporter {
  readonly nodes: Array<{ name: string; opType: string; input: string[]; output: string[]; attribute: Attr[] }> = [];
  readonly initializers: Array<{ name: string; dims: number[]; dataType: number; rawData: Uint8Array }> = [];
  private readonly rng: Random;
  private count = 0;
  constructor(seed: number) {
    this.rng = new Random(seed);
  }
  node(opType: string, input: string[], attribute: Attr[] = [], outputs = 1, scope = ''): string {
    const name = `${scope}/${opType}${this.count ? `_${this.count}` : ''}`;
    this.count++;
    const output = Array.from({ length: outputs }, (_, i) => `${name}_output_${i}`);
    this.nodes.push({ name, opType, input, output, attribute });
    return output[0];
  }
  constant(dims: number[], values: number[], dtype: 'float' | 'int64'): string {
    const raw = dtype === 'float' ? new Uint8Array(Float32Array.from(values).buffer) : new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer);
    return this.node('Constant', [], [{ name: 'value', type: T.TENSOR, t: { dims, dataType: dtype === 'float' ? 1 : 7, rawData: raw } }]);
  }
  weight(name: string, dims: number[], std: number, fill?: number): string {
    const n = dims.reduce((a, b) => a * b, 1);
    const values = Float32Array.from({ length: n }, () => fill ?? std * this.rng.normal());
    this.initializers.push({ name, dims, dataType: 1, rawData: new Uint8Array(values.buffer) });
    return name;
  }
  /** bias=false as before a BatchNorm (whose mean subtraction leaves a bias no gradient) */
  conv(x: string, scope: string, cin: number, cout: number, k: number, bias = true): string {
    const w = this.weight(`${scope}.weight`, [cout, cin, k, k], Math.sqrt(2 / (cin * k * k)));
    const b = bias ? [this.weight(`${scope}.bias`, [cout], 0, 0)] : [];
    const p = (k - 1) / 2;
    return this.node('Conv', [x, w, ...b], [ints('dilations', [1, 1]), int('group', 1), ints('kernel_shape', [k, k]), ints('pads', [p, p, p, p]), ints('strides', [1, 1])], 1, `/${scope}`);
  }
  batchNorm(x: string, scope: string, c: number, trainingMode: boolean): string {
    const ins = [x, this.weight(`${scope}.weight`, [c], 0, 1), this.weight(`${scope}.bias`, [c], 0, 0), this.weight(`${scope}.running_mean`, [c], 0, 0), this.weight(`${scope}.running_var`, [c], 0, 1)];
    const attrs = [float('epsilon', 1e-5), float('momentum', 0.9), ...(trainingMode ? [int('training_mode', 1)] : [])];
    return this.node('BatchNormalization', ins, attrs, trainingMode ? 3 : 1, `/${scope}`);
  }
  encode(input: { name: string; dims: Array<number | string> }, output: { name: string; dims: Array<number | string> }, last: string): Uint8Array {
    this.nodes[this.nodes.length - 1].output[0] = output.name;
    const prev = last;
    for (const n of this.nodes) n.input = n.input.map((i) => (i === prev ? output.name : i));
    const tensorType = (dims: Array<number | string>) => ({ tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } });
    const proto = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'pytorch',
      producerVersion: '1.13.1',
      opsetImport: [{ domain: '', version: 17 }],
      graph: { name: 'torch_jit', node: this.nodes, initializer: this.initializers, input: [{ name: input.name, type: tensorType(input.dims) }], output: [{ name: output.name, type: tensorType(output.dims) }] },
    });
    return onnx.ModelProto.encode(proto as never).finish();
  }
}

export interface UNetFixtureOptions {
  size?: number;
  seed?: number;
  /** 'constant-scales': Resize scales as a Concat of two Constant nodes (nn.Upsample(scale_factor=2));
   * 'shape-sizes': Resize sizes from Shape -> Slice -> Concat with a Constant (F.interpolate(size=...)) */
  upsample?: 'constant-scales' | 'shape-sizes';
  /** BatchNormalization as a training-mode export writes it */
  batchNormTrainingMode?: boolean;
}

/** A 2-D U-Net (one level, skip connection, nearest upsampling), [N,1,S,S] -> [N,1,S,S] logits. */
export function exportedUNet(o: UNetFixtureOptions = {}): Uint8Array {
  const s = o.size ?? 16;
  const e = new Exporter(o.seed ?? 5);
  const e1 = e.node('Relu', [e.batchNorm(e.conv('input', 'enc.conv', 1, 4, 3, false), 'enc.bn', 4, o.batchNormTrainingMode ?? true)], [], 1, '/enc');
  const pooled = e.node('MaxPool', [e1], [int('ceil_mode', 0), ints('kernel_shape', [2, 2]), ints('pads', [0, 0, 0, 0]), ints('strides', [2, 2])], 1, '/pool');
  const mid = e.node('Relu', [e.conv(pooled, 'mid.conv', 4, 8, 3)], [], 1, '/mid');
  let up: string;
  if ((o.upsample ?? 'constant-scales') === 'constant-scales') {
    const roi = e.constant([0], [], 'float');
    const scales = e.node('Concat', [e.constant([2], [1, 1], 'float'), e.constant([2], [2, 2], 'float')], [int('axis', 0)], 1, '/up');
    up = e.node('Resize', [mid, roi, scales], [str('coordinate_transformation_mode', 'asymmetric'), float('cubic_coeff_a', -0.75), str('mode', 'nearest'), str('nearest_mode', 'floor')], 1, '/up');
  } else {
    const head = e.node('Slice', [e.node('Shape', [mid]), e.constant([1], [0], 'int64'), e.constant([1], [2], 'int64'), e.constant([1], [0], 'int64')], [], 1, '/up');
    const sizes = e.node('Concat', [head, e.constant([2], [s, s], 'int64')], [int('axis', 0)], 1, '/up');
    up = e.node('Resize', [mid, '', '', sizes], [str('coordinate_transformation_mode', 'asymmetric'), str('mode', 'nearest'), str('nearest_mode', 'floor')], 1, '/up');
  }
  const cat = e.node('Concat', [up, e1], [int('axis', 1)], 1, '/dec');
  const dec = e.node('Relu', [e.conv(cat, 'dec.conv', 12, 4, 3)], [], 1, '/dec');
  const head = e.conv(dec, 'head', 4, 1, 1);
  return e.encode({ name: 'input', dims: ['batch_size', 1, s, s] }, { name: 'logits', dims: ['batch_size', 1, s, s] }, head);
}

export interface CnnFixtureOptions {
  size?: number;
  seed?: number;
  classes?: number;
  /** the model ends in Softmax (probabilities out) */
  softmax?: boolean;
}

/** A 2-D CNN whose flatten is x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze -> Concat -> Reshape. */
export function exportedCnn(o: CnnFixtureOptions = {}): Uint8Array {
  const s = o.size ?? 16;
  const k = o.classes ?? 2;
  const e = new Exporter(o.seed ?? 3);
  const c1 = e.node('Relu', [e.conv('input', 'features.0', 1, 4, 3)], [], 1, '/features/features.1');
  const p1 = e.node('MaxPool', [c1], [int('ceil_mode', 0), ints('kernel_shape', [2, 2]), ints('pads', [0, 0, 0, 0]), ints('strides', [2, 2])], 1, '/features/features.2');
  const c2 = e.node('Relu', [e.conv(p1, 'features.3', 4, 6, 3)], [], 1, '/features/features.4');
  const batch = e.node('Gather', [e.node('Shape', [c2]), e.constant([], [0], 'int64')], [int('axis', 0)]);
  const target = e.node('Concat', [e.node('Unsqueeze', [batch, e.constant([1], [0], 'int64')]), e.constant([1], [-1], 'int64')], [int('axis', 0)]);
  const flat = e.node('Reshape', [c2, target]);
  const half = s / 2;
  const logits = e.node('Gemm', [flat, e.weight('classifier.weight', [k, 6 * half * half], 0.05), e.weight('classifier.bias', [k], 0, 0)], [float('alpha', 1), float('beta', 1), int('transB', 1)], 1, '/classifier');
  const last = o.softmax ? e.node('Softmax', [logits], [int('axis', 1)]) : logits;
  return e.encode({ name: 'input', dims: ['batch_size', 1, s, s] }, { name: o.softmax ? 'probabilities' : 'logits', dims: ['batch_size', k] }, last);
}
