// Prepare run with a brought ONNX model: read from the models bucket, pinned by its hash, checked,
// and written as an inference model carrying its task and loss.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidRunInputError } from '../../../lib/federation/errors.js';
import { prepareRun } from '../../../lib/federation/prepare-run.js';
import { decodeModel, encodeModel, sha256 } from '../../../lib/model/onnx-io.js';
import { FolderBlobStore } from '../../../lib/storage/folder-store.js';
import { keys } from '../../../lib/storage/keys.js';
import { exportedCnn, exportedUNet } from '../../support/exporter-fixtures.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const sites = ['a', 'b'].map((id) => ({ siteId: id, bucket: `fedrad-${id}`, jobDefinitionArn: 'arn:x' }));
const deps = async () => {
  const root = await mkdtemp(join(tmpdir(), 'fedrad-run-model-'));
  dirs.push(root);
  return { store: new FolderBlobStore(root), modelsBucket: 'fedrad-models', sites };
};

describe('prepare run with model {onnx: {key, sha256}}', () => {
  it('writes round 0 as the inference model with the task and loss read from the output shape', async () => {
    const d = await deps();
    const bytes = exportedUNet({ size: 16, batchNormTrainingMode: true });
    await d.store.put('fedrad-models', 'models/unet.onnx', bytes);
    const state = await prepareRun(d, { runId: 'byom', model: { onnx: { key: 'models/unet.onnx', sha256: sha256(bytes) } } }, 'x');
    const global = decodeModel(await d.store.get('fedrad-models', keys.globalModel('byom', 0)));
    expect(global.metadata).toMatchObject({ 'fedrad.task': 'segmentation', 'fedrad.loss': 'bce-dice', 'fedrad.source-sha256': sha256(bytes) });
    const bn = global.graph.nodes.find((n) => n.op === 'BatchNormalization')!;
    expect(bn.outputs).toHaveLength(1);
    expect(bn.attrs.training_mode).toBeUndefined();
    expect(JSON.parse(state.trainingSpec).loss).toBe('bce-dice');
    expect(state.globalModelSha256).toBe(sha256(encodeModel(global)));
  });

  it('takes task and loss from the run input', async () => {
    const d = await deps();
    const bytes = exportedUNet({ size: 16 });
    await d.store.put('fedrad-models', 'models/u.onnx', bytes);
    const state = await prepareRun(d, { runId: 'r', model: { onnx: { key: 'models/u.onnx', sha256: sha256(bytes) }, task: 'segmentation', loss: 'soft-dice' } }, 'x');
    expect(JSON.parse(state.trainingSpec).loss).toBe('soft-dice');
  });

  it('refuses a missing object, a hash mismatch and a loss of the wrong task, naming the field', async () => {
    const d = await deps();
    const bytes = exportedCnn({ size: 16 });
    const sha = sha256(bytes);
    const missing = await prepareRun(d, { runId: 'm', model: { onnx: { key: 'models/none.onnx', sha256: sha } } }, 'x').catch((e) => e);
    expect(missing).toBeInstanceOf(InvalidRunInputError);
    expect(missing.message).toBe("model.onnx.key 'models/none.onnx': there is no such object in the models bucket fedrad-models; upload it with 'fedrad model upload <file>', which prints the run input to use");
    await d.store.put('fedrad-models', 'models/cnn.onnx', bytes);
    const other = '0'.repeat(64);
    const mismatch = await prepareRun(d, { runId: 'h', model: { onnx: { key: 'models/cnn.onnx', sha256: other } } }, 'x').catch((e) => e);
    expect(mismatch.message).toBe(`model.onnx.sha256: the object 'models/cnn.onnx' has SHA-256 ${sha}, not ${other} as the run input says; the object was replaced, or the hash is of another file`);
    const wrongLoss = await prepareRun(d, { runId: 'l', model: { onnx: { key: 'models/cnn.onnx', sha256: sha }, loss: 'soft-dice' } }, 'x').catch((e) => e);
    expect(wrongLoss.message).toMatch(/^model.loss: 'soft-dice' does not fit a classification model/);
    const badHash = await prepareRun(d, { runId: 'b', model: { onnx: { key: 'models/cnn.onnx', sha256: 'abc' } } }, 'x').catch((e) => e);
    expect(badHash).toBeInstanceOf(InvalidRunInputError);
    expect(badHash.message).toContain('model');
    expect(badHash.message).not.toMatch(/undefined|\[object Object\]/);
  });

  it('refuses a model the sites could not train, with the op and node', async () => {
    const d = await deps();
    const m = decodeModel(exportedCnn({ size: 16 }));
    m.graph.nodes.find((n) => n.op === 'Relu')!.op = 'Erf';
    const bytes = encodeModel(m);
    await d.store.put('fedrad-models', 'models/gelu.onnx', bytes);
    const err = await prepareRun(d, { runId: 'g', model: { onnx: { key: 'models/gelu.onnx', sha256: sha256(bytes) } } }, 'x').catch((e) => e);
    expect(err).toBeInstanceOf(InvalidRunInputError);
    expect(err.message).toMatch(/^model.onnx.key 'models\/gelu.onnx' cannot be trained: node '.*Relu.*' uses op Erf, which fedrad cannot differentiate.*\('fedrad model check' on the file says what to change\)$/);
  });
});
