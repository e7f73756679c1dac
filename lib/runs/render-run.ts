// Text renderings of the run view: the live frame `fedrad run watch` and `fedrad simulate` redraw,
// and the tables of `run list` and `run models`. Pure: width and clock come in, text goes out.
import type { RunView, SiteCell } from './run-view.js';

export interface FrameOptions {
  /** terminal columns; lines are cut to fit (the frame is redrawn on resize) */
  width?: number;
  now?: number;
}

const f4 = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(4));
const secs = (s: number | undefined) => (s === undefined ? '' : s < 60 ? `${s.toFixed(0)}s` : `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`);

function cellText(c: SiteCell | undefined, now: number): string {
  if (!c) return '';
  if (c.state === 'training' && c.startedAt !== undefined) return `training ${secs((now - c.startedAt) / 1000)}`;
  if (c.state === 'validated') return ['validated', c.detail, secs(c.seconds)].filter(Boolean).join(' ');
  if (c.state === 'uploaded') return ['uploaded', secs(c.seconds)].filter(Boolean).join(' ');
  return c.state;
}

/** columns padded to their widest cell; the first right-aligned when it holds numbers (rounds, models) */
function table(head: string[], rows: string[][], numericFirst = true): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 && numericFirst ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)];
}

export function headline(v: RunView, now = Date.now()): string {
  const done = v.rounds.filter((r) => r.done).length;
  const start = v.startedAt ? Date.parse(v.startedAt) : Number.NaN;
  const end = v.stoppedAt ? Date.parse(v.stoppedAt) : now;
  const parts = [`run ${v.runId}`, v.status.toUpperCase(), v.strategy, `rounds ${done}/${v.roundsPlanned ?? '?'}`, `${v.sites.length} sites`, Number.isFinite(start) && end >= start ? secs((end - start) / 1000) : undefined];
  if (v.best) parts.push(`best model ${v.best.round} (${v.metric} ${v.best.metric.toFixed(4)})`);
  return parts.filter(Boolean).join(' · ');
}

/** One frame of the live view: headline, rounds x sites, then why sites were rejected or failed. */
export function renderRunFrame(v: RunView, o: FrameOptions = {}): string {
  const now = o.now ?? Date.now();
  const width = Math.max(40, o.width ?? 120);
  const privacy = v.rounds.some((r) => r.epsilon !== undefined);
  const head = ['round', v.metric, ...(privacy ? ['epsilon'] : []), ...v.sites];
  const rows = v.rounds.map((r) => [String(r.round), f4(r.metric), ...(privacy ? [f4(r.epsilon)] : []), ...v.sites.map((s) => cellText(r.sites[s], now))]);
  const lines = [headline(v, now), '', ...table(head, rows)];
  const problems = v.rounds.flatMap((r) => Object.entries(r.sites).filter(([, c]) => (c.state === 'rejected' || c.state === 'failed') && c.detail).map(([s, c]) => `round ${r.round} ${s} ${c.state}: ${c.detail}`));
  if (problems.length) lines.push('', ...problems);
  if (v.best) lines.push('', `best: model ${v.best.round}, ${v.metric} ${v.best.metric.toFixed(4)} (${v.best.basis})`);
  if (v.error) lines.push('', `${v.status}: ${v.error}${v.cause ? `: ${v.cause}` : ''}`);
  return lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l)).join('\n');
}

export interface RunListItem {
  runId: string;
  status: string;
  startedAt?: string;
  roundsDone?: number;
  bestMetric?: number;
}

export function renderRunList(items: RunListItem[]): string {
  if (!items.length) return 'no runs';
  return table(['run', 'status', 'started', 'rounds done', 'best metric'], items.map((i) => [i.runId, i.status, i.startedAt ?? '-', i.roundsDone === undefined ? '-' : String(i.roundsDone), f4(i.bestMetric)]), false).join('\n');
}

export interface ModelRow {
  round: number;
  sha256: string;
  /** the sites' weighted validation metric of this model (scored in the next round) */
  metric?: number;
  best: boolean;
}

export function renderModels(metric: string, rows: ModelRow[]): string {
  return table(['model', `validation ${metric}`, 'best', 'sha256'], rows.map((r) => [String(r.round), f4(r.metric), r.best ? 'best' : '', r.sha256])).join('\n');
}
