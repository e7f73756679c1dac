// Real PyTorch exports (Debian's python3-torch 1.13): a 2-D CNN with BatchNorm kept (training-mode
// export), a 2-D U-Net with bilinear Upsample and skips, a MONAI-like 3-D U-Net (InstanceNorm,
// PReLU, ConvTranspose, LeakyReLU). One SGD step in fedrad against the same step in PyTorch: every
// parameter and running statistic within 1e-4. Skipped, with a line saying so, where PyTorch is absent.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeModel } from '../../../lib/model/onnx-io.js';
import { createSession, floatOrt, scalarOrt, toOrt } from '../../../lib/model/runtime.js';
import { buildTrainingGraph, LOSS_OUTPUT, nextName, TARGET_INPUT } from '../../../lib/model/training-graph.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, '../../support/torch_step.py');
const probe = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
const torchVersion = probe.status === 0 ? probe.stdout.trim() : undefined;
if (!torchVersion) console.warn(`pytorch-export tests skipped: ${PYTHON} cannot import torch (apt-get install -y python3-torch)`);

describe.skipIf(!torchVersion)(`one SGD step on PyTorch exports matches PyTorch (torch ${torchVersion})`, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedrad-torch-'));
    const r = spawnSync(PYTHON, [SCRIPT, dir], { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`torch_step.py failed: ${r.stderr.slice(-2000)}`);
  }, 130_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cases: Array<[string, 'softmax-cross-entropy' | 'sigmoid-bce', number]> = [
    ['cnn2d', 'softmax-cross-entropy', 2 * 4 + 2 * 8],
    ['unet2d', 'sigmoid-bce', 2 * (4 + 8 + 4)],
    ['unet3d', 'sigmoid-bce', 2 * 8],
  ];
  it.each(cases)('%s', async (name, loss, runningValues) => {
    const model = decodeModel(await readFile(join(dir, `${name}.onnx`)), `${name}.onnx`);
    const ref = JSON.parse(await readFile(join(dir, `${name}.after.json`), 'utf8')) as { loss: number; inputShape: number[]; targetShape: number[]; after: Record<string, number[]> };
    const f32 = async (suffix: string) => {
      const b = await readFile(join(dir, `${name}.${suffix}.f32`));
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    };
    const tg = buildTrainingGraph(model, { loss, optimizer: { type: 'sgd', learningRate: 0.1, momentum: 0, weightDecay: 0 } });
    const session = await createSession(tg.model, { threads: 1 });
    const feeds: Record<string, ReturnType<typeof toOrt>> = {
      [tg.dataInput]: floatOrt(ref.inputShape, await f32('input')),
      [TARGET_INPUT]: floatOrt(ref.targetShape, await f32('target')),
      learning_rate: scalarOrt(0.1),
    };
    for (const p of [...tg.params, ...tg.buffers]) feeds[p] = toOrt(model.graph.initializers.get(p)!);
    const out = await session.run(feeds);
    await session.release();
    expect((out[LOSS_OUTPUT].data as Float32Array)[0]).toBeCloseTo(ref.loss, 5);
    // Every PyTorch parameter and running statistic is an initializer of the export, and trained here.
    const compared: string[] = [];
    let worst = 0;
    for (const [key, values] of Object.entries(ref.after)) {
      const got = out[nextName(key)]?.data as Float32Array | undefined;
      expect(got, `${key} is not carried by the training graph`).toBeDefined();
      worst = Math.max(worst, ...values.map((v, i) => Math.abs(v - got![i])));
      compared.push(key);
    }
    expect(worst).toBeLessThan(1e-4);
    expect(tg.buffers.reduce((a, b) => a + model.graph.initializers.get(b)!.data.length, 0)).toBe(runningValues);
    expect(compared.length).toBe(tg.params.length + tg.buffers.length);
  });
});
