import { describe, expect, it } from 'vitest';
import { ModelFormatError, ShapeError } from '../../../lib/errors.js';
import { floatTensor } from '../../../lib/model/graph.js';
import { decodeModel, encodeModel, listInitializers, replaceInitializers, sha256 } from '../../../lib/model/onnx-io.js';
import { buildZooModel } from '../../../lib/model/zoo/index.js';

describe('ONNX read/write', () => {
  const model = buildZooModel('unet-segmenter', { seed: 3, inputSize: 16, width: 4 });

  it('round-trips nodes, attributes, initializers, inputs, outputs and metadata', () => {
    const back = decodeModel(encodeModel(model));
    expect(back.opset).toBe(18);
    expect(back.metadata).toEqual(model.metadata);
    expect(back.graph.nodes).toEqual(model.graph.nodes);
    expect(back.graph.inputs).toEqual(model.graph.inputs);
    expect(back.graph.outputs).toEqual(model.graph.outputs);
    expect([...back.graph.initializers.keys()]).toEqual([...model.graph.initializers.keys()]);
    for (const [name, t] of model.graph.initializers) expect(back.graph.initializers.get(name)).toEqual(t);
    expect(sha256(encodeModel(back))).toBe(sha256(encodeModel(model)));
  });

  it('is deterministic from the seed, and the seed matters', () => {
    const again = buildZooModel('unet-segmenter', { seed: 3, inputSize: 16, width: 4 });
    const other = buildZooModel('unet-segmenter', { seed: 4, inputSize: 16, width: 4 });
    expect(sha256(encodeModel(again))).toBe(sha256(encodeModel(model)));
    expect(sha256(encodeModel(other))).not.toBe(sha256(encodeModel(model)));
  });

  it('lists initializers with roles and replaces them only with same-shaped values', () => {
    const list = listInitializers(model);
    expect(list.find((i) => i.name === 'enc1.a.bn.running_mean')?.role).toBe('running-statistic');
    expect(list.find((i) => i.name === 'enc1.a.conv.weight')).toMatchObject({ role: 'parameter', dims: [4, 1, 3, 3], size: 36 });
    expect(list.filter((i) => i.role === 'constant').length).toBe(2); // the two Resize scales
    const replaced = replaceInitializers(model, new Map([['head.bias', floatTensor([1], [0.5])]]));
    expect((replaced.graph.initializers.get('head.bias')!.data as Float32Array)[0]).toBe(0.5);
    expect((model.graph.initializers.get('head.bias')!.data as Float32Array)[0]).toBe(0); // original untouched
    expect(() => replaceInitializers(model, new Map([['head.bias', floatTensor([2])]]))).toThrow(/head.bias.*\[1\].*\[2\]/);
    expect(() => replaceInitializers(model, new Map([['nope', floatTensor([1])]]))).toThrow(ShapeError);
  });

  it('treats a rank-0 float initializer (an epsilon) as a constant, never a weight to train', () => {
    const gn = buildZooModel('cnn-classifier', { seed: 0, inputSize: 16, width: 8, norm: 'group' });
    const list = listInitializers(gn);
    const scalars = list.filter((i) => i.dims.length === 0 && i.dtype === 'float32');
    expect(scalars.length).toBe(3); // one epsilon per group norm
    for (const s of scalars) expect(s.role).toBe('constant');
    expect(list.find((i) => i.name === 'stage1.gn.weight')).toMatchObject({ role: 'parameter', dims: [8, 1, 1] });
  });

  it('refuses bytes that are not ONNX with the source named', () => {
    expect(() => decodeModel(new TextEncoder().encode('definitely not protobuf'), 'upload.onnx')).toThrow(ModelFormatError);
    expect(() => decodeModel(new TextEncoder().encode('definitely not protobuf'), 'upload.onnx')).toThrow(/upload\.onnx/);
  });
});
