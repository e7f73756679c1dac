// Every differentiable op and every loss: the training graph's gradients against float64 central
// differences of an independent reference interpreter. A fresh seed each run (FEDRAD_TEST_SEED to replay).
import { describe, expect, it } from 'vitest';
import { attr, type AttrValue, floatTensor, GraphBuilder, int64Tensor, type Model, numel, OPSET, type TensorData } from '../../../lib/model/graph.js';
import { inferShapes } from '../../../lib/model/shapes.js';
import { Random } from '../../../lib/util/random.js';
import { gradientCheck } from '../../support/gradcheck.js';
import type { ReferenceLoss } from '../../support/reference.js';

const SEED = Number(process.env.FEDRAD_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
const TOLERANCE = 1e-4;

class Case {
  readonly b = new GraphBuilder(['x']);
  readonly init = new Map<string, TensorData>();
  private readonly rng: Random;
  constructor(seed: number) {
    this.rng = new Random(seed);
  }
  param(name: string, dims: number[], scale = 0.5, offset = 0): string {
    this.init.set(name, floatTensor(dims, Array.from({ length: numel(dims) }, () => offset + scale * this.rng.normal())));
    this.b.reserve(name);
    return name;
  }
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.b.op(op, inputs, attrs);
  }
}

/** x (data) + p0 (a parameter of the same shape, so the op's input gradient is checked too) -> op -> output. */
function opModel(inputShape: number[], build: (c: Case, h: string) => string, seed: number): Model {
  const c = new Case(seed);
  const h = c.op('Add', ['x', c.param('p0', inputShape, 0.1)]);
  const out = build(c, h);
  const initializers = new Map([...c.init, ...c.b.initializers]);
  const graph = { name: 'case', nodes: c.b.nodes, inputs: [{ name: 'x', dtype: 'float32' as const, shape: inputShape }], outputs: [] as Model['graph']['outputs'], initializers };
  const shape = inferShapes(graph).get(out)!;
  graph.outputs = [{ name: out, dtype: 'float32', shape }];
  return { graph, opset: OPSET, producer: 'test', metadata: {} };
}

const S = [2, 3, 6, 6];
const conv = (c: Case, h: string, cin: number, cout: number, k: number, attrs: Record<string, AttrValue>, bias = true) =>
  c.op('Conv', [h, c.param('w', [cout, cin, k, k]), ...(bias ? [c.param('b', [cout])] : [])], { kernel_shape: attr.ints([k, k]), ...attrs });

const OP_CASES: Array<[string, number[], (c: Case, h: string) => string]> = [
  ['Conv 3x3 stride 1 pad 1', S, (c, h) => conv(c, h, 3, 4, 3, { pads: attr.ints([1, 1, 1, 1]) })],
  ['Conv 3x3 stride 1 no pad (patch weight gradient, flipped-kernel input gradient)', S, (c, h) => conv(c, h, 3, 4, 3, {})],
  ['Conv 3x2 stride 1 asymmetric pads', [2, 3, 6, 5], (c, h) => c.op('Conv', [h, c.param('w', [2, 3, 3, 2]), c.param('b', [2])], { kernel_shape: attr.ints([3, 2]), pads: attr.ints([2, 0, 0, 1]) })],
  ['Conv 3x3 stride 2 pad 1 on odd size', [2, 3, 7, 7], (c, h) => conv(c, h, 3, 4, 3, { strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) })],
  ['Conv 3x3 dilation 2, no bias', S, (c, h) => conv(c, h, 3, 2, 3, { dilations: attr.ints([2, 2]), pads: attr.ints([2, 2, 2, 2]) }, false)],
  ['Conv 2x2 stride 2 asymmetric pads', [2, 3, 5, 5], (c, h) => conv(c, h, 3, 2, 2, { strides: attr.ints([2, 2]), pads: attr.ints([0, 1, 1, 0]) })],
  ['Conv auto_pad SAME_UPPER stride 2', S, (c, h) => conv(c, h, 3, 2, 3, { strides: attr.ints([2, 2]), auto_pad: attr.string('SAME_UPPER') })],
  ['ConvTranspose 3x3 stride 2 pad 1 output_padding 1', S, (c, h) => c.op('ConvTranspose', [h, c.param('w', [3, 4, 3, 3]), c.param('b', [4])], { strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]), output_padding: attr.ints([1, 1]) })],
  ['ConvTranspose 2x2 stride 2', S, (c, h) => c.op('ConvTranspose', [h, c.param('w', [3, 2, 2, 2])], { strides: attr.ints([2, 2]) })],
  ['Gemm transB alpha beta', S, (c, h) => c.op('Gemm', [c.op('Flatten', [h]), c.param('w', [5, 108], 0.1), c.param('c', [5])], { transB: attr.int(1), alpha: attr.float(0.5), beta: attr.float(2) })],
  ['Gemm transA', [6, 2], (c, h) => c.op('Gemm', [h, c.param('w', [6, 3]), c.param('c', [1, 3])], { transA: attr.int(1) })],
  ['MatMul 2-D', S, (c, h) => c.op('MatMul', [c.op('Flatten', [h]), c.param('w', [108, 4], 0.1)])],
  ['MatMul batched with broadcast weight', S, (c, h) => c.op('MatMul', [c.op('Reshape', [h, c.b.ints([2, 3, 36])]), c.param('w', [36, 5], 0.2)])],
  ['Add broadcast [C,1,1]', S, (c, h) => c.op('Add', [h, c.param('q', [3, 1, 1])])],
  ['Sub broadcast [1,C,H,W] from the left', S, (c, h) => c.op('Sub', [c.param('q', [1, 3, 6, 6]), h])],
  ['Mul broadcast [C,1,1]', S, (c, h) => c.op('Mul', [h, c.param('q', [3, 1, 1])])],
  ['Div broadcast [1,W]', S, (c, h) => c.op('Div', [h, c.param('q', [1, 6], 0.3, 2)])],
  ['Relu', S, (c, h) => c.op('Mul', [c.op('Relu', [h]), c.param('q', [3, 1, 1])])],
  ['LeakyRelu', S, (c, h) => c.op('Mul', [c.op('LeakyRelu', [h], { alpha: attr.float(0.2) }), c.param('q', [3, 1, 1])])],
  // Followed by a Mul: a model that ENDS in Sigmoid outputs probabilities, and its BCE is taken on the logits before it.
  ['Sigmoid', S, (c, h) => c.op('Mul', [c.op('Sigmoid', [h]), c.param('q', [3, 1, 1], 0.5, 1)])],
  ['Tanh', S, (c, h) => c.op('Tanh', [h])],
  ['MaxPool 2x2', S, (c, h) => c.op('MaxPool', [h], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) })],
  ['AveragePool 2x2 stride 2', S, (c, h) => c.op('AveragePool', [h], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) })],
  ['AveragePool 3x3 stride 1 pad 1 count_include_pad', S, (c, h) => c.op('AveragePool', [h], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]), count_include_pad: attr.int(1) })],
  ['AveragePool 3x3 stride 2 on odd size', [2, 3, 7, 7], (c, h) => c.op('AveragePool', [h], { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]) })],
  ['GlobalAveragePool', S, (c, h) => c.op('GlobalAveragePool', [h])],
  ['BatchNormalization (batch statistics)', S, (c, h) => {
    const bn = c.op('BatchNormalization', [h, c.param('gamma', [3], 0.3, 1), c.param('beta', [3]), c.b.constant(floatTensor([3]), 'rm'), c.b.constant(floatTensor([3], [1, 1, 1]), 'rv')]);
    return c.op('Mul', [bn, c.param('q', [1, 3, 6, 6])]);
  }],
  ['Concat channels', S, (c, h) => c.op('Concat', [h, c.op('Conv', [h, c.param('w', [2, 3, 1, 1])], { kernel_shape: attr.ints([1, 1]) })], { axis: attr.int(1) })],
  ['Resize nearest x2', S, (c, h) => c.op('Mul', [c.op('Resize', [h, '', c.b.constant(floatTensor([4], [1, 1, 2, 2]), 'scales')], { mode: attr.string('nearest') }), c.param('q', [1, 1, 12, 12])])],
  ['Flatten and Reshape', S, (c, h) => c.op('Mul', [c.op('Reshape', [c.op('Flatten', [h]), c.b.constant(int64Tensor([3], [2, 9, 12]), 'shape')]), c.param('q', [9, 12])])],
  ['Transpose', S, (c, h) => c.op('Mul', [c.op('Transpose', [h], { perm: attr.ints([0, 2, 3, 1]) }), c.param('q', [6, 6, 3])])],
  ['Softmax axis 1', S, (c, h) => c.op('Softmax', [c.op('Mul', [h, c.param('q', [3, 1, 1], 1, 1)])], { axis: attr.int(1) })],
  ['ReduceMean axes [2,3] keepdims', S, (c, h) => c.op('Mul', [c.op('ReduceMean', [h, c.b.ints([2, 3])], { keepdims: attr.int(1) }), c.param('q', [3, 1, 1])])],
  ['Sqrt', S, (c, h) => c.op('Sqrt', [c.op('Add', [c.op('Mul', [h, h]), c.b.scalar(0.5)])])],
  ['GroupNorm from primitives (zoo layer)', [2, 4, 6, 6], (c, h) => {
    const g = c.op('Reshape', [h, c.b.ints([0, 2, -1])]);
    const centered = c.op('Sub', [g, c.op('ReduceMean', [g, c.b.ints([2])], { keepdims: attr.int(1) })]);
    const variance = c.op('ReduceMean', [c.op('Mul', [centered, centered]), c.b.ints([2])], { keepdims: attr.int(1) });
    const normed = c.op('Div', [centered, c.op('Sqrt', [c.op('Add', [variance, c.b.scalar(1e-5)])])]);
    return c.op('Add', [c.op('Mul', [c.op('Reshape', [normed, c.b.ints([0, 4, 6, 6])]), c.param('gamma', [4, 1, 1], 0.5, 1)]), c.param('beta', [4, 1, 1])]);
  }],
];

describe(`gradients of every op against a float64 reference (seed ${SEED})`, () => {
  it.each(OP_CASES.map((c, i) => [...c, i] as const))('%s', async (_name, shape, build, i) => {
    const model = opModel(shape, build, SEED + i);
    const result = await gradientCheck(model, { loss: 'sigmoid-bce', inputShape: shape, seed: SEED + i });
    expect(result.checkedElements).toBeGreaterThan(0);
    expect(result.maxRelativeError, `seed ${SEED}: ${JSON.stringify(result.perParameter)}`).toBeLessThanOrEqual(TOLERANCE);
  });
});

function lossModel(loss: ReferenceLoss, seed: number): { model: Model; shape: number[] } {
  const shape = [3, 1, 6, 6];
  const model = opModel(shape, (c, h) => {
    if (loss === 'softmax-cross-entropy') {
      const feat = c.op('Relu', [conv(c, h, 1, 4, 3, { pads: attr.ints([1, 1, 1, 1]) })]);
      return c.op('Gemm', [c.op('Flatten', [c.op('GlobalAveragePool', [feat])]), c.param('fc', [4, 3]), c.param('fcb', [3])]);
    }
    return conv(c, h, 1, 1, 3, { pads: attr.ints([1, 1, 1, 1]) });
  }, seed);
  return { model, shape };
}

describe(`gradients of every loss against a float64 reference (seed ${SEED})`, () => {
  const losses: ReferenceLoss[] = ['softmax-cross-entropy', 'sigmoid-bce', 'soft-dice', 'bce-dice'];
  it.each(losses.map((l, i) => [l, i] as const))('%s', async (loss, i) => {
    const { model, shape } = lossModel(loss, SEED + 100 + i);
    const result = await gradientCheck(model, { loss, inputShape: shape, seed: SEED + 100 + i, maxElements: 40 });
    expect(result.maxRelativeError, `seed ${SEED}: ${JSON.stringify(result.perParameter)}`).toBeLessThanOrEqual(TOLERANCE);
  });

  it('the FedProx term mu/2 ||w - w_global||^2', async () => {
    const { model, shape } = lossModel('softmax-cross-entropy', SEED + 200);
    const result = await gradientCheck(model, { loss: 'softmax-cross-entropy', inputShape: shape, seed: SEED + 200, fedproxMu: 0.7, maxElements: 40 });
    expect(result.maxRelativeError, `seed ${SEED}: ${JSON.stringify(result.perParameter)}`).toBeLessThanOrEqual(TOLERANCE);
  });
});
