// The run report: per round, the sites' outcomes and metrics, as JSON and as one HTML page with an
// inline SVG chart (opens offline, no scripts, no external assets).
import type { Lineage } from '../schemas/lineage.js';
import { type BestModel, metricOf } from './best-model.js';

export { metricOf };

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
  /** each accepted site's training samples, training time, and its local model's metric on its validation split */
  samples?: Record<string, number>;
  trainingSeconds?: Record<string, number>;
  localMetrics?: Record<string, number>;
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
  /** the model to use: best sites' weighted validation metric (see best-model.ts) */
  best?: BestModel;
  /** the same data trained centrally and by each site alone, on the held-out test set (simulate) */
  baselines?: { centralized: number | null; siteAloneMean: number | null; siteAlone: Record<string, number> };
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
    samples: Object.fromEntries(l.sites.flatMap((s) => (s.status === 'accepted' ? [[s.siteId, s.sampleCount]] : []))),
    trainingSeconds: Object.fromEntries(l.sites.flatMap((s) => (s.status === 'accepted' && s.trainingSeconds !== undefined ? [[s.siteId, s.trainingSeconds]] : []))),
    localMetrics: Object.fromEntries(l.sites.flatMap((s) => { const m = s.status === 'accepted' ? metricOf(s.localMetrics) : undefined; return m ? [[s.siteId, m[1]]] : []; })),
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
  const xEnd = Math.max(1, ...report.rounds.map((r) => r.round));
  const b = report.baselines;
  if (b?.centralized != null) series.push({ name: 'centralized (test)', color: '#2ca02c', width: 1.5, dash: '2 3', points: [[0, b.centralized], [xEnd, b.centralized]] });
  if (b?.siteAloneMean != null) series.push({ name: 'site alone, mean (test)', color: '#d62728', width: 1.5, dash: '2 3', points: [[0, b.siteAloneMean], [xEnd, b.siteAloneMean]] });
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
  const best = report.best ? `<line x1="${x(report.best.round)}" x2="${x(report.best.round)}" y1="${pad.t}" y2="${H - pad.b}" stroke="#9467bd" stroke-dasharray="1 3"/><text x="${x(report.best.round) + 4}" y="${pad.t + 10}" font-size="11" fill="#9467bd">best</text>` : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(report.metric)} per global model">${grid}${ticks}${best}<text x="${(W - pad.r + pad.l) / 2}" y="${H - 6}" text-anchor="middle" font-size="12">global model (round)</text>${lines.join('')}</svg>`;
}

const f4 = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(4));

/** The headline: what a researcher asks first — which model, how good, and against what. */
function headline(report: RunReport): string {
  const last = report.rounds.at(-1);
  const b = report.baselines;
  const rows: Array<[string, string, string]> = [];
  if (last?.testMetric !== undefined) rows.push(['federated (final model, held-out test)', f4(last.testMetric), `model ${last.round}`]);
  if (b) {
    rows.push(['centralized (all sites\' data pooled, held-out test)', f4(b.centralized), 'upper reference']);
    rows.push(['each site alone, mean (held-out test)', f4(b.siteAloneMean), Object.entries(b.siteAlone).map(([s, v]) => `${esc(s)} ${v.toFixed(3)}`).join(', ')]);
  }
  if (report.best) rows.push([`best model by the sites' validation (${esc(report.metric)})`, f4(report.best.metric), `model ${report.best.round}: ${esc(report.best.basis)}`]);
  if (!rows.length) return '';
  return `<section id="headline"><h2>Result</h2><table class="headline"><tbody>${rows.map(([a, v, c]) => `<tr><th>${a}</th><td class="num">${v}</td><td>${c}</td></tr>`).join('')}</tbody></table></section>`;
}

/** Where each round's time went: one bar per accepted site (its training job's time). */
function timeline(report: RunReport): string {
  const sites = [...new Set(report.rounds.flatMap((r) => Object.keys(r.trainingSeconds ?? {})))].sort();
  if (!sites.length) return '';
  const max = Math.max(...report.rounds.flatMap((r) => Object.values(r.trainingSeconds ?? {})), 1e-9);
  const rowH = 14;
  const W = 780;
  const left = 90;
  let y = 10;
  const parts: string[] = [];
  for (const r of report.rounds) {
    parts.push(`<text x="0" y="${y + 11}" font-size="12">round ${r.round}</text>`);
    for (const [i, s] of sites.entries()) {
      const v = r.trainingSeconds?.[s];
      const state = r.failed.some((f) => f.siteId === s) ? 'failed' : r.rejected.some((f) => f.siteId === s) ? 'rejected' : undefined;
      const w = v === undefined ? 0 : Math.max(1, (v / max) * (W - left - 160));
      parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 3}" fill="${COLORS[i % COLORS.length]}"/><text x="${left + w + 4}" y="${y + 10}" font-size="10">${esc(s)} ${v === undefined ? esc(state ?? '-') : `${v.toFixed(1)} s`}</text>`);
      y += rowH;
    }
    y += 6;
  }
  return `<section id="timeline"><h2>Timeline</h2><p>Each site's training job per round (seconds, as the site reported them); a round waits for its slowest site, then validation and aggregation.</p><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y + 4}" viewBox="0 0 ${W} ${y + 4}" role="img" aria-label="training time per site and round">${parts.join('')}</svg></section>`;
}

/** Each site's local model on its own validation split, round by round. */
function localCurves(report: RunReport): string {
  const sites = [...new Set(report.rounds.flatMap((r) => Object.keys(r.localMetrics ?? {})))].sort();
  if (!sites.length) return '';
  const W = 780;
  const H = 200;
  const pad = { l: 50, r: 160, t: 10, b: 24 };
  const xMax = Math.max(1, ...report.rounds.map((r) => r.round));
  const x = (v: number) => pad.l + ((v - 1) / Math.max(1, xMax - 1)) * (W - pad.l - pad.r);
  const y = (v: number) => pad.t + (1 - v) * (H - pad.t - pad.b);
  const lines = sites.map((s, i) => {
    const pts = report.rounds.filter((r) => r.localMetrics?.[s] !== undefined).map((r) => `${x(r.round).toFixed(1)},${y(r.localMetrics![s]).toFixed(1)}`);
    return `<polyline points="${pts.join(' ')}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5"/><text x="${W - pad.r + 10}" y="${pad.t + 12 + i * 16}" font-size="12" fill="${COLORS[i % COLORS.length]}">${esc(s)}</text>`;
  });
  const axis = [0, 0.5, 1].map((v) => `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${pad.l - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${v.toFixed(1)}</text>`).join('');
  return `<section id="local-curves"><h2>Local models</h2><p>Each site's locally trained model, ${esc(report.metric)} on its own validation split, per round.</p><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="local model metric per site">${axis}${lines.join('')}</svg></section>`;
}

/** The data each site contributed: samples per round it was accepted, and how often it was left out. */
function contributions(report: RunReport): string {
  const sites = [...new Set(report.rounds.flatMap((r) => [...r.accepted, ...r.rejected.map((x) => x.siteId), ...r.failed.map((x) => x.siteId)]))].sort();
  if (!sites.length) return '';
  const rows = sites.map((s) => {
    const samples = report.rounds.map((r) => r.samples?.[s]).filter((v): v is number => v !== undefined);
    const weights = report.rounds.map((r) => r.weights[s]).filter((v): v is number => v !== undefined);
    const count = (k: 'accepted' | 'rejected' | 'failed') => report.rounds.filter((r) => (k === 'accepted' ? r.accepted.includes(s) : r[k].some((x) => x.siteId === s))).length;
    return `<tr><td>${esc(s)}</td><td class="num">${samples.length ? Math.max(...samples) : '-'}</td><td class="num">${weights.length ? (weights.reduce((a, b) => a + b, 0) / weights.length).toFixed(3) : '-'}</td><td class="num">${count('accepted')}</td><td class="num">${count('rejected')}</td><td class="num">${count('failed')}</td></tr>`;
  });
  return `<section id="data"><h2>Data contributed</h2><table><thead><tr><th>site</th><th>training samples</th><th>mean weight</th><th>rounds accepted</th><th>rejected</th><th>failed</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function rejections(report: RunReport): string {
  const rows = report.rounds.flatMap((r) => [
    ...r.rejected.map((x) => `<tr><td>${r.round}</td><td>${esc(x.siteId)}</td><td>rejected</td><td>${esc(x.reasons.join('; ').slice(0, 600))}</td></tr>`),
    ...r.failed.map((x) => `<tr><td>${r.round}</td><td>${esc(x.siteId)}</td><td>failed</td><td>${esc(x.error.slice(0, 600))}</td></tr>`),
  ]);
  return `<section id="rejections"><h2>Rejections and failures</h2>${rows.length ? `<table><thead><tr><th>round</th><th>site</th><th>outcome</th><th>why</th></tr></thead><tbody>${rows.join('')}</tbody></table>` : '<p>Every site\'s update was accepted in every round.</p>'}</section>`;
}

export function renderReportHtml(report: RunReport): string {
  const rows = report.rounds.map((r) => `<tr${report.best?.round === r.round ? ' class="best"' : ''}><td>${r.round}${report.best?.round === r.round ? ' (best)' : ''}</td><td>${r.accepted.length}</td><td>${r.rejected.length}</td><td>${r.failed.length}</td><td>${r.globalMetric?.toFixed(4) ?? '-'}</td><td>${r.testMetric?.toFixed(4) ?? '-'}</td><td>${r.testRocAuc?.toFixed(4) ?? '-'}</td><td>${esc([r.strategy, describeStrategyReport(r.strategyReport)].filter(Boolean).join(': '))}</td><td>${r.privacy ? `${r.privacy.epsilon.toFixed(3)} (δ ${r.privacy.delta})` : '-'}</td><td>${esc(Object.entries(r.siteMetrics).map(([s, v]) => `${s} ${v.toFixed(3)}`).join(', '))}</td><td><code>${r.modelSha256.slice(0, 12)}</code></td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>fedrad run ${esc(report.runId)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left;vertical-align:top}th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}tr.best td{background:#f3ecfa}section{margin:1.5rem 0}svg{max-width:100%;height:auto}.wide{overflow-x:auto}</style></head>
<body><h1>fedrad run <code>${esc(report.runId)}</code></h1>
<p>Status: <b>${report.status}</b>${report.error ? ` — ${esc(report.error)}` : ''}. Metric: ${esc(report.metric)}. Final model SHA-256: <code>${esc(report.finalModelSha256 ?? '-')}</code>.${report.best ? ` Best model: <b>${report.best.round}</b>, SHA-256 <code>${esc(report.best.modelSha256)}</code>.` : ''}</p>
${(report.advice ?? []).map((a) => `<p><b>Advice:</b> ${esc(a)}.</p>`).join('\n')}
${headline(report)}
<section id="chart"><h2>Global model per round</h2>
${chart(report)}
<p>Sites' lines: each site's ${esc(report.metric)} of the incoming global model on its own validation split; the thick line weights them by sample count. The dashed line, when present, scores each round's resulting model on the held-out test set; dotted lines are the centralized and site-alone baselines on the same test set.</p></section>
${timeline(report)}
${localCurves(report)}
${contributions(report)}
${rejections(report)}
<section id="rounds"><h2>Rounds</h2><div class="wide"><table><thead><tr><th>model</th><th>accepted</th><th>rejected</th><th>failed</th><th>global (sites)</th><th>global (test)</th><th>test ROC AUC</th><th>strategy</th><th>privacy ε</th><th>per site</th><th>SHA-256</th></tr></thead>
<tbody>
${rows}
</tbody></table></div></section></body></html>
`;
}
