// Faults through the local workflow (no-op trainer: orchestration only): a failed site is recorded
// and the round completes; below minSites the run fails with a named error and the last model
// stays current; aggregation and run preparation are safe to run twice.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { simulate } from '../../infra/local/simulate.js';
import { handler as aggregate } from '../../functions/aggregate-round/handler.js';
import { handler as prepare } from '../../functions/prepare-run/handler.js';
import type { RoundState } from '../../lib/federation/round-state.js';
import { sha256 } from '../../lib/model/onnx-io.js';
import { LineageSchema } from '../../lib/schemas/lineage.js';
import { getJson } from '../../lib/storage/blob-store.js';
import { FolderBlobStore } from '../../lib/storage/folder-store.js';
import { keys } from '../../lib/storage/keys.js';

const dirs: string[] = [];
async function outDir() {
  const d = await mkdtemp(join(tmpdir(), 'fedrad-faults-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const small = { sites: 3, minImages: 12, maxImages: 16, testImages: 10, inputSize: 16, baselines: false, trainer: 'noop' as const };

describe('faults', () => {
  it('records a site whose job fails and completes the round with the others', async () => {
    const r = await simulate({ ...small, rounds: 2, out: await outDir(), failSites: ['site-2'], minSites: 2, runId: 'one-fails' });
    expect(r.status).toBe('succeeded');
    const store = new FolderBlobStore(r.storageRoot);
    const lineage = LineageSchema.parse(await getJson(store, r.modelsBucket, keys.lineage('one-fails', 1)));
    expect(lineage.sites.find((s) => s.siteId === 'site-2')).toEqual({ siteId: 'site-2', status: 'failed', error: 'States.TaskFailed' });
    expect(lineage.sites.filter((s) => s.status === 'accepted').map((s) => s.siteId)).toEqual(['site-1', 'site-3']);
    expect(r.report.rounds.map((x) => x.failed.length)).toEqual([1, 1]);
  });

  it('fails the run with QuorumNotReachedError below minSites, leaving the last global model current', async () => {
    const r = await simulate({
      ...small, rounds: 3, out: await outDir(), minSites: 2, runId: 'no-quorum',
      // round 0 succeeds; in round 1 two of three sites fail
      wrapLauncher: (launch) => async (job) => {
        if (job.environment.FEDRAD_ROUND === '1' && job.environment.FEDRAD_SITE_ID !== 'site-3') throw new Error('injected failure');
        return launch(job);
      },
    });
    expect(r.status).toBe('failed');
    expect(r.error).toBe('QuorumNotReachedError');
    expect(r.cause).toMatch(/round 1 of run no-quorum: 1 update\(s\) accepted, fewer than minSites=2; model 1 stays current/);
    const store = new FolderBlobStore(r.storageRoot);
    const lineage1 = LineageSchema.parse(await getJson(store, r.modelsBucket, keys.lineage('no-quorum', 1)));
    expect(sha256(await store.get(r.modelsBucket, keys.globalModel('no-quorum', 1)))).toBe(lineage1.modelSha256);
    expect(await store.head(r.modelsBucket, keys.globalModel('no-quorum', 2))).toBeUndefined();
    expect(await store.list(r.modelsBucket, 'runs/no-quorum/rounds/0002/')).toEqual([]);
    expect(r.report.rounds).toHaveLength(1);
    expect(r.report.status).toBe('failed');
  });

  it('never writes a second, different model for a round when its aggregation runs again', async () => {
    const r = await simulate({ ...small, rounds: 1, out: await outDir(), runId: 'rerun' });
    const store = new FolderBlobStore(r.storageRoot);
    const lineage = LineageSchema.parse(await getJson(store, r.modelsBucket, keys.lineage('rerun', 1)));
    const modelKey = keys.globalModel('rerun', 1);
    const before = await store.get(r.modelsBucket, modelKey);
    // The aggregation's input as the round passed it: round 0's state plus the sites' outcomes.
    const state = (await prepare({ input: { runId: 'rerun', rounds: 1, model: { zoo: 'cnn-classifier', inputSize: 16, seed: 0 }, training: { epochs: 1, batchSize: 32, seed: 7, optimizer: { type: 'adam', learningRate: 0.002 } } }, executionName: 'rerun' })) as RoundState;
    const again = (await aggregate({ ...state, outcomes: lineage.sites.map((s) => (s.status === 'accepted' ? { ...s, weight: 0 } : s)) })) as RoundState;
    expect(again.globalModelSha256).toBe(lineage.modelSha256);
    expect(await store.get(r.modelsBucket, modelKey)).toEqual(before);
    // With a different set of accepted updates the result would differ: refused, nothing overwritten.
    const fewer = lineage.sites.slice(1).map((s) => (s.status === 'accepted' ? { ...s, weight: 0 } : s));
    await expect(aggregate({ ...state, outcomes: fewer })).rejects.toThrow(/model 1 of run rerun already exists with different content; it is never overwritten/);
    expect(await store.get(r.modelsBucket, modelKey)).toEqual(before);
  });

  it('refuses to reuse a run id with a different input', async () => {
    await expect(prepare({ input: { runId: 'rerun', rounds: 4 }, executionName: 'x' })).rejects.toThrow(/run 'rerun' already exists with a different input/);
  });
});
