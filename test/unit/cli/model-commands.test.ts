import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { sha256 } from '../../../lib/model/onnx-io.js';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../../bin/fedrad.mjs');

describe('fedrad model', () => {
  it('init writes a zoo model that inspect describes, with its SHA-256 and parameter count', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedrad-cli-'));
    const file = join(dir, 'm.onnx');
    const init = await run('node', [BIN, 'model', 'init', '--zoo', 'cnn-classifier', '--out', file, '--input-size', '32', '--width', '4', '--seed', '7']);
    expect(init.stdout).toMatch(/wrote .*m\.onnx: cnn-classifier/);
    const { stdout } = await run('node', [BIN, 'model', 'inspect', file, '--json']);
    const s = JSON.parse(stdout);
    expect(s.sha256).toBe(sha256(await readFile(file)));
    expect(s.inputs).toEqual([{ name: 'image', shape: ['N', 1, 32, 32] }]);
    // conv 4*1*9 + 8*4*9 + 16*8*9, BN scale/bias 2*(4+8+16), head 2*16 + 2
    expect(s.parameterCount).toBe(36 + 288 + 1152 + 56 + 34);
    expect(s.runningStatisticCount).toBe(56);
    const table = await run('node', [BIN, 'model', 'inspect', file]);
    expect(table.stdout).toContain('stage1.conv.weight');
    expect(table.stdout).toContain(s.sha256);
  });

  it('refuses an unknown zoo model, naming the allowed ones', async () => {
    const err = await run('node', [BIN, 'model', 'init', '--zoo', 'resnet', '--out', '/tmp/never.onnx']).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toContain("unknown zoo model 'resnet'; choose one of: cnn-classifier, unet-segmenter");
  });

  it('refuses a file that is not ONNX', async () => {
    const err = await run('node', [BIN, 'model', 'inspect', BIN]).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/fedrad\.mjs is not an ONNX model/);
  });
});

describe('fedrad model check', () => {
  it('prints one JSON object for a trainable export and exits 2 for a blocked one', async () => {
    const { writeFile } = await import('node:fs/promises');
    const { exportedCnn } = await import('../../support/exporter-fixtures.js');
    const dir = await mkdtemp(join(tmpdir(), 'fedrad-check-'));
    const file = join(dir, 'net.onnx');
    await writeFile(file, exportedCnn({ size: 16, softmax: true }));
    const { stdout } = await run('node', [BIN, 'model', 'check', file, '--json']);
    const c = JSON.parse(stdout);
    expect(c).toMatchObject({ trainable: true, task: 'classification', loss: 'softmax-cross-entropy', sha256: sha256(await readFile(file)) });
    const err = await run('node', [BIN, 'model', 'check', file, '--task', 'segmentation']).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stdout).toContain('NOT TRAINABLE');
    expect(err.stdout).toContain('change      pass --task classification');
  });
});

describe('fedrad model upload', () => {
  it('checks the model, writes it once into the models bucket and prints the run input; Prepare run accepts that input', async () => {
    const { writeFile } = await import('node:fs/promises');
    const { exportedUNet } = await import('../../support/exporter-fixtures.js');
    const { FolderBlobStore } = await import('../../../lib/storage/folder-store.js');
    const { prepareRun } = await import('../../../lib/federation/prepare-run.js');
    const dir = await mkdtemp(join(tmpdir(), 'fedrad-upload-'));
    const file = join(dir, 'my unet.onnx');
    const bytes = exportedUNet({ size: 16 });
    await writeFile(file, bytes);
    const env = { ...process.env, FEDRAD_STORAGE_ROOT: join(dir, 'buckets') };
    const { stdout } = await run('node', [BIN, 'model', 'upload', file, '--bucket', 'fedrad-models', '--json'], { env });
    const r = JSON.parse(stdout);
    expect(r.runInput).toEqual({ model: { onnx: { key: 'models/my_unet.onnx', sha256: sha256(bytes) }, task: 'segmentation', loss: 'bce-dice' } });
    const store = new FolderBlobStore(join(dir, 'buckets'));
    expect(sha256(await store.get('fedrad-models', 'models/my_unet.onnx'))).toBe(sha256(bytes));
    const state = await prepareRun({ store, modelsBucket: 'fedrad-models', sites: [{ siteId: 'a', bucket: 'b', jobDefinitionArn: 'x' }] }, { runId: 'up', ...r.runInput }, 'x');
    expect(JSON.parse(state.trainingSpec).loss).toBe('bce-dice');
    // Same key, same bytes: fine. Other bytes: refused (runs pin models by hash).
    await run('node', [BIN, 'model', 'upload', file, '--bucket', 'fedrad-models'], { env });
    await writeFile(file, exportedUNet({ size: 16, seed: 9 }));
    const err = await run('node', [BIN, 'model', 'upload', file, '--bucket', 'fedrad-models'], { env }).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('fedrad-models/models/my_unet.onnx already holds another model, and runs pin models by hash: choose another --key');
  });
});
