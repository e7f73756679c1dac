// A small federation through the synthesized state machines: real DICOM sites, real training jobs
// as child processes, the functions in-process, storage in a local folder laid out like S3.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { simulate, type SimulationResult } from '../../infra/local/simulate.js';
import { LineageSchema } from '../../lib/schemas/lineage.js';
import { UpdateManifestSchema } from '../../lib/schemas/update-manifest.js';
import { getJson } from '../../lib/storage/blob-store.js';
import { FolderBlobStore } from '../../lib/storage/folder-store.js';
import { keys } from '../../lib/storage/keys.js';
import { sha256 } from '../../lib/model/onnx-io.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('a federation of 3 sites over 2 rounds', () => {
  let result: SimulationResult;

  it('runs through the synthesized state machines and trains a new global model each round', async () => {
    const out = await mkdtemp(join(tmpdir(), 'fedrad-e2e-'));
    dirs.push(out);
    result = await simulate({ sites: 3, rounds: 2, out, minImages: 24, maxImages: 48, testImages: 40, inputSize: 32, baselines: false, concurrency: 2, runId: 'e2e' });
    expect(result.status).toBe('succeeded');
    expect(result.rounds).toBe(2);
    const store = new FolderBlobStore(result.storageRoot);
    const models = await Promise.all([0, 1, 2].map(async (r) => sha256(await store.get(result.modelsBucket, keys.globalModel('e2e', r)))));
    expect(new Set(models).size).toBe(3); // each round changed the global model

    for (const r of [1, 2]) {
      const lineage = LineageSchema.parse(await getJson(store, result.modelsBucket, keys.lineage('e2e', r)));
      expect(lineage.parentSha256).toBe(models[r - 1]);
      expect(lineage.modelSha256).toBe(models[r]);
      expect(lineage.sites.map((s) => s.status)).toEqual(['accepted', 'accepted', 'accepted']);
      const weights = lineage.sites.map((s) => (s.status === 'accepted' ? s.weight : 0));
      expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
      expect(lineage.parentMetrics.accuracy).toBeGreaterThanOrEqual(0);
      expect(lineage.parentMetrics.rocAuc).toBeGreaterThanOrEqual(0);
    }
    const manifest = UpdateManifestSchema.parse(await getJson(store, 'fedrad-local-site-1', keys.updateManifest('e2e', 1)));
    expect(manifest.baseModelSha256).toBe(models[1]);
    expect(manifest.localMetrics.accuracy).toBeGreaterThanOrEqual(0);
    expect(manifest.steps).toBeGreaterThan(0);
    expect(result.report.rounds.map((r) => r.testMetric)).toEqual([expect.any(Number), expect.any(Number)]);
    const html = await readFile(result.reportPath, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('fedrad run <code>e2e</code>');
    const summaryReport = await getJson<{ rounds: unknown[] }>(store, result.modelsBucket, keys.report('e2e', 'report.json'));
    expect(summaryReport.rounds).toHaveLength(2);
  });
});
