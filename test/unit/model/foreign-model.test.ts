// A model written the way PyTorch's exporter writes one (opset 17, initializers repeated among the
// graph inputs, path-like node names, float_data and raw_data), built here with onnx-proto directly
// and none of fedrad's graph helpers: the training-graph builder must differentiate and train it.
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { makeLesionDataset } from '../../../lib/data/synthetic-arrays.js';
import { UnsupportedOpError } from '../../../lib/errors.js';
import { predict } from '../../../lib/model/evaluate.js';
import { decodeModel, encodeModel } from '../../../lib/model/onnx-io.js';
import { trainModel } from '../../../lib/model/trainer.js';
import { Random } from '../../../lib/util/random.js';
import { TrainingSpecSchema } from '../../../lib/schemas/training-spec.js';

const { onnx } = onnxProto;
const INT = onnx.AttributeProto.AttributeType.INT;
const INTS = onnx.AttributeProto.AttributeType.INTS;
const FLOAT = onnx.AttributeProto.AttributeType.FLOAT;

function weight(rng: Random, name: string, dims: number[], std: number, raw: boolean, fill?: number) {
  const n = dims.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: n }, () => (fill ?? std * rng.normal()));
  return raw ? { name, dims, dataType: 1, rawData: new Uint8Array(values.buffer) } : { name, dims, dataType: 1, floatData: [...values] };
}

function torchStyleModel(extraOp?: string): Uint8Array {
  const rng = new Random(99);
  const init = [
    weight(rng, 'features.0.weight', [6, 1, 3, 3], 0.47, true),
    weight(rng, 'features.0.bias', [6], 0, false, 0),
    weight(rng, 'features.1.weight', [6], 0, true, 1),
    weight(rng, 'features.1.bias', [6], 0, false, 0),
    weight(rng, 'features.1.running_mean', [6], 0, true, 0),
    weight(rng, 'features.1.running_var', [6], 0, true, 1),
    weight(rng, 'features.4.weight', [8, 6, 3, 3], 0.19, false),
    weight(rng, 'classifier.weight', [2, 8 * 8 * 8], 0.03, true),
    weight(rng, 'classifier.bias', [2], 0, true, 0),
  ];
  const conv = (name: string, inputs: string[], out: string) => ({
    name, opType: 'Conv', input: inputs, output: [out],
    attribute: [
      { name: 'dilations', type: INTS, ints: [1, 1] }, { name: 'group', type: INT, i: 1 },
      { name: 'kernel_shape', type: INTS, ints: [3, 3] }, { name: 'pads', type: INTS, ints: [1, 1, 1, 1] }, { name: 'strides', type: INTS, ints: [1, 1] },
    ],
  });
  const nodes = [
    conv('/features/features.0/Conv', ['input.1', 'features.0.weight', 'features.0.bias'], '/features/features.0/Conv_output_0'),
    { name: '/features/features.1/BatchNormalization', opType: 'BatchNormalization', input: ['/features/features.0/Conv_output_0', 'features.1.weight', 'features.1.bias', 'features.1.running_mean', 'features.1.running_var'], output: ['/features/features.1/BatchNormalization_output_0'], attribute: [{ name: 'epsilon', type: FLOAT, f: 1e-5 }, { name: 'momentum', type: FLOAT, f: 0.9 }] },
    { name: '/features/features.2/Relu', opType: 'Relu', input: ['/features/features.1/BatchNormalization_output_0'], output: ['/features/features.2/Relu_output_0'] },
    { name: '/features/features.3/AveragePool', opType: 'AveragePool', input: ['/features/features.2/Relu_output_0'], output: ['/features/features.3/AveragePool_output_0'], attribute: [{ name: 'ceil_mode', type: INT, i: 0 }, { name: 'kernel_shape', type: INTS, ints: [2, 2] }, { name: 'pads', type: INTS, ints: [0, 0, 0, 0] }, { name: 'strides', type: INTS, ints: [2, 2] }] },
    conv('/features/features.4/Conv', ['/features/features.3/AveragePool_output_0', 'features.4.weight'], '/features/features.4/Conv_output_0'),
    { name: '/features/features.5/Tanh', opType: extraOp ?? 'Tanh', input: ['/features/features.4/Conv_output_0'], output: ['/features/features.5/Tanh_output_0'] },
    { name: '/Flatten', opType: 'Flatten', input: ['/features/features.5/Tanh_output_0'], output: ['/Flatten_output_0'], attribute: [{ name: 'axis', type: INT, i: 1 }] },
    { name: '/classifier/Gemm', opType: 'Gemm', input: ['/Flatten_output_0', 'classifier.weight', 'classifier.bias'], output: ['output'], attribute: [{ name: 'alpha', type: FLOAT, f: 1 }, { name: 'beta', type: FLOAT, f: 1 }, { name: 'transB', type: INT, i: 1 }] },
  ];
  const tensorType = (dims: Array<number | string>) => ({ tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } });
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'pytorch',
    producerVersion: '2.5.0',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'main_graph',
      node: nodes,
      initializer: init,
      input: [{ name: 'input.1', type: tensorType(['batch_size', 1, 16, 16]) }, ...init.map((t) => ({ name: t.name, type: tensorType(t.dims) }))],
      output: [{ name: 'output', type: tensorType(['batch_size', 2]) }],
    },
  });
  return onnx.ModelProto.encode(proto).finish();
}

describe('a foreign ONNX model', () => {
  it('is differentiated and trained, and its export runs in a plain onnxruntime session', async () => {
    const model = decodeModel(torchStyleModel(), 'torch-export.onnx');
    expect(model.graph.inputs.map((i) => i.name)).toEqual(['input.1']);
    const spec = TrainingSpecSchema.parse({ loss: 'softmax-cross-entropy', optimizer: { type: 'adam', learningRate: 3e-3 }, epochs: 4, batchSize: 32 });
    const train = makeLesionDataset({ count: 480, size: 16, seed: 21, radius: [0.15, 0.25] });
    const validation = makeLesionDataset({ count: 200, size: 16, seed: 22, radius: [0.15, 0.25] });
    const r = await trainModel({ model, spec, train, validation });
    const first = r.lossCurve.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = r.lossCurve.slice(-5).reduce((a, b) => a + b) / 5;
    expect(last).toBeLessThan(0.7 * first);
    expect(r.metrics!.task === 'classification' && r.metrics!.accuracy).toBeGreaterThan(0.7);
    // The export keeps the foreign graph (names, opset) and only changes initializer values.
    expect(r.trained.opset).toBe(17);
    expect(r.trained.graph.nodes.map((n) => n.name)).toEqual(model.graph.nodes.map((n) => n.name));
    const session = await ort.InferenceSession.create(encodeModel(r.trained));
    const x = new ort.Tensor('float32', validation.images.subarray(0, 4 * 256), [4, 1, 16, 16]);
    const logits = (await session.run({ 'input.1': x })).output.data as Float32Array;
    const probs = await predict(r.trained, { ...validation, count: 4, images: validation.images.subarray(0, 4 * 256) });
    const softmax0 = Math.exp(logits[1]) / (Math.exp(logits[0]) + Math.exp(logits[1]));
    expect(probs[1]).toBeCloseTo(softmax0, 5);
  });

  it('with an op fedrad cannot differentiate is refused, naming the op and the node', async () => {
    const model = decodeModel(torchStyleModel('Erf'), 'torch-export.onnx');
    const spec = TrainingSpecSchema.parse({ loss: 'softmax-cross-entropy' });
    const train = makeLesionDataset({ count: 8, size: 16, seed: 1 });
    const err = await trainModel({ model, spec, train }).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedOpError);
    expect(err.message).toBe("node '/features/features.5/Tanh' uses op Erf, which fedrad cannot differentiate. Supported ops: Conv, ConvTranspose, Gemm, MatMul, Add, Sub, Mul, Div, Relu, LeakyRelu, Sigmoid, Tanh, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization, Concat, Resize, Flatten, Reshape, Transpose, Softmax, Identity, Dropout, Constant, ReduceMean, Sqrt, InstanceNormalization, PRelu, Unsqueeze, Squeeze");
  });
});
