// Best-model selection: which global model of a run to use. Pure, from lineage alone, so the run
// report, `fedrad run models` and `fedrad run download --best` agree.
import type { Lineage } from '../schemas/lineage.js';

/** The metric a run is judged by: accuracy (classification) or Dice (segmentation). */
export function metricOf(metrics: Record<string, number>): [string, number] | undefined {
  for (const k of ['accuracy', 'dice']) if (k in metrics) return [k, metrics[k]];
  return undefined;
}

export interface BestModel {
  /** the model index (0: the initial model) */
  round: number;
  metric: number;
  modelSha256: string;
  /** how it was chosen, in words, for tables and reports */
  basis: string;
}

/**
 * The best global model: the one whose validation metric, weighted by the accepted sites' sample
 * counts, is highest. Model m is scored by the sites that train on it in round m+1 (lineage m+1's
 * parentMetrics); the last model has no such score and is not a candidate. Ties go to the later model.
 */
export function selectBestModel(lineages: Lineage[]): BestModel | undefined {
  const byRound = new Map(lineages.map((l) => [l.round, l]));
  let best: BestModel | undefined;
  for (const l of [...lineages].sort((a, b) => a.round - b.round)) {
    const m = metricOf(l.parentMetrics);
    if (!m || !Number.isFinite(m[1])) continue;
    const model = l.parentRound;
    const sha = byRound.get(model)?.modelSha256 ?? l.parentSha256;
    const accepted = l.sites.filter((s) => s.status === 'accepted').length;
    if (!best || m[1] >= best.metric) best = { round: model, metric: m[1], modelSha256: sha, basis: `${m[0]} on the validation splits of the ${accepted} site(s) that trained on it in round ${l.round}, weighted by sample count` };
  }
  return best;
}

