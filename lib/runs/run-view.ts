// The one view of a run that every front end renders (`fedrad run status|watch`, `fedrad simulate`):
// finished rounds from lineage, the round in progress from workflow events, and the best model.
// Pure: the adapters (Step Functions + S3, a local folder) fetch; this module only folds.
import type { Lineage } from '../schemas/lineage.js';
import { type BestModel, selectBestModel } from '../federation/best-model.js';
import { metricOf } from '../federation/report.js';

export { type BestModel, selectBestModel };
import type { WorkflowEvent } from '../workflow/local-runner.js';

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'stopped' | 'timed-out';
export type SiteState = 'queued' | 'runnable' | 'training' | 'uploaded' | 'validated' | 'rejected' | 'failed';

export interface SiteCell {
  state: SiteState;
  /** why it was rejected or failed (bounded, escaped), or the site's metric once validated */
  detail?: string;
  startedAt?: number;
  seconds?: number;
}

export interface RoundView {
  /** the model the round produces (round r trains on model r-1) */
  round: number;
  sites: Record<string, SiteCell>;
  /** the incoming global model's metric, sample-weighted over the accepted sites' validation splits */
  metric?: number;
  /** central DP: the run's epsilon after this round */
  epsilon?: number;
  modelSha256?: string;
  done: boolean;
  startedAt?: number;
  seconds?: number;
}

export interface RunView {
  runId: string;
  source: 'aws' | 'local';
  status: RunStatus;
  metric: string;
  roundsPlanned?: number;
  sites: string[];
  strategy?: string;
  startedAt?: string;
  stoppedAt?: string;
  rounds: RoundView[];
  best?: BestModel;
  error?: string;
  cause?: string;
}

/** Bounds and escapes text that came from a file or a service (reasons, causes) for one terminal line. */
export function clean(text: string, max = 120): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

const round4 = (v: number) => Math.round(v * 1e4) / 1e4;

/** A finished round as lineage records it. */
export function roundFromLineage(l: Lineage): RoundView {
  const sites: Record<string, SiteCell> = {};
  for (const s of l.sites) {
    if (s.status === 'accepted') {
      const m = metricOf(s.globalMetrics);
      sites[s.siteId] = { state: 'validated', ...(m ? { detail: m[1].toFixed(3) } : {}), ...(s.trainingSeconds !== undefined ? { seconds: s.trainingSeconds } : {}) };
    } else if (s.status === 'rejected') sites[s.siteId] = { state: 'rejected', detail: clean(s.reasons.map((r) => `${r.code}: ${r.message}`).join('; ')) };
    else if (s.status === 'failed') sites[s.siteId] = { state: 'failed', detail: clean([s.error, s.cause].filter(Boolean).join(': ')) };
    else sites[(s as { siteId: string }).siteId] = { state: 'failed', detail: clean(String((s as { status: unknown }).status)) };
  }
  const m = metricOf(l.parentMetrics);
  return { round: l.round, sites, done: true, modelSha256: l.modelSha256, ...(m ? { metric: round4(m[1]) } : {}), ...(l.privacy ? { epsilon: l.privacy.epsilon } : {}) };
}

/**
 * What happens during a run, as the local runner reports it and as a Step Functions execution's
 * history reads: the runner's events, plus the queue states only Batch has, each optionally timed.
 */
export type RunEvent =
  | (WorkflowEvent & { at?: number })
  | { type: 'job-queued' | 'job-runnable'; siteId: string; round: number; at?: number; jobId?: string };

export interface ViewBase {
  runId: string;
  source: 'aws' | 'local';
  status: RunStatus;
  metric?: string;
  roundsPlanned?: number;
  sites?: string[];
  strategy?: string;
  startedAt?: string;
  stoppedAt?: string;
  error?: string;
  cause?: string;
}

/** Builds the view from what is stored (lineage of finished rounds) and what is in flight (events). */
export function buildRunView(base: ViewBase, lineages: Lineage[], events: RunEvent[] = [], now = Date.now()): RunView {
  const sorted = [...lineages].sort((a, b) => a.round - b.round);
  const metric = base.metric ?? (sorted.some((l) => 'dice' in l.parentMetrics) ? 'dice' : 'accuracy');
  const view: RunView = {
    ...base,
    metric,
    sites: base.sites ?? [...new Set(sorted.flatMap((l) => l.sites.map((s) => s.siteId)))].sort(),
    strategy: base.strategy ?? sorted.at(-1)?.strategy.type,
    rounds: sorted.map(roundFromLineage),
  };
  for (const e of events) applyEvent(view, e, now);
  const best = selectBestModel(sorted);
  if (best) view.best = best;
  return view;
}

function roundOf(view: RunView, round: number, now: number): RoundView {
  let r = view.rounds.find((x) => x.round === round);
  if (!r) {
    r = { round, sites: Object.fromEntries(view.sites.map((s) => [s, { state: 'queued' as SiteState }])), done: false, startedAt: now };
    view.rounds.push(r);
    view.rounds.sort((a, b) => a.round - b.round);
  }
  return r;
}

/**
 * Folds one workflow event into the view. Events name the round a job trains on (model r-1 for
 * round r); finished rounds from lineage are never overwritten by a late event.
 */
export function applyEvent(view: RunView, e: RunEvent, now = Date.now()): void {
  if (e.type === 'run-prepared') {
    const o = e.output as { runId?: string; rounds?: number; sites?: Array<{ siteId: string }>; strategy?: { type: string } } | undefined;
    if (o?.runId) view.runId = o.runId;
    if (o?.rounds) view.roundsPlanned = o.rounds;
    if (o?.sites?.length) view.sites = o.sites.map((s) => s.siteId);
    if (o?.strategy?.type) view.strategy ??= o.strategy.type;
    return;
  }
  if (e.type === 'aggregation-job') return;
  if (e.type === 'round-finished') {
    // the round machine's output: the next round's state, with the round just aggregated
    const last = (e.output as { lastRound?: { round: number; modelSha256: string; metrics: Record<string, number> } | null } | undefined)?.lastRound;
    if (!last) return;
    const r = view.rounds.find((x) => x.round === last.round + 1); // lastRound counts from 0, like the jobs
    if (!r || r.done) return;
    const m = metricOf(last.metrics);
    Object.assign(r, { done: true, modelSha256: last.modelSha256, ...(m ? { metric: round4(m[1]) } : {}), ...(r.startedAt !== undefined ? { seconds: ((e.at ?? now) - r.startedAt) / 1000 } : {}) });
    // the metric scores the model this round trained on (model r-1), as selectBestModel counts it
    if (m && Number.isFinite(m[1]) && (!view.best || m[1] >= view.best.metric)) {
      const accepted = Object.values(r.sites).filter((c) => c.state === 'validated').length;
      view.best = { round: r.round - 1, metric: m[1], modelSha256: view.rounds.find((x) => x.round === r.round - 1)?.modelSha256 ?? '', basis: `${m[0]} on the validation splits of the ${accepted} site(s) that trained on it in round ${r.round}, weighted by sample count` };
    }
    return;
  }
  if (e.type === 'job-queued' || e.type === 'job-runnable' || e.type === 'job-started') {
    const r = roundOf(view, e.round + 1, e.at ?? now);
    if (r.done) return;
    if (!view.sites.includes(e.siteId)) view.sites.push(e.siteId);
    const state: SiteState = e.type === 'job-queued' ? 'queued' : e.type === 'job-runnable' ? 'runnable' : 'training';
    // a site's clock starts when it is queued (the cloud) or its job starts (locally)
    r.sites[e.siteId] = { state, startedAt: r.sites[e.siteId]?.startedAt ?? e.at ?? now };
    return;
  }
  const r = roundOf(view, e.round + 1, e.at ?? now);
  if (r.done) return;
  const cell = r.sites[e.siteId] ?? { state: 'queued' };
  const at = e.at ?? now;
  const seconds = cell.startedAt !== undefined ? (at - cell.startedAt) / 1000 : undefined;
  if (e.type === 'job-finished') {
    r.sites[e.siteId] = e.ok ? { state: 'uploaded', startedAt: cell.startedAt, seconds } : { state: 'failed', detail: clean(e.error ?? 'the training job failed'), seconds };
  } else if (e.type === 'site-validated') {
    const rejected = e.status === 'rejected';
    const reasons = (e as { reasons?: string[] }).reasons ?? [];
    r.sites[e.siteId] = { state: rejected ? 'rejected' : 'validated', ...(rejected ? { detail: clean(reasons.join('; ') || 'rejected by the update gate') } : {}), seconds: cell.seconds };
  }
}
