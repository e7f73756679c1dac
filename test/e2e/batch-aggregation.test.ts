// The CPU Batch path of the aggregation, through the local workflow: the round machine branches on
// the run's placement, stages the round's input, runs functions/aggregate-round/batch-main.ts as a
// child process (the container's command) and loads its result. It must produce exactly what the
// aggregate-round function produces, and fail under the same error names.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { simulate } from '../../infra/local/simulate.js';
import { LineageSchema } from '../../lib/schemas/lineage.js';
import { getJson } from '../../lib/storage/blob-store.js';
import { FolderBlobStore } from '../../lib/storage/folder-store.js';
import { keys } from '../../lib/storage/keys.js';
import type { WorkflowEvent } from '../../lib/workflow/local-runner.js';

const dirs: string[] = [];
async function outDir() {
  const d = await mkdtemp(join(tmpdir(), 'fedrad-batch-agg-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const small = { sites: 3, minImages: 12, maxImages: 16, testImages: 10, inputSize: 16, baselines: false, trainer: 'noop' as const, rounds: 2, minSites: 2 };

describe('aggregation on Batch', () => {
  it('yields byte-identical models and the same lineage as the function, round after round', async () => {
    const strategy = { type: 'fedadam' as const, serverLearningRate: 0.01 };
    const viaLambda = await simulate({ ...small, out: await outDir(), runId: 'agg-run', strategyConfig: strategy, aggregation: 'lambda' });
    const events: WorkflowEvent[] = [];
    const viaBatch = await simulate({ ...small, out: await outDir(), runId: 'agg-run', strategyConfig: strategy, aggregation: 'batch', onEvent: (e) => events.push(e) });
    expect(viaLambda.status).toBe('succeeded');
    expect(viaBatch.status).toBe('succeeded');
    expect(events.filter((e) => e.type === 'aggregation-job')).toEqual([{ type: 'aggregation-job', round: 0, ok: true }, { type: 'aggregation-job', round: 1, ok: true }]);
    const a = new FolderBlobStore(viaLambda.storageRoot);
    const b = new FolderBlobStore(viaBatch.storageRoot);
    for (const round of [1, 2]) {
      expect(await b.get(viaBatch.modelsBucket, keys.globalModel('agg-run', round))).toEqual(await a.get(viaLambda.modelsBucket, keys.globalModel('agg-run', round)));
      // server optimizer state (FedAdam) carried between rounds on the Batch path too
      expect(await b.get(viaBatch.modelsBucket, keys.serverState('agg-run', round))).toEqual(await a.get(viaLambda.modelsBucket, keys.serverState('agg-run', round)));
      expect(LineageSchema.parse(await getJson(b, viaBatch.modelsBucket, keys.lineage('agg-run', round)))).toEqual(LineageSchema.parse(await getJson(a, viaLambda.modelsBucket, keys.lineage('agg-run', round))));
    }
    const record = (await getJson(b, viaBatch.modelsBucket, keys.run('agg-run'))) as { aggregation: { place: string; reason: string } };
    expect(record.aggregation.place).toBe('batch');
    expect(record.aggregation.reason).toMatch(/the run input asks for batch/);
    expect(await b.head(viaBatch.modelsBucket, keys.aggregationOutput('agg-run', 1))).toBeDefined();
    expect(await a.head(viaLambda.modelsBucket, keys.aggregationOutput('agg-run', 1))).toBeUndefined();
  });

  it('fails the run with QuorumNotReachedError, as the function does, leaving the last model current', async () => {
    const r = await simulate({
      ...small, out: await outDir(), runId: 'batch-no-quorum', aggregation: 'batch',
      wrapLauncher: (launch) => async (job) => {
        if (job.environment.FEDRAD_ROUND === '1' && job.environment.FEDRAD_SITE_ID !== 'site-3') throw new Error('injected failure');
        return launch(job);
      },
    });
    expect(r.status).toBe('failed');
    expect(r.error).toBe('QuorumNotReachedError');
    expect(r.cause).toMatch(/round 1 of run batch-no-quorum: 1 update\(s\) accepted, fewer than minSites=2; model 1 stays current/);
    const store = new FolderBlobStore(r.storageRoot);
    expect(await store.head(r.modelsBucket, keys.globalModel('batch-no-quorum', 2))).toBeUndefined();
  });
});
