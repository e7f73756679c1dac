import { describe, expect, it } from 'vitest';
import { InvalidSpecError, ShapeError, UnsupportedOpError } from '../../../lib/errors.js';
import { attr, floatTensor, GraphBuilder, type Model, OPSET } from '../../../lib/model/graph.js';
import { buildTrainingGraph } from '../../../lib/model/training-graph.js';
import { buildZooModel } from '../../../lib/model/zoo/index.js';

const ADAM = { type: 'adam', learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } as const;

/** The ai.onnx ops onnxruntime-node's CPU build runs (no training or contrib ops). */
const STANDARD = new Set(['Abs', 'Add', 'AveragePool', 'Cast', 'Concat', 'Conv', 'ConvTranspose', 'Div', 'Equal', 'Expand', 'Flatten', 'Gemm', 'GlobalAveragePool', 'Greater', 'Identity', 'LogSoftmax', 'MatMul', 'MaxPool', 'Min', 'Mul', 'Neg', 'Pad', 'Pow', 'ReduceMean', 'ReduceSum', 'ReduceSumSquare', 'Relu', 'Reshape', 'Resize', 'Shape', 'Sigmoid', 'Size', 'Slice', 'Softmax', 'Softplus', 'Split', 'Sqrt', 'Sub', 'Sum', 'Transpose', 'Where']);

function tinyModel(build: (b: GraphBuilder) => string, init: Record<string, number[]>, inputShape = ['N', 3, 8, 8] as Array<number | string>): Model {
  const b = new GraphBuilder(['x', ...Object.keys(init)]);
  const out = build(b);
  const initializers = new Map(Object.entries(init).map(([k, dims]) => [k, floatTensor(dims)]));
  return { graph: { name: 't', nodes: b.nodes, inputs: [{ name: 'x', dtype: 'float32', shape: inputShape }], outputs: [{ name: out, dtype: 'float32', shape: ['N', 2] }], initializers }, opset: OPSET, producer: 'test', metadata: {} };
}

describe('buildTrainingGraph', () => {
  it('emits one step graph of standard ai.onnx ops with parameters, state and statistics carried through', () => {
    const model = buildZooModel('unet-segmenter', { seed: 1, inputSize: 16, width: 4 });
    const tg = buildTrainingGraph(model, { loss: 'bce-dice', optimizer: ADAM, gradientClipNorm: 1, fedproxMu: 0.01 });
    const ops = new Set(tg.model.graph.nodes.map((n) => n.op));
    expect([...ops].filter((op) => !STANDARD.has(op))).toEqual([]);
    expect(tg.model.opset).toBe(18);
    expect(tg.params).toContain('enc1.a.conv.weight');
    expect(tg.params.some((p) => p.includes('running'))).toBe(false);
    expect(tg.params.some((p) => p.startsWith('scales'))).toBe(false); // Resize scales are constants, not weights
    expect(tg.buffers).toHaveLength(20);
    expect(tg.optimizerState).toHaveLength(2 * tg.params.length);
    const inputs = new Set(tg.model.graph.inputs.map((i) => i.name));
    const outputs = new Set(tg.model.graph.outputs.map((o) => o.name));
    for (const [input, output] of tg.carried) {
      expect(inputs.has(input)).toBe(true);
      expect(outputs.has(output)).toBe(true);
    }
    expect(inputs.has('enc1.a.conv.weight.global')).toBe(true);
    expect(outputs.has('loss')).toBe(true);
  });

  it('refuses an unsupported op, naming the op and the node', () => {
    const model = tinyModel((b) => b.op('Gemm', [b.op('Flatten', [b.op('Erf', ['x'], {}, 'my_erf')]), 'w'], { transB: attr.int(1) }), { w: [2, 192] });
    expect(() => buildTrainingGraph(model, { loss: 'softmax-cross-entropy', optimizer: ADAM })).toThrow(UnsupportedOpError);
    expect(() => buildTrainingGraph(model, { loss: 'softmax-cross-entropy', optimizer: ADAM })).toThrow(/node 'my_erf_0_node' uses op Erf.*Supported ops: Conv/);
  });

  it('refuses shapes that do not fit, naming the node and both shapes', () => {
    const model = tinyModel((b) => b.op('Gemm', [b.op('Flatten', [b.op('Conv', ['x', 'w'], {}, 'conv1')]), 'fc'], { transB: attr.int(1) }), { w: [4, 5, 3, 3], fc: [2, 144] });
    expect(() => buildTrainingGraph(model, { loss: 'softmax-cross-entropy', optimizer: ADAM })).toThrow(ShapeError);
    expect(() => buildTrainingGraph(model, { loss: 'softmax-cross-entropy', optimizer: ADAM })).toThrow(/node 'conv1_0_node' \(Conv\): input has 3 channels but the weight \[4,5,3,3\] expects 5/);
    const gemm = tinyModel((b) => b.op('Gemm', [b.op('Flatten', ['x']), 'fc'], { transB: attr.int(1) }, 'head'), { fc: [2, 100] });
    expect(() => buildTrainingGraph(gemm, { loss: 'softmax-cross-entropy', optimizer: ADAM })).toThrow(/node 'head_1_node' \(Gemm\): inner dimensions differ: A is \[\?,192\] and B is \[100,2\]/);
  });

  it('refuses an unsupported form of a supported op', () => {
    const conv = (b: GraphBuilder) => b.op('Conv', ['x', 'w'], { pads: attr.ints([1, 1, 1, 1]) });
    const model = tinyModel((b) => b.op('Gemm', [b.op('Flatten', [b.op('MaxPool', [conv(b)], { kernel_shape: attr.ints([3, 3]), strides: attr.ints([1, 1]) })]), 'fc'], { transB: attr.int(1) }), { w: [3, 3, 3, 3], fc: [2, 108] });
    expect(() => buildTrainingGraph(model, { loss: 'softmax-cross-entropy', optimizer: ADAM })).toThrow(/non-overlapping max pooling only/);
  });

  it('refuses a loss that does not fit the output, and a model with nothing to train', () => {
    const seg = buildZooModel('unet-segmenter', { seed: 1, inputSize: 16, width: 4 });
    expect(() => buildTrainingGraph(seg, { loss: 'softmax-cross-entropy', optimizer: ADAM })).toThrow(/needs logits of shape \[N, classes\]/);
    const frozen = tinyModel((b) => b.op('Flatten', ['x']), {});
    expect(() => buildTrainingGraph(frozen, { loss: 'sigmoid-bce', optimizer: ADAM })).toThrow(InvalidSpecError);
  });
});
