// Every strategy through the local workflow (no-op trainer): a site sending NaN is rejected by the
// gate whatever the strategy; stateful server optimizers keep their state per round in S3.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { simulate } from '../../infra/local/simulate.js';
import { tamperingLauncher } from '../../infra/local/trainers.js';
import { gaussianEpsilon } from '../../lib/federation/strategies/math.js';
import { decodeModel } from '../../lib/model/onnx-io.js';
import { LineageSchema } from '../../lib/schemas/lineage.js';
import { getJson } from '../../lib/storage/blob-store.js';
import { FolderBlobStore } from '../../lib/storage/folder-store.js';
import { keys } from '../../lib/storage/keys.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const STRATEGIES = [
  { type: 'fedavg' }, { type: 'fedavgm' }, { type: 'fedadam' }, { type: 'fedyogi' }, { type: 'fedadagrad' },
  { type: 'median' }, { type: 'trimmed-mean', beta: 0.2 }, { type: 'krum', f: 1 }, { type: 'multi-krum', f: 1 },
  { type: 'fedavg', clipNorm: 0.01 }, { type: 'fedavg', dp: { clipNorm: 0.01, noiseMultiplier: 1 } },
] as const;

describe('a NaN update', () => {
  it.each(STRATEGIES.map((s) => [JSON.stringify(s), s] as const))('is rejected by the gate under %s', async (_name, strategy) => {
    const out = await mkdtemp(join(tmpdir(), 'fedrad-strategy-'));
    dirs.push(out);
    const r = await simulate({
      sites: 6, rounds: 2, out, minImages: 10, maxImages: 10, testImages: 10, inputSize: 16, baselines: false, trainer: 'noop', minSites: 5, runId: 'nan',
      strategyConfig: strategy as never,
      wrapLauncher: (launch, store) => tamperingLauncher(launch, store, 'site-3', (v, name) => { if (name === 'head.bias') v[0] = Number.NaN; }),
    });
    expect(r.status, r.cause).toBe('succeeded');
    const store = new FolderBlobStore(r.storageRoot);
    for (const round of [1, 2]) {
      const lineage = LineageSchema.parse(await getJson(store, r.modelsBucket, keys.lineage('nan', round)));
      expect(lineage.strategy.type).toBe(strategy.type);
      const bad = lineage.sites.find((s) => s.siteId === 'site-3')!;
      expect(bad.status).toBe('rejected');
      expect(bad.status === 'rejected' && bad.reasons.map((x) => x.code)).toEqual(['non-finite']);
      expect(lineage.sites.filter((s) => s.status === 'accepted')).toHaveLength(5);
      if ('dp' in strategy) expect(lineage.privacy?.epsilon).toBeGreaterThan(0);
    }
    const stateful = ['fedavgm', 'fedadam', 'fedyogi', 'fedadagrad'].includes(strategy.type);
    expect(Boolean(await store.head(r.modelsBucket, keys.serverState('nan', 2)))).toBe(stateful);
  });
});

describe('the privacy budget', () => {
  it('stops the run before a round would exceed it, with the last model current', async () => {
    const out = await mkdtemp(join(tmpdir(), 'fedrad-dp-'));
    dirs.push(out);
    // sigma 2, delta 1e-5: epsilon 2.5 after one round, 3.6 after two, 4.6 after three
    expect(gaussianEpsilon(2, 2, 1e-5).epsilon).toBeLessThan(4.5);
    expect(gaussianEpsilon(2, 3, 1e-5).epsilon).toBeGreaterThan(4.5);
    const r = await simulate({ sites: 3, rounds: 4, out, minImages: 10, maxImages: 10, testImages: 10, inputSize: 16, baselines: false, trainer: 'noop', runId: 'dp', strategyConfig: { type: 'fedavg', dp: { clipNorm: 0.1, noiseMultiplier: 2, epsilonBudget: 4.5 } } });
    expect(r.status).toBe('failed');
    expect(r.error).toBe('PrivacyBudgetExceededError');
    expect(r.cause).toMatch(/round 2 of run dp would bring epsilon to 4\.\d+ \(delta 0\.00001\), above the budget 4\.5; the run stops with model 2 current/);
    const store = new FolderBlobStore(r.storageRoot);
    expect(LineageSchema.parse(await getJson(store, r.modelsBucket, keys.lineage('dp', 2))).privacy).toMatchObject({ epsilon: gaussianEpsilon(2, 2, 1e-5).epsilon, rounds: 2 });
    expect(await store.head(r.modelsBucket, keys.globalModel('dp', 3))).toBeUndefined();
    expect(r.report.rounds).toHaveLength(2);
    // the run report carries the privacy spent each round, as lineage does, and the HTML shows it
    expect(r.report.rounds.map((x) => x.privacy?.epsilon)).toEqual([gaussianEpsilon(2, 1, 1e-5).epsilon, gaussianEpsilon(2, 2, 1e-5).epsilon]);
    expect(r.report.rounds[0].strategyReport?.noiseStd).toBeCloseTo((2 * 0.1) / 3, 6); // sigma x C on the sum of 3, then the mean
    expect(await readFile(r.reportPath, 'utf8')).toContain(`<td>${gaussianEpsilon(2, 2, 1e-5).epsilon.toFixed(3)} (δ 0.00001)</td>`);
  });
});

describe('server optimizers', () => {
  it('step the weights but leave BatchNorm running statistics to the plain aggregate', async () => {
    const out = await mkdtemp(join(tmpdir(), 'fedrad-adam-'));
    dirs.push(out);
    const r = await simulate({ sites: 3, rounds: 1, out, minImages: 10, maxImages: 10, testImages: 10, inputSize: 16, baselines: false, trainer: 'noop', runId: 'adam', strategyConfig: { type: 'fedadam', serverLearningRate: 0.5 } });
    expect(r.status).toBe('succeeded');
    const store = new FolderBlobStore(r.storageRoot);
    const [m0, m1] = await Promise.all([0, 1].map(async (k) => decodeModel(await store.get(r.modelsBucket, keys.globalModel('adam', k)))));
    // the no-op trainer's constant step per site (1e-4 x (1 + sum of char codes mod 17)), equal weights
    const steps = ['site-1', 'site-2', 'site-3'].map((s) => 1e-4 * (1 + ([...s].reduce((a, c) => a + c.charCodeAt(0), 0) % 17)));
    const meanStep = steps.reduce((a, b) => a + b) / 3;
    const diff = (name: string) => (m1.graph.initializers.get(name)!.data as Float32Array)[0] - (m0.graph.initializers.get(name)!.data as Float32Array)[0];
    expect(diff('stage1.bn.running_var')).toBeCloseTo(meanStep, 6);
    expect(diff('stage1.bn.running_mean')).toBeCloseTo(meanStep, 6);
    expect(Math.abs(diff('stage1.conv.weight') - meanStep)).toBeGreaterThan(1e-3); // Adam's step, not the mean
  });
});
