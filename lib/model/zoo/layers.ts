// Layer helpers for the zoo: each adds its nodes and seeded initial weights, named like PyTorch
// modules ("enc1.conv.weight") so that exported models read naturally.
import { Random } from '../../util/random.js';
import { attr, floatTensor, GraphBuilder, type Model, OPSET, type TensorData } from '../graph.js';

export class LayerBuilder {
  readonly b = new GraphBuilder();
  readonly weights = new Map<string, TensorData>();
  private readonly rng: Random;

  constructor(seed: number) {
    this.rng = new Random(seed);
  }

  private param(name: string, dims: number[], init: (i: number) => number): string {
    if (this.weights.has(name)) throw new Error(`duplicate parameter ${name}`);
    const t = floatTensor(dims);
    const data = t.data as Float32Array;
    for (let i = 0; i < data.length; i++) data[i] = init(i);
    this.weights.set(name, t);
    this.b.reserve(name);
    return name;
  }

  /** 2-D convolution with He-normal weights; `pad` keeps the size for odd kernels by default. */
  conv(x: string, name: string, cin: number, cout: number, kernel = 3, opts: { stride?: number; pad?: number; bias?: boolean } = {}): string {
    const stride = opts.stride ?? 1;
    const pad = opts.pad ?? Math.floor(kernel / 2);
    const std = Math.sqrt(2 / (cin * kernel * kernel));
    const w = this.param(`${name}.weight`, [cout, cin, kernel, kernel], () => this.rng.normal() * std);
    const inputs = [x, w];
    if (opts.bias ?? true) inputs.push(this.param(`${name}.bias`, [cout], () => 0));
    return this.b.op('Conv', inputs, { kernel_shape: attr.ints([kernel, kernel]), strides: attr.ints([stride, stride]), pads: attr.ints([pad, pad, pad, pad]) }, name.replace(/\W/g, '_'));
  }

  batchNorm(x: string, name: string, channels: number): string {
    const inputs = [
      x,
      this.param(`${name}.weight`, [channels], () => 1),
      this.param(`${name}.bias`, [channels], () => 0),
      this.param(`${name}.running_mean`, [channels], () => 0),
      this.param(`${name}.running_var`, [channels], () => 1),
    ];
    return this.b.op('BatchNormalization', inputs, { epsilon: attr.float(1e-5), momentum: attr.float(0.9) }, name.replace(/\W/g, '_'));
  }

  /**
   * Group normalization (Wu and He, 2018) from primitives: the statistics are each sample's own, so
   * there are no running statistics to aggregate and training and inference compute the same thing.
   * Federated learning over non-IID sites prefers it to BatchNorm (Hsieh et al., 2020). `shape` is
   * the input's [C, H, W]; scale and shift are [C, 1, 1].
   */
  groupNorm(x: string, name: string, shape: [number, number, number], groups: number): string {
    return this.groupNormNd(x, name, shape, groups);
  }

  relu(x: string): string {
    return this.b.op('Relu', [x]);
  }

  /** conv (no bias) -> batch norm -> relu */
  convBnRelu(x: string, name: string, cin: number, cout: number): string {
    return this.relu(this.batchNorm(this.conv(x, `${name}.conv`, cin, cout, 3, { bias: false }), `${name}.bn`, cout));
  }

  /** conv (no bias) -> group norm -> relu, for an input of `size` x `size` */
  convGnRelu(x: string, name: string, cin: number, cout: number, size: number): string {
    return this.relu(this.groupNorm(this.conv(x, `${name}.conv`, cin, cout, 3, { bias: false }), `${name}.gn`, [cout, size, size], Math.min(8, cout)));
  }

  maxPool(x: string, k = 2): string {
    return this.b.op('MaxPool', [x], { kernel_shape: attr.ints([k, k]), strides: attr.ints([k, k]) });
  }

  upsample(x: string, factor = 2): string {
    const scales = this.b.constant(floatTensor([4], [1, 1, factor, factor]), 'scales');
    return this.b.op('Resize', [x, '', scales], { mode: attr.string('nearest') }, 'upsample');
  }

  concat(xs: string[]): string {
    return this.b.op('Concat', xs, { axis: attr.int(1) });
  }

  /** Fully connected layer (Gemm with transB, as PyTorch exports Linear). */
  linear(x: string, name: string, fin: number, fout: number): string {
    const bound = 1 / Math.sqrt(fin);
    const w = this.param(`${name}.weight`, [fout, fin], () => this.rng.uniform(-bound, bound));
    const bias = this.param(`${name}.bias`, [fout], () => 0);
    return this.b.op('Gemm', [x, w, bias], { transB: attr.int(1) }, name.replace(/\W/g, '_'));
  }

  /** Convolution over `rank` spatial axes (3 for volumes), cubic kernel, He-normal weights. */
  convNd(x: string, name: string, cin: number, cout: number, rank: number, kernel = 3, opts: { pad?: number; bias?: boolean } = {}): string {
    const pad = opts.pad ?? Math.floor(kernel / 2);
    const std = Math.sqrt(2 / (cin * kernel ** rank));
    const w = this.param(`${name}.weight`, [cout, cin, ...Array(rank).fill(kernel)], () => this.rng.normal() * std);
    const inputs = [x, w];
    if (opts.bias ?? true) inputs.push(this.param(`${name}.bias`, [cout], () => 0));
    return this.b.op('Conv', inputs, { kernel_shape: attr.ints(Array(rank).fill(kernel)), strides: attr.ints(Array(rank).fill(1)), pads: attr.ints(Array(2 * rank).fill(pad)) }, name.replace(/\W/g, '_'));
  }

  /**
   * Group normalization for any number of spatial axes; `shape` is the input's [C, ...spatial].
   * groups = C is instance normalization (Ulyanov et al., 2016), the usual choice of 3D U-Nets
   * trained on patches of one or two volumes (nnU-Net).
   */
  groupNormNd(x: string, name: string, shape: number[], groups: number): string {
    const [c, ...spatial] = shape;
    if (c % groups !== 0) throw new Error(`group norm ${name}: ${c} channels do not split into ${groups} groups`);
    // [N, G, C/G*spatial, 1], statistics over axis 2; the epsilon is a rank-0 initializer, which
    // initializerRoles keeps a constant (trained, it went below zero and the square root to NaN).
    const grouped = this.b.op('Reshape', [x, this.b.ints([0, groups, -1, 1], 'gn_groups')]);
    const axes = this.b.ints([2], 'gn_axes');
    const centered = this.b.op('Sub', [grouped, this.b.op('ReduceMean', [grouped, axes], { keepdims: attr.int(1) })]);
    const variance = this.b.op('ReduceMean', [this.b.op('Mul', [centered, centered]), axes], { keepdims: attr.int(1) });
    const normed = this.b.op('Div', [centered, this.b.op('Sqrt', [this.b.op('Add', [variance, this.b.scalar(1e-5)])])]);
    const back = this.b.op('Reshape', [normed, this.b.ints([0, c, ...spatial], 'gn_shape')]);
    const ones = spatial.map(() => 1);
    const scale = this.param(`${name}.weight`, [c, ...ones], () => 1);
    const shift = this.param(`${name}.bias`, [c, ...ones], () => 0);
    return this.b.op('Add', [this.b.op('Mul', [back, scale]), shift], {}, name.replace(/\W/g, '_'));
  }

  maxPoolNd(x: string, rank: number, k = 2): string {
    return this.b.op('MaxPool', [x], { kernel_shape: attr.ints(Array(rank).fill(k)), strides: attr.ints(Array(rank).fill(k)) });
  }

  upsampleNd(x: string, rank: number, factor = 2): string {
    const scales = this.b.constant(floatTensor([2 + rank], [1, 1, ...Array(rank).fill(factor)]), 'scales');
    return this.b.op('Resize', [x, '', scales], { mode: attr.string('nearest') }, 'upsample');
  }

  finish(opts: { name: string; input: string; inputShape: number[]; output: string; outputShape: Array<number | string>; metadata: Record<string, string> }): Model {
    const initializers = new Map([...this.weights, ...this.b.initializers]);
    this.b.opNamed('Identity', [opts.output], ['logits']);
    return {
      graph: {
        name: opts.name,
        nodes: this.b.nodes,
        inputs: [{ name: opts.input, dtype: 'float32', shape: ['N', ...opts.inputShape] }],
        outputs: [{ name: 'logits', dtype: 'float32', shape: opts.outputShape }],
        initializers,
      },
      opset: OPSET,
      producer: 'fedrad',
      metadata: opts.metadata,
    };
  }
}
