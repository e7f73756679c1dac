// `fedrad model check` as a library: the figures of a trainable export, and for a blocked one the
// op, the node and what to change.
import { describe, expect, it } from 'vitest';
import { checkModel, formatModelCheck } from '../../../lib/model/check-model.js';
import { decodeModel, encodeModel } from '../../../lib/model/onnx-io.js';
import { exportedCnn, exportedUNet } from '../../support/exporter-fixtures.js';

describe('model check', () => {
  it('reports an exported U-Net trainable, with its task, loss, parameters and what the global model changes', async () => {
    const c = await checkModel(exportedUNet({ size: 16 }), 'unet.onnx');
    expect(c.trainable).toBe(true);
    expect(c.blocking).toBeUndefined();
    expect(c.task).toBe('segmentation');
    expect(c.taskFrom).toBe('output-shape');
    expect(c.loss).toBe('bce-dice');
    // convs 1->4 (3x3, no bias: a BatchNorm follows), 4->8 (3x3), 12->4 (3x3), 4->1 (1x1), and BN scale/bias of 4 channels
    expect(c.parameters).toBe(36 + 296 + 436 + 5 + 8);
    expect(c.runningStatistics).toBe(8);
    expect(c.outputShape).toEqual([-1, 1, 16, 16]);
    expect(c.inferenceChanges).toHaveLength(1);
    expect(c.step!.loss).toBeGreaterThan(0);
    expect(Number.isFinite(c.step!.gradNorm)).toBe(true);
    // conv MACs per sample: 16*16*4*9 + 8*8*8*36 + 16*16*4*108 + 16*16*1*4, two FLOPs each
    expect(c.flopsPerSample!.forward).toBe(2 * (16 * 16 * 4 * 9 + 8 * 8 * 8 * 36 + 16 * 16 * 4 * 108 + 16 * 16 * 4));
    const [m1, m8] = c.peakMemory!;
    expect(m8.bytes).toBeGreaterThan(m1.bytes);
    expect(formatModelCheck(c)).toMatch(/^unet\.onnx: TRAINABLE/);
  });

  it('names the first blocking op, its node and what to change', async () => {
    const model = decodeModel(exportedCnn(), 'cnn.onnx');
    const relu = model.graph.nodes.find((n) => n.op === 'Relu')!;
    relu.op = 'Erf';
    const c = await checkModel(encodeModel(model), 'gelu-net.onnx');
    expect(c.trainable).toBe(false);
    expect(c.blocking).toEqual({ op: 'Erf', node: relu.name, message: expect.stringContaining(`node '${relu.name}' uses op Erf, which fedrad cannot differentiate`), advice: 'use ReLU or LeakyReLU instead of GELU (GELU exports as Erf)' });
    expect(formatModelCheck(c)).toContain(`blocked by  op Erf at node '${relu.name}'`);
  });

  it('takes --task over the output shape and says why a classifier cannot segment', async () => {
    const c = await checkModel(exportedCnn(), 'cnn.onnx', { task: 'segmentation' });
    expect(c.taskFrom).toBe('option');
    expect(c.trainable).toBe(false);
    expect(c.blocking!.message).toBe('a segmentation model must output one logit per pixel or voxel ([N, 1, ...]); this one outputs [N, 2]');
    expect(c.blocking!.advice).toMatch(/--task classification/);
  });
});

describe('model check: opsets', () => {
  it('trains opsets 13 to 20 and refuses others with the opset to export with', async () => {
    const withOpset = (opset: number) => {
      const m = decodeModel(exportedUNet({ size: 8 }), 'u.onnx');
      return encodeModel({ ...m, opset });
    };
    for (const opset of [13, 20]) expect((await checkModel(withOpset(opset), `opset${opset}.onnx`)).trainable, `opset ${opset}`).toBe(true);
    for (const opset of [12, 21]) {
      const c = await checkModel(withOpset(opset), `opset${opset}.onnx`);
      expect(c.trainable).toBe(false);
      expect(c.blocking!.message).toBe(`the model uses opset ${opset}; training needs opset 13 to 20 (re-export it with opset_version=17)`);
      expect(c.blocking!.advice).toBe('re-export with torch.onnx.export(..., opset_version=17) (13-20 train)');
    }
  });
});
