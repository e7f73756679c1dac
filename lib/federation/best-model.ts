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
  let best: BestModel | undefined;
  for (const l of [...lineages].sort((a, b) => a.round - b.round)) best = bestAfter(best, l);
  return best;
}

/**
 * The best model after one more record: the previous record's best, or the model this record's
 * round trained on (scored by its sites), whichever is higher (ties: the later). Lineage records
 * are written once, so each carries the best known when it was written.
 */
export function bestAfter(previous: BestModel | undefined, record: Pick<Lineage, 'round' | 'parentRound' | 'parentSha256' | 'parentMetrics' | 'sites'>): BestModel | undefined {
  const m = metricOf(record.parentMetrics);
  if (!m || !Number.isFinite(m[1]) || (previous && previous.metric > m[1])) return previous;
  const accepted = record.sites.filter((s) => s.status === 'accepted').length;
  return { round: record.parentRound, metric: m[1], modelSha256: record.parentSha256, basis: `${m[0]} on the validation splits of the ${accepted} site(s) that trained on it in round ${record.round}, weighted by sample count` };
}
