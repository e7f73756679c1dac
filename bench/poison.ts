// Poisoning in a local federation: 1 of 5 sites sends its update scaled by -10 every round. The
// held-out accuracy and ROC AUC of the final global model (and the mean of the last three), per
// strategy, against a clean FedAvg run; then a sixth site sending NaN under every strategy, which the
// gate rejects while the round goes on. One JSON line per run. Deterministic (seeded data and training).
// Sites train a fixed 10 local steps a round by default: with a step budget of one epoch the update's
// length grows with the site's size, and Krum (nearest neighbours) then keeps the smallest site in most rounds.
// Usage: npm run bench:poison [-- --rounds 10 --attacker site-1 --max-images 600 --local-steps 10 | --epochs 1
//   --clean-robust --norm batch|group --server-momentum 0 --only krum,median --no-nan
//   --recalibrated-on-test --default-gate]  (--default-gate: keep the gate's relative norm bound on, which rejects the attacker)
//    (diagnosis: each round's accuracy again after recomputing BatchNorm statistics on the test set itself)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { simulate } from '../infra/local/simulate.js';
import { FolderDataSource } from '../lib/data/data-source.js';
import { loadSiteDataset } from '../lib/data/load-dataset.js';
import { TEST_SITE_ID } from '../lib/data/synth.js';
import { evaluateModel } from '../lib/model/evaluate.js';
import { decodeModel, replaceInitializers } from '../lib/model/onnx-io.js';
import { recalibrateBatchNorm } from '../lib/model/trainer.js';
import { FolderBlobStore } from '../lib/storage/folder-store.js';
import { keys } from '../lib/storage/keys.js';
import { tamperingLauncher } from '../infra/local/trainers.js';
import type { RunInputRaw } from '../lib/schemas/run-input.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' }, attacker: { type: 'string', default: 'site-1' }, 'max-images': { type: 'string', default: '600' }, 'clean-robust': { type: 'boolean', default: false }, 'server-momentum': { type: 'string', default: '0' }, only: { type: 'string' }, norm: { type: 'string', default: 'batch' }, epochs: { type: 'string' }, 'local-steps': { type: 'string' }, 'no-nan': { type: 'boolean', default: false }, 'recalibrated-on-test': { type: 'boolean', default: false }, 'default-gate': { type: 'boolean', default: false } } });
// The gate's default relative norm bound (10 x the round's median) already rejects a x -10 site: the
// strategies are measured without it unless --default-gate, so that they face the attacker themselves.
const gate: RunInputRaw['gate'] = values['default-gate'] ? undefined : { maxNormOverMedian: null };
const momentum = Number(values['server-momentum']);
const rounds = Number(values.rounds);
const out = await mkdtemp(join(tmpdir(), 'fedrad-poison-'));
if (values.epochs !== undefined && values['local-steps'] !== undefined) throw new Error('set either --epochs or --local-steps, not both');
// one step budget for every run: a fixed number of local steps (default), or epochs when --epochs is given
const budget = values.epochs !== undefined ? { epochs: Number(values.epochs) } : { localSteps: Number(values['local-steps'] ?? 10) };
const common = { sites: 5, rounds, out, minImages: 100, maxImages: Number(values['max-images']), baselines: false, seed: 11, norm: values.norm as 'batch' | 'group', ...budget };
const runs: Array<[string, RunInputRaw['strategy'], boolean]> = [
  ['fedavg (clean)', { type: 'fedavg' }, false],
  ['fedavg', { type: 'fedavg' }, true],
  ['median', { type: 'median', serverMomentum: momentum }, true],
  ['trimmed-mean', { type: 'trimmed-mean', beta: 0.2, serverMomentum: momentum }, true],
  ['krum', { type: 'krum', f: 1, serverMomentum: momentum }, true],
  ['multi-krum', { type: 'multi-krum', f: 1, serverMomentum: momentum }, true],
];
// With --clean-robust: the robust strategies without an attacker too, to separate what the attack
// costs from what the strategy costs on non-IID sites.
if (values['clean-robust']) runs.push(['median (clean)', { type: 'median' }, false], ['trimmed-mean (clean)', { type: 'trimmed-mean', beta: 0.2 }, false], ['krum (clean)', { type: 'krum', f: 1 }, false]);
/** Each round's held-out accuracy after its BatchNorm statistics are recomputed on the test set (transductive: a diagnosis, not a result). */
async function recalibratedAccuracy(r: Awaited<ReturnType<typeof simulate>>, runId: string): Promise<number[]> {
  const store = new FolderBlobStore(r.storageRoot);
  const test = (await loadSiteDataset(new FolderDataSource(join(r.outDir, TEST_SITE_ID, 'data')))).train;
  const out: number[] = [];
  for (const round of r.report.rounds.map((x) => x.round)) {
    const model = decodeModel(await store.get(r.modelsBucket, keys.globalModel(runId, round)));
    const stats = await recalibrateBatchNorm(model, test, 32, 0);
    const metrics = await evaluateModel(replaceInitializers(model, stats), test);
    out.push(metrics.task === 'classification' ? metrics.accuracy : metrics.dice);
  }
  return out;
}
const lastMean = (values: Array<number | undefined>) => {
  const last = values.slice(-3).filter((v): v is number => v !== undefined);
  return last.length ? Math.round((last.reduce((a, b) => a + b, 0) / last.length) * 10000) / 10000 : null;
};
let clean: number | null = null;
let cleanAuc: number | null = null;
let cleanLast3: number | null = null;
let cleanAucLast3: number | null = null;
const ratio = (a: number | null, b: number | null) => (a !== null && b ? Math.round((a / b) * 1000) / 1000 : null);
try {
  for (const [name, strategy, attacked] of runs) {
    if (values.only && name !== 'fedavg (clean)' && !values.only.split(',').includes(name)) continue;
    const r = await simulate({
      ...common, runId: name.replace(/\W+/g, '-'), strategyConfig: strategy, minSites: 5, gate,
      wrapLauncher: attacked ? (launch, store) => tamperingLauncher(launch, store, values.attacker!, (v) => v.forEach((x, i) => (v[i] = -10 * x))) : undefined,
    });
    const metric = r.federatedMetric;
    const auc = r.report.rounds.at(-1)?.testRocAuc ?? null;
    const last3 = lastMean(r.report.rounds.map((x) => x.testMetric));
    const aucLast3 = lastMean(r.report.rounds.map((x) => x.testRocAuc));
    if (name === 'fedavg (clean)') [clean, cleanAuc, cleanLast3, cleanAucLast3] = [metric, auc, last3, aucLast3];
    console.log(JSON.stringify({
      strategy: name, gate: gate ?? 'default', norm: values.norm, ...budget, serverMomentum: 'serverMomentum' in (strategy ?? {}) ? momentum : undefined, attacker: attacked ? `${values.attacker} x -10` : null, rounds, status: r.status, metric: r.metric,
      heldOut: metric, perRound: r.report.rounds.map((x) => x.testMetric),
      // the last three rounds' mean: a robust aggregate's accuracy swings round to round
      heldOutLast3: last3, heldOutRocAucLast3: aucLast3,
      relativeToClean: ratio(metric, clean), relativeLast3ToClean: ratio(last3, cleanLast3),
      heldOutRocAuc: auc, relativeRocAucToClean: ratio(auc, cleanAuc), relativeRocAucLast3ToClean: ratio(aucLast3, cleanAucLast3),
      rocAucPerRound: r.report.rounds.map((x) => (x.testRocAuc === undefined ? null : Math.round(x.testRocAuc * 1000) / 1000)), seconds: Math.round(r.seconds),
      ...(strategy?.type === 'krum' || strategy?.type === 'multi-krum' ? { selectedPerRound: r.report.rounds.map((x) => x.strategyReport?.selected ?? null) } : {}),
      ...(values['recalibrated-on-test'] ? { perRoundRecalibratedOnTest: await recalibratedAccuracy(r, name.replace(/\W+/g, '-')) } : {}),
    }));
  }
  // A sixth site sends NaN in one weight every round: the gate rejects it under every strategy and the
  // other five sites' round goes on (two rounds each, on a federation of its own).
  if (!values['no-nan']) {
    const strategies: NonNullable<RunInputRaw['strategy']>[] = [
      { type: 'fedavg' }, { type: 'fedavgm' }, { type: 'fedadam' }, { type: 'fedyogi' }, { type: 'fedadagrad' },
      { type: 'median' }, { type: 'trimmed-mean', beta: 0.2 }, { type: 'krum', f: 1 }, { type: 'multi-krum', f: 1 },
      { type: 'fedavg', clipNorm: 5 }, { type: 'fedavg', dp: { clipNorm: 5, noiseMultiplier: 0.5 } },
    ];
    for (const strategy of strategies) {
      if (values.only && !values.only.split(',').includes(`nan:${strategy.type}`) && !values.only.split(',').includes('nan')) continue;
      const r = await simulate({
        ...common, sites: 6, rounds: 2, out: join(out, 'nan'), runId: `nan-${strategy.type}`, strategyConfig: strategy, minSites: 5,
        wrapLauncher: (launch, store) => tamperingLauncher(launch, store, 'site-6', (v, name) => { if (name === 'head.bias') v[0] = Number.NaN; }),
      });
      console.log(JSON.stringify({
        check: 'nan-update', strategy, sender: 'site-6', status: r.status, cause: r.cause,
        rejectedPerRound: r.report.rounds.map((x) => x.rejected.map((j) => `${j.siteId} ${j.reasons.map((reason) => reason.split(':')[0]).join(',')}`)),
        acceptedPerRound: r.report.rounds.map((x) => x.accepted.length),
        heldOut: r.federatedMetric, finite: r.report.rounds.every((x) => Number.isFinite(x.testMetric)), seconds: Math.round(r.seconds),
      }));
    }
  }
} finally {
  await rm(out, { recursive: true, force: true });
}
