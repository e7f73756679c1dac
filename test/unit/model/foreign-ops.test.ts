// Ops exporters emit that fedrad lowers into primitives (lower-foreign.ts): InstanceNormalization,
// PRelu, Resize linear in every coordinate mode, 2-D and 3-D. Gradients against central
// differences of the float64 reference, which implements each op from its ONNX definition.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { attr, type AttrValue, floatTensor, GraphBuilder, type Model, numel, OPSET, type TensorData } from '../../../lib/model/graph.js';
import { encodeModel } from '../../../lib/model/onnx-io.js';
import { inferShapes } from '../../../lib/model/shapes.js';
import { Random } from '../../../lib/util/random.js';
import { gradientCheck } from '../../support/gradcheck.js';
import { runReference } from '../../support/reference.js';

const SEED = Number(process.env.FEDRAD_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));

function opModel(inputShape: number[], seed: number, build: (b: GraphBuilder, h: string, param: (name: string, dims: number[], scale?: number, offset?: number) => string) => string): Model {
  const rng = new Random(seed);
  const b = new GraphBuilder(['x']);
  const init = new Map<string, TensorData>();
  const param = (name: string, dims: number[], scale = 0.5, offset = 0) => {
    init.set(name, floatTensor(dims, Array.from({ length: numel(dims) }, () => offset + scale * rng.normal())));
    b.reserve(name);
    return name;
  };
  const h = b.op('Add', ['x', param('p0', inputShape, 0.1)]);
  const out = build(b, h, param);
  const graph = { name: 'case', nodes: b.nodes, inputs: [{ name: 'x', dtype: 'float32' as const, shape: inputShape }], outputs: [] as Model['graph']['outputs'], initializers: new Map([...init, ...b.initializers]) };
  graph.outputs = [{ name: out, dtype: 'float32', shape: inferShapes(graph).get(out)! }];
  return { graph, opset: OPSET, producer: 'test', metadata: {} };
}

const resize = (mode: string, scales: number[]) => (b: GraphBuilder, h: string, param: (n: string, d: number[]) => string, outShape: number[]) =>
  b.op('Mul', [b.op('Resize', [h, '', b.constant(floatTensor([scales.length], scales), 'scales')], { mode: attr.string('linear'), coordinate_transformation_mode: attr.string(mode) } as Record<string, AttrValue>), param('q', outShape)]);

const CASES: Array<[string, number[], (b: GraphBuilder, h: string, param: (name: string, dims: number[], scale?: number, offset?: number) => string) => string]> = [
  ['InstanceNormalization', [2, 3, 5, 5], (b, h, p) => b.op('Mul', [b.op('InstanceNormalization', [h, p('gamma', [3], 0.3, 1), p('beta', [3])], { epsilon: attr.float(1e-5) }), p('q', [1, 3, 5, 5])])],
  ['InstanceNormalization 3-D', [2, 2, 3, 4, 4], (b, h, p) => b.op('Mul', [b.op('InstanceNormalization', [h, p('gamma', [2], 0.3, 1), p('beta', [2])]), p('q', [2, 3, 4, 4])])],
  ['PRelu, slope per channel [C,1,1]', [2, 3, 4, 4], (b, h, p) => b.op('Mul', [b.op('PRelu', [h, p('slope', [3, 1, 1], 0.2, 0.25)]), p('q', [3, 1, 1])])],
  ['PRelu, one slope [1]', [2, 3, 4, 4], (b, h, p) => b.op('Mul', [b.op('PRelu', [h, p('slope', [1], 0.1, 0.25)]), p('q', [3, 1, 1])])],
  ['Resize linear x2 pytorch_half_pixel', [2, 2, 3, 4], (b, h, p) => resize('pytorch_half_pixel', [1, 1, 2, 2])(b, h, p, [1, 2, 6, 8])],
  ['Resize linear x2 half_pixel', [1, 2, 4, 4], (b, h, p) => resize('half_pixel', [1, 1, 2, 2])(b, h, p, [1, 2, 8, 8])],
  ['Resize linear x3 align_corners', [1, 2, 3, 3], (b, h, p) => resize('align_corners', [1, 1, 3, 3])(b, h, p, [1, 2, 9, 9])],
  ['Resize linear x2 by 1 asymmetric', [2, 1, 3, 4], (b, h, p) => resize('asymmetric', [1, 1, 2, 1])(b, h, p, [1, 1, 6, 4])],
  ['Conv group=2', [2, 4, 5, 5], (b, h, p) => b.op('Conv', [h, p('w', [6, 2, 3, 3]), p('bias', [6])], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]), group: attr.int(2) })],
  ['Conv depthwise group=C, stride 2', [2, 3, 6, 6], (b, h, p) => b.op('Conv', [h, p('w', [3, 1, 3, 3])], { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]), group: attr.int(3) })],
  ['ConvTranspose group=2 stride 2', [2, 4, 3, 3], (b, h, p) => b.op('ConvTranspose', [h, p('w', [4, 3, 2, 2]), p('bias', [6])], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]), group: attr.int(2) })],
  ['Resize trilinear x2 (3-D)', [1, 2, 2, 3, 3], (b, h, p) => resize('pytorch_half_pixel', [1, 1, 2, 2, 2])(b, h, p, [1, 2, 4, 6, 6])],
];

describe(`foreign ops lowered to primitives: gradients against the float64 reference (seed ${SEED})`, () => {
  it.each(CASES.map((c, i) => [...c, i] as const))('%s', async (_name, shape, build, i) => {
    const model = opModel(shape, SEED + i, build);
    const result = await gradientCheck(model, { loss: 'sigmoid-bce', inputShape: shape, seed: SEED + i });
    expect(result.checkedElements).toBeGreaterThan(0);
    expect(result.maxRelativeError, `seed ${SEED}: ${JSON.stringify(result.perParameter)}`).toBeLessThanOrEqual(1e-4);
  });

  it('the reference linear Resize agrees with onnxruntime in every coordinate mode', async () => {
    for (const mode of ['pytorch_half_pixel', 'half_pixel', 'align_corners', 'asymmetric']) {
      const model = opModel([1, 2, 3, 5], 1, (b, h) => b.op('Resize', [h, '', b.constant(floatTensor([4], [1, 1, 2, 2]), 'scales')], { mode: attr.string('linear'), coordinate_transformation_mode: attr.string(mode) }));
      const x = Float32Array.from({ length: 30 }, (_, k) => Math.sin(k));
      const session = await ort.InferenceSession.create(encodeModel(model));
      const got = (await session.run({ x: new ort.Tensor('float32', x, [1, 2, 3, 5]) }))[model.graph.outputs[0].name].data as Float32Array;
      const ref = runReference(model, { x: { dims: [1, 2, 3, 5], data: Float64Array.from(x) } }).get(model.graph.outputs[0].name)!;
      expect(ref.dims).toEqual([1, 2, 6, 10]);
      expect(Math.max(...got.map((v, k) => Math.abs(v - ref.data[k]))), mode).toBeLessThan(1e-5);
    }
  });
});
