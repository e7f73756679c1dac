// A small volumetric federation through the synthesized state machines: synthetic NIfTI sites,
// real training jobs (3D patch training) as child processes, sliding-window scoring of every
// global model on the held-out test volumes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { simulate } from '../../infra/local/simulate.js';
import { sha256 } from '../../lib/model/onnx-io.js';
import { LineageSchema } from '../../lib/schemas/lineage.js';
import { UpdateManifestSchema } from '../../lib/schemas/update-manifest.js';
import { getJson } from '../../lib/storage/blob-store.js';
import { FolderBlobStore } from '../../lib/storage/folder-store.js';
import { keys } from '../../lib/storage/keys.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('a 3D federation of 3 sites over 2 rounds', () => {
  it('trains unet3d-segmenter on patches at every site, aggregates, and scores each global model by sliding-window Dice', async () => {
    const out = await mkdtemp(join(tmpdir(), 'fedrad-e2e-3d-'));
    dirs.push(out);
    const result = await simulate({ model: 'unet3d-segmenter', sites: 3, rounds: 2, out, minVolumes: 2, maxVolumes: 3, testVolumes: 2, inputSize: 8, width: 2, depth: 1, localSteps: 3, baselines: false, concurrency: 2, runId: 'e2e3d' });
    expect(result.status, `${result.error}: ${result.cause}`).toBe('succeeded');
    expect(result.rounds).toBe(2);
    expect(result.metric).toBe('dice');
    const store = new FolderBlobStore(result.storageRoot);
    const models = await Promise.all([0, 1, 2].map(async (r) => sha256(await store.get(result.modelsBucket, keys.globalModel('e2e3d', r)))));
    expect(new Set(models).size).toBe(3);
    const lineage = LineageSchema.parse(await getJson(store, result.modelsBucket, keys.lineage('e2e3d', 2)));
    const accepted = lineage.sites.filter((s) => s.status === 'accepted');
    expect(accepted.length, JSON.stringify(lineage.sites)).toBeGreaterThanOrEqual(2);
    const manifest = UpdateManifestSchema.parse(await getJson(store, `fedrad-local-${accepted[0].siteId}`, keys.updateManifest('e2e3d', 1))); // the second round's jobs, trained from model 1 (update keys count from 0)
    expect(manifest.baseModelSha256).toBe(models[1]);
    expect(manifest.steps).toBe(3);
    expect(manifest.sampleCount).toBeGreaterThan(0);
    for (const r of result.report.rounds) expect(r.testMetric).toBeGreaterThanOrEqual(0);
    expect(result.report.rounds.map((r) => r.round)).toEqual([1, 2]);
  }, 120_000);
});
