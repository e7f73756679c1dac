// Models as exporters write them (Constant nodes, Concat of Constants, Shape/Gather/Unsqueeze
// arithmetic on a dynamic batch, training-mode BatchNormalization, a final Softmax): folded, then
// differentiated, with gradients checked against the float64 reference run on the ORIGINAL graph.
import { describe, expect, it } from 'vitest';
import { UnsupportedOpError } from '../../../lib/errors.js';
import { foldConstants } from '../../../lib/model/fold-constants.js';
import { inferTask, toInferenceModel } from '../../../lib/model/foreign-model.js';
import { int64Tensor, type Model } from '../../../lib/model/graph.js';
import { decodeModel } from '../../../lib/model/onnx-io.js';
import { createSession, floatOrt, scalarOrt, toOrt } from '../../../lib/model/runtime.js';
import { inferShapes } from '../../../lib/model/shapes.js';
import { buildTrainingGraph, LOSS_OUTPUT, TARGET_INPUT } from '../../../lib/model/training-graph.js';
import { Random } from '../../../lib/util/random.js';
import { exportedCnn, exportedUNet } from '../../support/exporter-fixtures.js';
import { gradientCheck } from '../../support/gradcheck.js';

const SEED = Number(process.env.FEDRAD_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
const TOLERANCE = 1e-4;

describe('constant folding of exporter graphs', () => {
  it('turns a Concat of Constant nodes into the Resize scales initializer', () => {
    const model = decodeModel(exportedUNet({ upsample: 'constant-scales' }), 'unet.onnx');
    expect(model.graph.nodes.filter((n) => n.op === 'Constant')).toHaveLength(3);
    const folded = foldConstants(model.graph);
    expect(folded.graph.nodes.map((n) => n.op)).not.toContain('Constant');
    const resize = folded.graph.nodes.find((n) => n.op === 'Resize')!;
    expect(Array.from(folded.graph.initializers.get(resize.inputs[2])!.data as Float32Array)).toEqual([1, 1, 2, 2]);
    expect(inferShapes(folded.graph).get('logits')).toEqual([-1, 1, 16, 16]);
  });

  it('turns Resize sizes computed from Shape -> Slice -> Concat on a dynamic batch into scales', () => {
    const model = decodeModel(exportedUNet({ upsample: 'shape-sizes', size: 12 }), 'unet.onnx');
    const folded = foldConstants(model.graph);
    const resize = folded.graph.nodes.find((n) => n.op === 'Resize')!;
    expect(resize.inputs.length).toBe(3);
    expect(Array.from(folded.graph.initializers.get(resize.inputs[2])!.data as Float32Array)).toEqual([1, 1, 2, 2]);
    expect(folded.graph.nodes.map((n) => n.op)).not.toContain('Shape');
  });

  it('turns view(x.size(0), -1) on a dynamic batch into a static Reshape target [0, -1]', () => {
    const model = decodeModel(exportedCnn({ size: 12 }), 'cnn.onnx');
    const folded = foldConstants(model.graph);
    const reshape = folded.graph.nodes.find((n) => n.op === 'Reshape')!;
    expect(Array.from(folded.graph.initializers.get(reshape.inputs[1])!.data as BigInt64Array, Number)).toEqual([0, -1]);
    expect(folded.graph.nodes.map((n) => n.op)).toEqual(['Conv', 'Relu', 'MaxPool', 'Conv', 'Relu', 'Reshape', 'Gemm']);
    expect(folded.foldedNodes).toBe(7);
    expect(inferShapes(folded.graph).get('logits')).toEqual([-1, 2]);
  });

  it('refuses a batch-dependent value anywhere but a Reshape target or Resize sizes, naming the node', () => {
    const model = decodeModel(exportedCnn(), 'cnn.onnx');
    const g = model.graph;
    const shapeOut = g.nodes.find((n) => n.op === 'Shape')!.outputs[0];
    const bad: Model = { ...model, graph: { ...g, nodes: [...g.nodes, { op: 'Expand', name: 'odd/Expand', inputs: ['logits', shapeOut], outputs: ['x2'], attrs: {} }] } };
    expect(() => foldConstants(bad.graph)).toThrow(UnsupportedOpError);
    expect(() => foldConstants(bad.graph)).toThrow(/^node 'odd\/Expand' \(Expand\) takes input '\/Shape_\d+_output_0' = \[batch,6,8,8\], computed from the dynamic batch size/);
  });

  it("moves an opset-13 ReduceMean's axes attribute into an input, as opset 18 (the training graph's) takes them", async () => {
    const model = decodeModel(exportedCnn({ size: 8 }), 'cnn.onnx');
    const gap = model.graph.nodes.findIndex((n) => n.op === 'Reshape');
    const relu = model.graph.nodes[gap].inputs[0];
    // x.mean((2, 3), keepdim=True) as opset 13-17 exports it, between the last Relu and the flatten.
    const at = model.graph.nodes.findIndex((n) => n.outputs.includes(relu)) + 1;
    model.graph.nodes.splice(at, 0, { op: 'ReduceMean', name: '/ReduceMean', inputs: [relu], outputs: ['pooled'], attrs: { axes: { kind: 'ints', value: [2, 3] }, keepdims: { kind: 'int', value: 1 } } });
    for (const n of model.graph.nodes.slice(at + 1)) n.inputs = n.inputs.map((i) => (i === relu ? 'pooled' : i));
    model.graph.initializers.set('classifier.weight', { dtype: 'float32', dims: [2, 6], data: Float32Array.from({ length: 12 }, (_, i) => Math.sin(i)) });
    const folded = foldConstants(model.graph);
    const mean = folded.graph.nodes.find((n) => n.op === 'ReduceMean')!;
    expect(mean.attrs.axes).toBeUndefined();
    expect(Array.from(folded.graph.initializers.get(mean.inputs[1])!.data as BigInt64Array, Number)).toEqual([2, 3]);
    expect(inferShapes(folded.graph).get('logits')).toEqual([-1, 2]);
    const result = await gradientCheck({ ...model, opset: 13 }, { loss: 'softmax-cross-entropy', inputShape: [3, 1, 8, 8], seed: SEED, maxElements: 12 });
    expect(result.maxRelativeError).toBeLessThanOrEqual(TOLERANCE);
  });

  it('leaves weights alone: a float initializer is never folded into anything', () => {
    const model = decodeModel(exportedCnn(), 'cnn.onnx');
    const g = model.graph;
    const scaled: Model = { ...model, graph: { ...g, initializers: new Map([...g.initializers, ['two', int64Tensor([1], [2])]]) } };
    const folded = foldConstants(scaled.graph);
    expect(folded.graph.nodes.filter((n) => n.op === 'Conv').map((n) => n.inputs[1])).toEqual(['features.0.weight', 'features.3.weight']);
    expect(folded.added.some((name) => name.includes('weight'))).toBe(false);
  });
});

describe(`exporter graphs train: gradients against the float64 reference (seed ${SEED})`, () => {
  const cases: Array<[string, () => Uint8Array, 'bce-dice' | 'softmax-cross-entropy', number[]]> = [
    ['U-Net, Resize scales from a Concat of Constants, BatchNorm training_mode=1', () => exportedUNet({ size: 8, upsample: 'constant-scales', seed: SEED % 1000 }), 'bce-dice', [2, 1, 8, 8]],
    ['U-Net, Resize sizes from Shape/Slice/Concat', () => exportedUNet({ size: 8, upsample: 'shape-sizes', seed: SEED % 1000 }), 'bce-dice', [3, 1, 8, 8]],
    ['CNN, view(x.size(0), -1) from Shape/Gather/Unsqueeze/Concat', () => exportedCnn({ size: 8, classes: 3, seed: SEED % 1000 }), 'softmax-cross-entropy', [4, 1, 8, 8]],
  ];
  it.each(cases)('%s', async (_name, bytes, loss, shape) => {
    const model = decodeModel(bytes(), 'export.onnx');
    const result = await gradientCheck(model, { loss, inputShape: shape, seed: SEED, maxElements: 16 });
    expect(result.checkedElements).toBeGreaterThan(0);
    expect(result.maxRelativeError, `seed ${SEED}: ${JSON.stringify(result.perParameter)}`).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('foreign models: task, final Softmax, inference form', () => {
  it('infers the task from the output shape', () => {
    expect(inferTask(decodeModel(exportedUNet(), 'u.onnx'))).toBe('segmentation');
    expect(inferTask(decodeModel(exportedCnn(), 'c.onnx'))).toBe('classification');
  });

  it('trains a model that ends in Softmax on the logits before it: the same loss and step as without', async () => {
    const step = async (bytes: Uint8Array) => {
      const model = decodeModel(bytes, 'cnn.onnx');
      const tg = buildTrainingGraph(model, { loss: 'softmax-cross-entropy', optimizer: { type: 'sgd', learningRate: 0.1, momentum: 0, weightDecay: 0 } });
      const rng = new Random(4);
      const session = await createSession(tg.model, { threads: 1 });
      const feeds: Record<string, ReturnType<typeof toOrt>> = {
        [tg.dataInput]: floatOrt([4, 1, 8, 8], Float32Array.from({ length: 256 }, () => rng.normal())),
        [TARGET_INPUT]: floatOrt([4, 2], Float32Array.from([1, 0, 0, 1, 0, 1, 1, 0])),
        learning_rate: scalarOrt(0.1),
      };
      for (const p of tg.params) feeds[p] = toOrt(model.graph.initializers.get(p)!);
      const out = await session.run(feeds);
      await session.release();
      return { loss: (out[LOSS_OUTPUT].data as Float32Array)[0], w: out['classifier.weight.next'].data as Float32Array };
    };
    const plain = await step(exportedCnn({ size: 8 }));
    const withSoftmax = await step(exportedCnn({ size: 8, softmax: true }));
    expect(withSoftmax.loss).toBeCloseTo(plain.loss, 6);
    expect(Math.max(...withSoftmax.w.map((v, i) => Math.abs(v - plain.w[i])))).toBeLessThan(1e-6);
    expect(plain.loss).toBeGreaterThan(0.1);
  });

  it('rewrites training-mode BatchNormalization into inference mode, with the same initializers', async () => {
    const model = decodeModel(exportedUNet({ batchNormTrainingMode: true }), 'u.onnx');
    const { model: inference, changes } = toInferenceModel(model);
    expect(changes).toEqual(["BatchNormalization '/enc.bn/BatchNormalization_1': training_mode=1 -> inference mode (running statistics)"]);
    const bn = inference.graph.nodes.find((n) => n.op === 'BatchNormalization')!;
    expect(bn.outputs).toHaveLength(1);
    expect(bn.attrs.training_mode).toBeUndefined();
    expect([...inference.graph.initializers.keys()]).toEqual([...model.graph.initializers.keys()]);
    expect(toInferenceModel(inference).changes).toEqual([]);
    // One sample's output no longer depends on what else is in the batch.
    const session = await createSession(inference, { threads: 1 });
    const rng = new Random(1);
    const a = Float32Array.from({ length: 256 }, () => rng.normal());
    const b = Float32Array.from({ length: 256 }, () => 3 + rng.normal());
    const alone = (await session.run({ input: floatOrt([1, 1, 16, 16], a) })).logits.data as Float32Array;
    const both = (await session.run({ input: floatOrt([2, 1, 16, 16], Float32Array.from([...a, ...b])) })).logits.data as Float32Array;
    await session.release();
    expect(Math.max(...alone.map((v, i) => Math.abs(v - both[i])))).toBeLessThan(1e-5);
  });
});
