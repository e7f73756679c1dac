// Finish run: collect every round's lineage into the run report (JSON and HTML) in the models
// bucket, and return a summary small enough for the workflow's output.
import { LineageSchema } from '../schemas/lineage.js';
import { type BlobStore, getJson } from '../storage/blob-store.js';
import { keys } from '../storage/keys.js';
import type { RoundState } from './round-state.js';
import { selectBestModel } from './best-model.js';
import { renderReportHtml, roundReportFromLineage, type RunReport } from './report.js';

export interface RunSummary {
  runId: string;
  rounds: number;
  finalModelKey: string;
  finalModelSha256: string;
  reportKey: string;
  metric: string;
  metricPerRound: Array<number | null>;
}

export async function loadRunReport(store: BlobStore, modelsBucket: string, runId: string, rounds: number): Promise<RunReport> {
  const reports = [];
  const lineages = [];
  let metric = 'accuracy';
  for (let r = 1; r <= rounds; r++) {
    const lineage = LineageSchema.parse(await getJson(store, modelsBucket, keys.lineage(runId, r)));
    if ('dice' in lineage.parentMetrics) metric = 'dice';
    lineages.push(lineage);
    reports.push(roundReportFromLineage(lineage));
  }
  const best = selectBestModel(lineages);
  const advice = ((await getJson(store, modelsBucket, keys.run(runId))) as { advice?: string[] }).advice ?? [];
  return { runId, metric, rounds: reports, finalModelSha256: reports.at(-1)?.modelSha256, status: 'succeeded', ...(advice.length ? { advice } : {}), ...(best ? { best } : {}) };
}

export async function finishRun(store: BlobStore, state: RoundState): Promise<RunSummary> {
  const report = await loadRunReport(store, state.modelsBucket, state.runId, state.round);
  await store.put(state.modelsBucket, keys.report(state.runId, 'report.json'), `${JSON.stringify(report, null, 1)}\n`, { contentType: 'application/json' });
  await store.put(state.modelsBucket, keys.report(state.runId, 'index.html'), renderReportHtml(report), { contentType: 'text/html' });
  // Lineage records are written once, before later rounds can say which model is best: the run's
  // choice is recorded beside them, from them alone.
  await store.put(state.modelsBucket, keys.report(state.runId, 'best.json'), `${JSON.stringify(report.best ?? null)}\n`, { contentType: 'application/json' });
  return {
    runId: state.runId,
    rounds: state.round,
    finalModelKey: state.globalModelKey,
    finalModelSha256: state.globalModelSha256,
    reportKey: keys.report(state.runId, 'index.html'),
    metric: report.metric,
    metricPerRound: report.rounds.map((r) => r.globalMetric ?? null),
  };
}
