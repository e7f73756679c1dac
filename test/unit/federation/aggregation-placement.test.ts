import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { estimateAggregation } from '../../../lib/federation/aggregation-placement.js';
import { prepareRun } from '../../../lib/federation/prepare-run.js';
import { getJson } from '../../../lib/storage/blob-store.js';
import { FolderBlobStore } from '../../../lib/storage/folder-store.js';
import { keys } from '../../../lib/storage/keys.js';

const MB = 1024 * 1024;
const lambda = { lambdaMemoryMb: 4096, lambdaTimeoutSeconds: 900 };

describe('aggregation placement', () => {
  it('keeps a 100 MB model over 50 sites in the function', () => {
    const e = estimateAggregation(100 * MB, 50, { type: 'fedavg' }, lambda);
    expect(e.place).toBe('lambda');
    expect(e.memoryBytes).toBeLessThan(0.75 * 4096 * MB);
  });

  it('sends a 2 GB model to Batch for memory, naming the estimate', () => {
    const e = estimateAggregation(2048 * MB, 5, { type: 'fedavg' }, lambda);
    expect(e.place).toBe('batch');
    expect(e.reason).toMatch(/exceeds 75% of the function's 4096 MB/);
  });

  it('sends 50 updates of 500 MB to Batch for time, though they would fit in memory', () => {
    const e = estimateAggregation(500 * MB, 50, { type: 'fedavg' }, lambda);
    expect(e.memoryBytes).toBeLessThan(0.75 * 4096 * MB);
    expect(e.place).toBe('batch');
    expect(e.reason).toMatch(/half the function's 900 s timeout/);
  });

  it("counts Krum's pairwise distances: 400 sites of a 50 MB model fit the function for FedAvg, not for Krum", () => {
    const avg = estimateAggregation(50 * MB, 400, { type: 'fedavg' }, lambda);
    const krum = estimateAggregation(50 * MB, 400, { type: 'krum', f: 1, serverMomentum: 0 }, lambda);
    expect(avg.place).toBe('lambda');
    expect(krum.place).toBe('batch');
    expect(krum.seconds - avg.seconds).toBeCloseTo(((400 * 399) / 2) * (50 * MB / 4) / 1.3e9, 0);
    expect(krum.reason).toMatch(/half the function's 900 s timeout/);
  });

  it('counts server-optimizer state: FedAdam keeps two more models than FedAvg', () => {
    const avg = estimateAggregation(800 * MB, 3, { type: 'fedavg' }, lambda);
    const adam = estimateAggregation(800 * MB, 3, { type: 'fedadam', serverLearningRate: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 }, lambda);
    expect(adam.memoryBytes - avg.memoryBytes).toBe(2 * 800 * MB);
    expect([avg.place, adam.place]).toEqual(['lambda', 'batch']);
  });
});

describe('prepare run places the aggregation', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const deps = async (limits: Parameters<typeof prepareRun>[0]['aggregationLimits']) => {
    const root = await mkdtemp(join(tmpdir(), 'fedrad-place-'));
    dirs.push(root);
    return { store: new FolderBlobStore(root), modelsBucket: 'fedrad-models', sites: [{ siteId: 'a', bucket: 'fedrad-a', jobDefinitionArn: 'arn:x' }], aggregationLimits: limits };
  };

  it("records 'auto' as the estimate chose, in the state and the run record", async () => {
    const d = await deps({ lambdaMemoryMb: 128, lambdaTimeoutSeconds: 900 });
    const state = await prepareRun(d, { runId: 'tiny-fn', model: { zoo: 'cnn-classifier', inputSize: 16 } }, 'x');
    expect(state.aggregation).toBe('batch'); // 128 MB cannot hold the runtime
    expect(((await getJson(d.store, 'fedrad-models', keys.run('tiny-fn'))) as { aggregation: { place: string } }).aggregation.place).toBe('batch');
    const roomy = await deps(lambda);
    expect((await prepareRun(roomy, { runId: 'roomy', model: { zoo: 'cnn-classifier', inputSize: 16 } }, 'x')).aggregation).toBe('lambda');
  });

  it('refuses a run whose aggregation would not fit the Batch job either, saying what to raise', async () => {
    const d = await deps({ lambdaMemoryMb: 128, lambdaTimeoutSeconds: 900, batchMemoryMb: 200 });
    await expect(prepareRun(d, { runId: 'too-big', model: { zoo: 'cnn-classifier', inputSize: 16 } }, 'x')).rejects.toThrow(/more than the Batch aggregation job's 0.2 GiB: raise aggregationMemoryGiB/);
    expect(await d.store.head('fedrad-models', keys.run('too-big'))).toBeUndefined();
  });
});
