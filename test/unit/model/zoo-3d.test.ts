// The 3D zoo models: standard ONNX that onnxruntime runs from its bytes, their options checked, and
// training steps on the engine lowering the loss of a fixed batch.
import { describe, expect, it } from 'vitest';
import { InvalidSpecError } from '../../../lib/errors.js';
import { decodeModel, encodeModel } from '../../../lib/model/onnx-io.js';
import { LEARNING_RATE_INPUT, STEP_INPUT } from '../../../lib/model/optimizers.js';
import { createSession, floatOrt, type OrtTensor, scalarOrt, toOrt } from '../../../lib/model/runtime.js';
import { buildTrainingGraph, initialOptimizerState, LOSS_OUTPUT, TARGET_INPUT } from '../../../lib/model/training-graph.js';
import { buildZooModel } from '../../../lib/model/zoo/index.js';
import { Random } from '../../../lib/util/random.js';

describe('3D zoo models', () => {
  it('unet3d-segmenter is ONNX onnxruntime runs from bytes: [N, 4, 16^3] in, [N, 2, 16^3] logits out', async () => {
    const model = buildZooModel('unet3d-segmenter', { seed: 1, inputSize: 16, width: 4, depth: 2, channels: 4 });
    const bytes = encodeModel(model);
    expect(decodeModel(bytes).graph.nodes).toEqual(model.graph.nodes);
    expect(model.graph.initializers.get('enc1.a.conv.weight')!.dims).toEqual([4, 4, 3, 3, 3]);
    expect(model.graph.initializers.get('bottleneck.a.conv.weight')!.dims).toEqual([16, 8, 3, 3, 3]);
    const session = await createSession(bytes, { threads: 1 });
    const x = Float32Array.from({ length: 2 * 4 * 16 ** 3 }, (_, i) => Math.sin(i));
    const out = (await session.run({ image: floatOrt([2, 4, 16, 16, 16], x) })).logits;
    await session.release();
    expect(out.dims).toEqual([2, 2, 16, 16, 16]);
    expect((out.data as Float32Array).every(Number.isFinite)).toBe(true);
  });

  it('cnn3d-classifier gives [N, classes] logits', async () => {
    const model = buildZooModel('cnn3d-classifier', { seed: 2, inputSize: 16, width: 4, depth: 3, channels: 2, classes: 3 });
    const session = await createSession(encodeModel(model), { threads: 1 });
    const out = (await session.run({ image: floatOrt([1, 2, 16, 16, 16], new Float32Array(2 * 16 ** 3).fill(0.5)) })).logits;
    await session.release();
    expect(out.dims).toEqual([1, 3]);
  });

  it('refuses options it cannot build, naming the setting', () => {
    expect(() => buildZooModel('unet3d-segmenter', { inputSize: 20, depth: 3 })).toThrow(/multiple of 8; got 20/);
    expect(() => buildZooModel('unet3d-segmenter', { channels: 5 })).toThrow(InvalidSpecError);
    expect(() => buildZooModel('unet3d-segmenter', { channels: 5 })).toThrow(/1 to 4 input channels; got 5/);
    expect(() => buildZooModel('cnn3d-classifier', { depth: 0 })).toThrow(/depth of 1 to 4/);
    expect(() => buildZooModel('unet-segmenter', { norm: 'instance' })).toThrow(/instance.*3D models/);
  });

  it('Adam steps on the engine lower the BCE + Dice loss of a fixed batch', async () => {
    const model = buildZooModel('unet3d-segmenter', { seed: 3, inputSize: 8, width: 4, depth: 2, channels: 2, classes: 2 });
    const tg = buildTrainingGraph(model, { loss: 'bce-dice', optimizer: { type: 'adam', learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } });
    const session = await createSession(tg.model, { threads: 1 });
    const rng = new Random(4);
    // a bright cube is the lesion in both input channels; region 0 is the cube, region 1 its centre
    const n = 2;
    const image = new Float32Array(n * 2 * 512);
    const target = new Float32Array(n * 2 * 512);
    for (let s = 0; s < n; s++) for (let z = 0; z < 8; z++) for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
      const v = (z * 8 + y) * 8 + x;
      const inCube = z >= 2 && z < 6 && y >= 2 + s && y < 6 + s && x >= 2 && x < 6;
      const core = inCube && z >= 3 && z < 5 && x >= 3 && x < 5;
      for (let c = 0; c < 2; c++) image[(s * 2 + c) * 512 + v] = (inCube ? 1 + c : 0) + 0.2 * rng.normal();
      target[(s * 2) * 512 + v] = inCube ? 1 : 0;
      target[(s * 2 + 1) * 512 + v] = core ? 1 : 0;
    }
    const state = new Map<string, OrtTensor>();
    for (const p of [...tg.params, ...tg.buffers]) state.set(p, toOrt(model.graph.initializers.get(p)!));
    for (const [name, t] of initialOptimizerState(tg, model.graph.initializers)) state.set(name, toOrt(t));
    const losses: number[] = [];
    for (let step = 1; step <= 15; step++) {
      const out = await session.run({
        ...Object.fromEntries(state),
        [tg.dataInput]: floatOrt([n, 2, 8, 8, 8], image),
        [TARGET_INPUT]: floatOrt([n, 2, 8, 8, 8], target),
        [LEARNING_RATE_INPUT]: scalarOrt(0.01),
        [STEP_INPUT]: scalarOrt(step),
      });
      losses.push((out[LOSS_OUTPUT].data as Float32Array)[0]);
      for (const [input, output] of tg.carried) state.set(input, out[output]);
    }
    await session.release();
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(0.7 * losses[0]);
  });
});
