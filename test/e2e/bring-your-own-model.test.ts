// Models with the structure exporters write, federated through the synthesized state machines for
// 2 rounds: a U-Net (Resize scales from a Concat of Constants, BatchNorm exported in training
// mode) and a CNN (view(x.size(0), -1) shape arithmetic, a final Softmax). Every global model a run
// writes is an inference model with the brought model's initializer names.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { simulate } from '../../infra/local/simulate.js';
import { decodeModel, encodeModel, sha256 } from '../../lib/model/onnx-io.js';
import { FolderBlobStore } from '../../lib/storage/folder-store.js';
import { keys } from '../../lib/storage/keys.js';
import { exportedCnn, exportedUNet } from '../support/exporter-fixtures.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function federate(name: string, bytes: Uint8Array, task?: 'classification' | 'segmentation') {
  const out = await mkdtemp(join(tmpdir(), 'fedrad-byom-'));
  dirs.push(out);
  const file = join(out, `${name}.onnx`);
  await writeFile(file, bytes);
  const result = await simulate({ modelFile: file, task, sites: 2, rounds: 2, out: join(out, 'sim'), minImages: 24, maxImages: 32, testImages: 24, baselines: false, concurrency: 2, runId: name });
  const store = new FolderBlobStore(result.storageRoot);
  const globals = await Promise.all([0, 1, 2].map(async (r) => decodeModel(await store.get(result.modelsBucket, keys.globalModel(name, r)))));
  return { result, globals, source: decodeModel(bytes) };
}

describe('fedrad simulate --model ./exported.onnx', () => {
  it('federates an exported U-Net for 2 rounds as segmentation; the global models are inference models', async () => {
    const { result, globals, source } = await federate('unet', exportedUNet({ size: 16, batchNormTrainingMode: true }), 'segmentation');
    expect(result.status, `${result.error}: ${result.cause}`).toBe('succeeded');
    expect(result.rounds).toBe(2);
    expect(result.metric).toBe('dice');
    expect(result.report.rounds.map((r) => r.testMetric)).toEqual([expect.any(Number), expect.any(Number)]);
    expect(new Set(globals.map((g) => sha256(encodeModel(g)))).size).toBe(3);
    for (const g of globals) {
      expect([...g.graph.initializers.keys()]).toEqual([...source.graph.initializers.keys()]);
      const bn = g.graph.nodes.find((n) => n.op === 'BatchNormalization')!;
      expect(bn.attrs.training_mode).toBeUndefined();
      expect(bn.outputs).toHaveLength(1);
    }
    // The federated running statistics moved away from the export's zeros and ones.
    const mean = globals[2].graph.initializers.get('enc.bn.running_mean')!.data as Float32Array;
    expect(Math.max(...mean.map(Math.abs))).toBeGreaterThan(0);
    // A sample's output does not depend on its batch in the final model.
    const session = await ort.InferenceSession.create(encodeModel(globals[2]));
    const a = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i));
    const alone = (await session.run({ input: new ort.Tensor('float32', a, [1, 1, 16, 16]) })).logits.data as Float32Array;
    const both = (await session.run({ input: new ort.Tensor('float32', Float32Array.from([...a, ...a.map((v) => 5 * v + 2)]), [2, 1, 16, 16]) })).logits.data as Float32Array;
    expect(Math.max(...alone.map((v, i) => Math.abs(v - both[i])))).toBeLessThan(1e-5);
  });

  it('federates an exported CNN (shape arithmetic on the batch, final Softmax) for 2 rounds as classification', async () => {
    const { result, globals } = await federate('cnn', exportedCnn({ size: 16, softmax: true }));
    expect(result.status, `${result.error}: ${result.cause}`).toBe('succeeded');
    expect(result.metric).toBe('accuracy');
    expect(globals[2].metadata['fedrad.task']).toBe('classification');
    expect(globals[2].graph.nodes.map((n) => n.op)).toContain('Shape'); // the graph as exported: folding is for training only
    expect(new Set(globals.map((g) => sha256(encodeModel(g)))).size).toBe(3);
  });
});
