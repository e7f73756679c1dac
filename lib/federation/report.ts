// The run report: per round, the sites' outcomes and metrics, as JSON and as one HTML page with an
// inline SVG chart (opens offline, no scripts, no external assets).
import type { Lineage } from '../schemas/lineage.js';

export interface RoundReport {
  /** the model index the round produced */
  round: number;
  modelSha256: string;
  accepted: string[];
  rejected: Array<{ siteId: string; reasons: string[] }>;
  failed: Array<{ siteId: string; error: string }>;
  /** metric of the round's incoming global model, sample-weighted over the accepted sites */
  globalMetric?: number;
  /** metric of the incoming global model on each site's validation split */
  siteMetrics: Record<string, number>;
  /** metric of the round's resulting model on a held-out test set, when the caller has one */
  testMetric?: number;
  /** and its ROC AUC there (classification): ranking quality whatever the decision threshold */
  testRocAuc?: number;
  /** the strategy that made this model, and each accepted site's weight in it (0: left out by Krum) */
  strategy: string;
  weights: Record<string, number>;
  /** what the strategy did beyond averaging (Krum's selection, clipped sites, DP noise), as lineage records it */
  strategyReport?: Record<string, unknown>;
  /** central DP: the run's privacy spent up to and including this round */
  privacy?: { epsilon: number; delta: number; noiseMultiplier: number; clipNorm: number };
}

/** The strategy's own report in a few words, for tables: "selected site-2; clipped site-1". */
export function describeStrategyReport(r: Record<string, unknown> | undefined): string {
  if (!r) return '';
  const parts: string[] = [];
  const list = (v: unknown) => (Array.isArray(v) ? v.join(', ') : String(v));
  if (r.selected !== undefined) parts.push(`selected ${list(r.selected)}`);
  if (Array.isArray(r.clipped) && r.clipped.length) parts.push(`clipped ${list(r.clipped)}`);
  if (r.trimmedPerSide !== undefined) parts.push(`trimmed ${r.trimmedPerSide} a side`);
  if (typeof r.noiseStd === 'number') parts.push(`noise sd ${r.noiseStd.toPrecision(3)}`);
  return parts.join('; ');
}

export interface RunReport {
  runId: string;
  metric: string;
  rounds: RoundReport[];
  finalModelSha256?: string;
  status: 'succeeded' | 'failed';
  error?: string;
  /** what the run record advises about the run's settings (prepare run's `runAdvice`) */
  advice?: string[];
}

export function metricOf(metrics: Record<string, number>): [string, number] | undefined {
  for (const k of ['accuracy', 'dice']) if (k in metrics) return [k, metrics[k]];
  return undefined;
}

export function roundReportFromLineage(l: Lineage): RoundReport {
  const siteMetrics: Record<string, number> = {};
  for (const s of l.sites) if (s.status === 'accepted') {
    const m = metricOf(s.globalMetrics);
    if (m) siteMetrics[s.siteId] = m[1];
  }
  return {
    round: l.round,
    modelSha256: l.modelSha256,
    accepted: l.sites.filter((s) => s.status === 'accepted').map((s) => s.siteId),
    rejected: l.sites.flatMap((s) => (s.status === 'rejected' ? [{ siteId: s.siteId, reasons: s.reasons.map((r) => `${r.code}: ${r.message}`) }] : [])),
    failed: l.sites.flatMap((s) => (s.status === 'failed' ? [{ siteId: s.siteId, error: s.error }] : [])),
    globalMetric: metricOf(l.parentMetrics)?.[1],
    siteMetrics,
    strategy: l.strategy.type,
    weights: Object.fromEntries(l.sites.flatMap((s) => (s.status === 'accepted' ? [[s.siteId, s.weight]] : []))),
    ...(l.strategyReport && Object.keys(l.strategyReport).length ? { strategyReport: l.strategyReport } : {}),
    ...(l.privacy ? { privacy: { epsilon: l.privacy.epsilon, delta: l.privacy.delta, noiseMultiplier: l.privacy.noiseMultiplier, clipNorm: l.privacy.clipNorm } } : {}),
  };
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function chart(report: RunReport): string {
  const W = 780;
  const H = 320;
  const pad = { l: 50, r: 230, t: 20, b: 40 };
  const series: Array<{ name: string; points: Array<[number, number]>; color: string; width: number; dash?: string }> = [];
  const sites = [...new Set(report.rounds.flatMap((r) => Object.keys(r.siteMetrics)))].sort();
  sites.forEach((s, i) => series.push({ name: s, color: COLORS[i % COLORS.length], width: 1.5, points: report.rounds.filter((r) => s in r.siteMetrics).map((r) => [r.round - 1, r.siteMetrics[s]]) }));
  series.push({ name: 'global (sites, weighted)', color: '#000', width: 3, points: report.rounds.filter((r) => r.globalMetric !== undefined).map((r) => [r.round - 1, r.globalMetric!]) });
  if (report.rounds.some((r) => r.testMetric !== undefined)) series.push({ name: 'global (held-out test)', color: '#000', width: 2, dash: '6 4', points: report.rounds.filter((r) => r.testMetric !== undefined).map((r) => [r.round, r.testMetric!]) });
  const all = series.flatMap((s) => s.points);
  const xMax = Math.max(1, ...all.map((p) => p[0]));
  const yMin = Math.min(0.5, ...all.map((p) => p[1]));
  const x = (v: number) => pad.l + (v / xMax) * (W - pad.l - pad.r);
  const y = (v: number) => pad.t + (1 - (v - yMin) / (1 - yMin || 1)) * (H - pad.t - pad.b);
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => yMin + f * (1 - yMin)).map((v) => `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${pad.l - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${v.toFixed(2)}</text>`).join('');
  const ticks = Array.from({ length: xMax + 1 }, (_, i) => `<text x="${x(i)}" y="${H - pad.b + 16}" text-anchor="middle" font-size="11">${i}</text>`).join('');
  const lines = series.map((s, i) => {
    const path = s.points.map(([a, b], k) => `${k ? 'L' : 'M'}${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ');
    const dots = s.points.map(([a, b]) => `<circle cx="${x(a).toFixed(1)}" cy="${y(b).toFixed(1)}" r="2.5" fill="${s.color}"/>`).join('');
    const legend = `<line x1="${W - pad.r + 10}" x2="${W - pad.r + 30}" y1="${pad.t + 10 + i * 18}" y2="${pad.t + 10 + i * 18}" stroke="${s.color}" stroke-width="${s.width}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/><text x="${W - pad.r + 36}" y="${pad.t + 14 + i * 18}" font-size="12">${esc(s.name)}</text>`;
    return `<path d="${path}" fill="none" stroke="${s.color}" stroke-width="${s.width}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>${dots}${legend}`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="${esc(report.metric)} per global model">${grid}${ticks}<text x="${(W - pad.r + pad.l) / 2}" y="${H - 6}" text-anchor="middle" font-size="12">global model (round)</text>${lines.join('')}</svg>`;
}

export function renderReportHtml(report: RunReport): string {
  const rows = report.rounds.map((r) => `<tr><td>${r.round}</td><td>${r.accepted.length}</td><td>${r.rejected.length}</td><td>${r.failed.length}</td><td>${r.globalMetric?.toFixed(4) ?? '-'}</td><td>${r.testMetric?.toFixed(4) ?? '-'}</td><td>${r.testRocAuc?.toFixed(4) ?? '-'}</td><td>${esc([r.strategy, describeStrategyReport(r.strategyReport)].filter(Boolean).join(': '))}</td><td>${r.privacy ? `${r.privacy.epsilon.toFixed(3)} (δ ${r.privacy.delta})` : '-'}</td><td>${esc(Object.entries(r.siteMetrics).map(([s, v]) => `${s} ${v.toFixed(3)}`).join(', '))}</td><td>${esc([...r.rejected.map((x) => `${x.siteId}: ${x.reasons.join('; ')}`), ...r.failed.map((x) => `${x.siteId}: ${x.error}`)].join(' | '))}</td><td><code>${r.modelSha256.slice(0, 12)}</code></td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fedrad run ${esc(report.runId)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left}th{background:#f4f4f4}</style></head>
<body><h1>fedrad run <code>${esc(report.runId)}</code></h1>
<p>Status: <b>${report.status}</b>${report.error ? ` — ${esc(report.error)}` : ''}. Metric: ${esc(report.metric)}. Final model SHA-256: <code>${esc(report.finalModelSha256 ?? '-')}</code>.</p>
${(report.advice ?? []).map((a) => `<p><b>Advice:</b> ${esc(a)}.</p>`).join('\n')}
${chart(report)}
<p>Sites' lines: each site's ${esc(report.metric)} of the incoming global model on its own validation split; the thick line weights them by sample count. The dashed line, when present, scores each round's resulting model on the held-out test set.</p>
<table><thead><tr><th>model</th><th>accepted</th><th>rejected</th><th>failed</th><th>global (sites)</th><th>global (test)</th><th>test ROC AUC</th><th>strategy</th><th>privacy ε</th><th>per site</th><th>rejections and failures</th><th>SHA-256</th></tr></thead>
<tbody>
${rows}
</tbody></table></body></html>
`;
}
