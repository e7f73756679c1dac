// Every op the 3D zoo models use, on volumes [N, C, D, H, W]: the training graph's gradients against
// float64 central differences of the reference interpreter (its n-D loops in reference-nd.ts), and
// the two 3D zoo models whole, on tiny shapes. A fresh seed each run (FEDRAD_TEST_SEED to replay).
import { describe, expect, it } from 'vitest';
import { attr, type AttrValue, floatTensor, GraphBuilder, type Model, numel, OPSET, type TensorData } from '../../../lib/model/graph.js';
import { inferShapes } from '../../../lib/model/shapes.js';
import { buildZooModel } from '../../../lib/model/zoo/index.js';
import { LayerBuilder } from '../../../lib/model/zoo/layers.js';
import { Random } from '../../../lib/util/random.js';
import { gradientCheck } from '../../support/gradcheck.js';

const SEED = Number(process.env.FEDRAD_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
const TOLERANCE = 1e-4;
/**
 * Whole networks: float32 rounding compounds through several normalisations of 64-voxel patches
 * (a seed gave 1.7e-4 on one instance-norm scale), so the models get 5e-4; every op alone keeps 1e-4.
 */
const MODEL_TOLERANCE = 5e-4;

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

function opModel(inputShape: number[], build: (c: Case, h: string) => string, seed: number): Model {
  const c = new Case(seed);
  const h = c.op('Add', ['x', c.param('p0', inputShape, 0.1)]);
  const out = build(c, h);
  const initializers = new Map([...c.init, ...c.b.initializers]);
  const graph = { name: 'case', nodes: c.b.nodes, inputs: [{ name: 'x', dtype: 'float32' as const, shape: inputShape }], outputs: [] as Model['graph']['outputs'], initializers };
  graph.outputs = [{ name: out, dtype: 'float32', shape: inferShapes(graph).get(out)! }];
  return { graph, opset: OPSET, producer: 'test', metadata: {} };
}

const V = [2, 2, 4, 4, 4];
const OP_CASES: Array<[string, number[], (c: Case, h: string) => string]> = [
  ['Conv 3x3x3 pad 1', V, (c, h) => c.op('Conv', [h, c.param('w', [3, 2, 3, 3, 3], 0.3), c.param('b', [3])], { kernel_shape: attr.ints([3, 3, 3]), pads: attr.ints([1, 1, 1, 1, 1, 1]) })],
  ['Conv 1x1x1 head', V, (c, h) => c.op('Conv', [h, c.param('w', [2, 2, 1, 1, 1]), c.param('b', [2])], { kernel_shape: attr.ints([1, 1, 1]) })],
  ['Conv 3x3x3 anisotropic volume, no bias', [1, 2, 2, 4, 6], (c, h) => c.op('Conv', [h, c.param('w', [2, 2, 3, 3, 3], 0.3)], { kernel_shape: attr.ints([3, 3, 3]), pads: attr.ints([1, 1, 1, 1, 1, 1]) })],
  ['MaxPool 2x2x2', V, (c, h) => c.op('MaxPool', [h], { kernel_shape: attr.ints([2, 2, 2]), strides: attr.ints([2, 2, 2]) })],
  ['Resize nearest x2 (3D)', [1, 2, 2, 2, 2], (c, h) => c.op('Mul', [c.op('Resize', [h, '', c.b.constant(floatTensor([5], [1, 1, 2, 2, 2]), 'scales')], { mode: attr.string('nearest') }), c.param('q', [1, 1, 4, 4, 4])])],
  ['GlobalAveragePool (3D)', V, (c, h) => c.op('GlobalAveragePool', [h])],
  ['BatchNormalization (3D, batch statistics)', V, (c, h) => {
    const bn = c.op('BatchNormalization', [h, c.param('gamma', [2], 0.3, 1), c.param('beta', [2]), c.b.constant(floatTensor([2]), 'rm'), c.b.constant(floatTensor([2], [1, 1]), 'rv')]);
    return c.op('Mul', [bn, c.param('q', [1, 2, 4, 4, 4])]);
  }],
  ['Concat channels (3D)', V, (c, h) => c.op('Concat', [h, c.op('Relu', [h])], { axis: attr.int(1) })],
];

describe(`gradients of the 3D ops against a float64 reference (seed ${SEED})`, () => {
  it.each(OP_CASES.map((c, i) => [...c, i] as const))('%s', async (_name, shape, build, i) => {
    const model = opModel(shape, build, SEED + i);
    const result = await gradientCheck(model, { loss: 'sigmoid-bce', inputShape: shape, seed: SEED + i });
    expect(result.checkedElements).toBeGreaterThan(0);
    expect(result.maxRelativeError, `seed ${SEED}: ${JSON.stringify(result.perParameter)}`).toBeLessThanOrEqual(TOLERANCE);
  });

  it.each([['instance', 4], ['group', 2]] as const)('the zoo layer groupNormNd (%s norm)', async (_kind, groups) => {
    const l = new LayerBuilder(SEED + 50);
    l.b.reserve('x');
    const out = l.groupNormNd('x', 'gn', [4, 2, 4, 4], groups);
    const model = l.finish({ name: 'gn', input: 'x', inputShape: [4, 2, 4, 4], output: out, outputShape: ['N', 4, 2, 4, 4], metadata: {} });
    // scale and shift away from 1 and 0, so their gradients are not the trivial ones
    const rng = new Random(SEED + 51);
    for (const [name, t] of model.graph.initializers) if (name.startsWith('gn.')) (t.data as Float32Array).forEach((_, i, a) => (a[i] += 0.3 * rng.normal()));
    const result = await gradientCheck(model, { loss: 'bce-dice', inputShape: [2, 4, 2, 4, 4], seed: SEED + 52, maxElements: 16 });
    expect(result.maxRelativeError, `seed ${SEED}: ${JSON.stringify(result.perParameter)}`).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe(`the 3D zoo models' gradients against a float64 reference (seed ${SEED})`, () => {
  it.each(['instance', 'batch'] as const)('unet3d-segmenter, %s norm, 2 channels, 2 regions, depth 1, 4^3 patch', async (norm) => {
    const model = buildZooModel('unet3d-segmenter', { seed: SEED + 60, inputSize: 4, width: 2, depth: 1, channels: 2, classes: 2, norm });
    const result = await gradientCheck(model, { loss: 'bce-dice', inputShape: [2, 2, 4, 4, 4], seed: SEED + 61, maxElements: 6 });
    expect(result.checkedElements).toBeGreaterThan(30);
    expect(result.maxRelativeError, `seed ${SEED}: ${JSON.stringify(result.perParameter)}`).toBeLessThanOrEqual(MODEL_TOLERANCE);
  });

  it('cnn3d-classifier, group norm, 2 stages, 4^3 input', async () => {
    const model = buildZooModel('cnn3d-classifier', { seed: SEED + 70, inputSize: 4, width: 2, depth: 2, channels: 1, classes: 2, norm: 'group' });
    const result = await gradientCheck(model, { loss: 'softmax-cross-entropy', inputShape: [2, 1, 4, 4, 4], seed: SEED + 71, maxElements: 8 });
    expect(result.maxRelativeError, `seed ${SEED}: ${JSON.stringify(result.perParameter)}`).toBeLessThanOrEqual(MODEL_TOLERANCE);
  });
});
