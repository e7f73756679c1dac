// Poisoning in a local federation: 1 of 5 sites sends its update scaled by -10 every round. The
// held-out accuracy and ROC AUC of the final global model, per strategy, against a clean FedAvg run; and a
// NaN-sending site under every strategy (rejected by the gate). One JSON line per run.
// Usage: npm run bench:poison [-- --rounds 10 --attacker site-1 --max-images 600 --clean-robust --norm batch|group --epochs 1
//   --recalibrated-on-test]  (diagnosis: each round's accuracy again after recomputing BatchNorm statistics on the test set itself)
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

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' }, attacker: { type: 'string', default: 'site-1' }, 'max-images': { type: 'string', default: '600' }, 'clean-robust': { type: 'boolean', default: false }, 'server-momentum': { type: 'string', default: '0' }, only: { type: 'string' }, norm: { type: 'string', default: 'batch' }, epochs: { type: 'string', default: '1' }, 'local-steps': { type: 'string' }, 'recalibrated-on-test': { type: 'boolean', default: false } } });
const momentum = Number(values['server-momentum']);
const rounds = Number(values.rounds);
const out = await mkdtemp(join(tmpdir(), 'fedrad-poison-'));
const common = { sites: 5, rounds, out, minImages: 100, maxImages: Number(values['max-images']), baselines: false, seed: 11, norm: values.norm as 'batch' | 'group', epochs: Number(values.epochs), localSteps: values['local-steps'] ? Number(values['local-steps']) : undefined };
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
/** What the strategy selected each round (Krum, Multi-Krum), from lineage: which sites the global model came from. */
async function selectedPerRound(r: Awaited<ReturnType<typeof simulate>>, runId: string): Promise<Array<unknown>> {
  const store = new FolderBlobStore(r.storageRoot);
  const out: unknown[] = [];
  for (const round of r.report.rounds.map((x) => x.round)) {
    const lineage = JSON.parse(new TextDecoder().decode(await store.get(r.modelsBucket, keys.lineage(runId, round)))) as { strategyReport?: { selected?: string[] } };
    out.push(lineage.strategyReport?.selected ?? null);
  }
  return out;
}
const lastMean = (values: Array<number | undefined>) => {
  const last = values.slice(-3).filter((v): v is number => v !== undefined);
  return last.length ? Math.round((last.reduce((a, b) => a + b, 0) / last.length) * 10000) / 10000 : null;
};
let clean: number | null = null;
let cleanAuc: number | null = null;
try {
  for (const [name, strategy, attacked] of runs) {
    if (values.only && name !== 'fedavg (clean)' && !values.only.split(',').includes(name)) continue;
    const r = await simulate({
      ...common, runId: name.replace(/\W+/g, '-'), strategyConfig: strategy, minSites: 5,
      wrapLauncher: attacked ? (launch, store) => tamperingLauncher(launch, store, values.attacker!, (v) => v.forEach((x, i) => (v[i] = -10 * x))) : undefined,
    });
    const metric = r.federatedMetric;
    const auc = r.report.rounds.at(-1)?.testRocAuc ?? null;
    if (name === 'fedavg (clean)') {
      clean = metric;
      cleanAuc = auc;
    }
    console.log(JSON.stringify({
      strategy: name, norm: values.norm, epochs: Number(values.epochs), localSteps: common.localSteps, serverMomentum: 'serverMomentum' in (strategy ?? {}) ? momentum : undefined, attacker: attacked ? `${values.attacker} x -10` : null, rounds, status: r.status, metric: r.metric,
      heldOut: metric, perRound: r.report.rounds.map((x) => x.testMetric),
      // the last three rounds' mean: a robust aggregate's accuracy swings round to round
      heldOutLast3: lastMean(r.report.rounds.map((x) => x.testMetric)), heldOutRocAucLast3: lastMean(r.report.rounds.map((x) => x.testRocAuc)),
      relativeToClean: clean && metric !== null ? Math.round((metric / clean) * 1000) / 1000 : null,
      heldOutRocAuc: auc, relativeRocAucToClean: cleanAuc && auc !== null ? Math.round((auc / cleanAuc) * 1000) / 1000 : null,
      rocAucPerRound: r.report.rounds.map((x) => (x.testRocAuc === undefined ? null : Math.round(x.testRocAuc * 1000) / 1000)), seconds: Math.round(r.seconds),
      ...(strategy?.type === 'krum' || strategy?.type === 'multi-krum' ? { selectedPerRound: await selectedPerRound(r, name.replace(/\W+/g, '-')) } : {}),
      ...(values['recalibrated-on-test'] ? { perRoundRecalibratedOnTest: await recalibratedAccuracy(r, name.replace(/\W+/g, '-')) } : {}),
    }));
  }
} finally {
  await rm(out, { recursive: true, force: true });
}
