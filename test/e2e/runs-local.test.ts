// `fedrad run ...` against a real local run of `fedrad simulate` (the real training job in child
// processes): one site's job fails, one site's update is NaN-tampered and rejected. The live frames
// `fedrad simulate` draws are captured on a fake terminal; the commands then read the same run.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type SimulationResult, simulate } from '../../infra/local/simulate.js';
import { tamperingLauncher } from '../../infra/local/trainers.js';
import { main } from '../../lib/cli/main.js';
import { RUN_EXIT } from '../../lib/cli/run-commands.js';
import { sha256 } from '../../lib/model/onnx-io.js';
import { LiveRun } from '../../lib/runs/live-run.js';
import type { RunView } from '../../lib/runs/run-view.js';
import { LineageSchema, type Lineage } from '../../lib/schemas/lineage.js';
import { getJson } from '../../lib/storage/blob-store.js';
import { FolderBlobStore } from '../../lib/storage/folder-store.js';
import { keys } from '../../lib/storage/keys.js';
import { checkPageInChromium } from '../support/chromium.js';
import type { RunReport } from '../../lib/federation/report.js';

let out: string;
let result: SimulationResult;
const frames: string[] = [];
let columns = 110;
let resize: () => void = () => {};
let lineages: Lineage[];

async function fedrad(...args: string[]): Promise<{ code: number; stdout: string; stderr: string; exitCode: number }> {
  let stdout = '';
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((t) => ((stderr += String(t)), true));
  process.exitCode = 0;
  try {
    const code = await main(['node', 'fedrad', ...args], { runs: { write: (t) => void (stdout += t), terminal: { isTTY: false, columns: () => 100, onResize: () => () => {} }, sleep: async () => {} } });
    return { code, stdout, stderr, exitCode: Number(process.exitCode ?? 0) };
  } finally {
    spy.mockRestore();
    process.exitCode = 0;
  }
}

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'fedrad-runs-local-'));
  const terminal = { isTTY: true, columns: () => columns, write: (t: string) => void frames.push(t), onResize: (fn: () => void) => ((resize = fn), () => {}) };
  const live = new LiveRun('watched', ['site-1', 'site-2', 'site-3', 'site-4'], 3, terminal, { minIntervalMs: 0 });
  result = await simulate({
    sites: 4, rounds: 3, minSites: 2, runId: 'watched', out, minImages: 12, maxImages: 16, testImages: 10, inputSize: 16, localSteps: 2, concurrency: 2,
    failSites: ['site-3'],
    wrapLauncher: (launch, store) => tamperingLauncher(launch, store, 'site-2', (v) => void (v[0] = Number.NaN)),
    onEvent: live.onEvent,
  });
  columns = 60;
  resize();
  live.stop(result.status);
  const store = new FolderBlobStore(result.storageRoot);
  lineages = [];
  for (let r = 1; r <= 3; r++) lineages.push(LineageSchema.parse(await getJson(store, result.modelsBucket, keys.lineage('watched', r))));
}, 240_000);

afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

const strip = (f: string) => f.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

describe('fedrad simulate draws the run live with the watch renderer', () => {
  it('shows sites training, then the rejected and the failed site with their reasons, redrawn on resize', () => {
    expect(result.status).toBe('succeeded');
    const text = frames.map(strip);
    expect(text.some((f) => /\btraining\b/.test(f))).toBe(true);
    const rejected = text.find((f) => /round 1 site-2 rejected: .*non-finite|round 1 site-2 rejected: .*NaN/i.test(f));
    expect(rejected, text.at(-1)).toBeDefined();
    expect(text.some((f) => /round 1 site-3 failed: injected failure of site site-3/.test(f))).toBe(true);
    // the frame before the resize is 110 wide, the ones after fit 60 columns
    const last = text.at(-1)!;
    expect(Math.max(...last.split('\n').map((l) => l.length))).toBeLessThanOrEqual(60);
    expect(Math.max(...text.at(-3)!.split('\n').map((l) => l.length))).toBeGreaterThan(60);
    expect(last).toMatch(/^run watched · SUCCEEDED · fedavg · rounds 3\/3/);
  });
});

describe('fedrad run ... --local', () => {
  it('status --json: every round x site, the best model by the sites\' weighted validation metric', async () => {
    const r = await fedrad('run', 'status', 'watched', '--local', out, '--json');
    expect(r.code).toBe(0);
    const view = JSON.parse(r.stdout) as RunView;
    expect(view.status).toBe('succeeded');
    expect(view.rounds.map((x) => x.round)).toEqual([1, 2, 3]);
    for (const round of view.rounds) {
      expect(round.sites['site-1'].state).toBe('validated');
      expect(round.sites['site-2'].state).toBe('rejected');
      expect(round.sites['site-3'].state).toBe('failed');
    }
    // independently: the best is the highest parentMetrics.accuracy, scoring model parentRound
    const scored = lineages.map((l) => ({ model: l.parentRound, accuracy: l.parentMetrics.accuracy }));
    const top = Math.max(...scored.map((s) => s.accuracy));
    const expected = scored.filter((s) => s.accuracy === top).at(-1)!;
    expect(view.best).toMatchObject({ round: expected.model, metric: top });
    expect(view.best!.basis).toMatch(/accuracy on the validation splits of the 2 site\(s\)/);
    // lineage carries it too: each record the best known when it was written, the last the run's
    expect(lineages.at(-1)!.best).toEqual(view.best);
    expect(lineages[0].best).toMatchObject({ round: 0, metric: lineages[0].parentMetrics.accuracy });
  });

  it('list, models and download --best agree with lineage; a changed model file is refused', async () => {
    const list = JSON.parse((await fedrad('run', 'list', '--local', out, '--json')).stdout) as Array<{ runId: string; status: string; roundsDone: number; bestMetric: number }>;
    expect(list).toEqual([expect.objectContaining({ runId: 'watched', status: 'succeeded', roundsDone: 3 })]);
    const models = JSON.parse((await fedrad('run', 'models', 'watched', '--local', out, '--json')).stdout) as { best: { round: number }; models: Array<{ round: number; sha256: string; best: boolean; metric?: number }> };
    expect(models.models.map((m) => m.round)).toEqual([0, 1, 2, 3]);
    expect(models.models.map((m) => m.sha256)).toEqual([lineages[0].parentSha256, ...lineages.map((l) => l.modelSha256)]);
    expect(models.models.filter((m) => m.best).map((m) => m.round)).toEqual([models.best.round]);
    expect(models.models[3].metric).toBeUndefined(); // the last model has not been scored by sites
    expect(list[0].bestMetric).toBe(models.models[models.best.round].metric);

    const file = join(out, 'best.onnx');
    const dl = JSON.parse((await fedrad('run', 'download', 'watched', '--best', '--out', file, '--local', out, '--json')).stdout) as { round: number; sha256: string };
    expect(dl.round).toBe(models.best.round);
    expect(sha256(await readFile(file))).toBe(models.models[models.best.round].sha256);

    const key = join(result.storageRoot, result.modelsBucket, keys.globalModel('watched', 2));
    const original = await readFile(key);
    await writeFile(key, Buffer.concat([original, Buffer.from([0])]));
    try {
      const bad = await fedrad('run', 'download', 'watched', '--round', '2', '--out', join(out, 'x.onnx'), '--local', out);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(`global model 2 of run watched has SHA-256 ${sha256(Buffer.concat([original, Buffer.from([0])]))}, but lineage records ${lineages[1].modelSha256}`);
    } finally {
      await writeFile(key, original);
    }
  });

  it('watch exits with the run outcome; report saves the offline page; errors name what to do', async () => {
    const w = await fedrad('run', 'watch', 'watched', '--local', out);
    expect(w.exitCode).toBe(RUN_EXIT.succeeded);
    expect(w.stdout).toMatch(/round 2 site-2 rejected: /);
    const page = join(out, 'page.html');
    const rep = await fedrad('run', 'report', 'watched', '--local', out, '--out', page);
    expect(rep.stdout.trim()).toBe(page);
    expect(await readFile(page, 'utf8')).toContain('<h1>fedrad run <code>watched</code></h1>');
    const missing = await fedrad('run', 'status', 'nope', '--local', out);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`no run 'nope' in local folder ${out}; it has watched`);
    const stop = await fedrad('run', 'stop', 'watched', '--reason', 'done', '--local', out);
    expect(stop.stderr).toContain('run watched is not running (it succeeded)');
    const start = await fedrad('run', 'start', '--local', out, '--sites', 'site-1');
    expect(start.stderr).toContain('a local run starts with `fedrad simulate --out <dir>`');
  });
});

describe('the run report', () => {
  it('leads with the result against the baselines, marks the best model, and lays out in headless chromium without errors', { timeout: 90_000 }, async () => {
    const html = await readFile(result.reportPath, 'utf8');
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as RunReport;
    expect(html).not.toContain('<script');
    expect(report.best).toMatchObject({ round: expect.any(Number) });
    expect(html).toContain(`Best model: <b>${report.best!.round}</b>`);
    expect(html).toContain(`<tr><th>centralized (all sites' data pooled, held-out test)</th><td class="num">${report.baselines!.centralized!.toFixed(4)}</td>`);
    expect(html).toMatch(/<td>1<\/td><td>site-2<\/td><td>rejected<\/td><td>[^<]*NaN|<td>1<\/td><td>site-2<\/td><td>rejected<\/td><td>[^<]*non/i);
    expect(html).toContain('<td>1</td><td>site-3</td><td>failed</td><td>States.TaskFailed</td>');
    const page = await checkPageInChromium(html);
    expect(page.errors).toEqual([]);
    expect(page.sections.map((s) => s.id)).toEqual(['headline', 'chart', 'timeline', 'local-curves', 'data', 'rejections', 'rounds']);
    for (const s of page.sections) expect(s.height, s.id).toBeGreaterThan(20);
    expect(page.svgs.length).toBe(3);
    for (const svg of page.svgs) expect(svg.width * svg.height, svg.label).toBeGreaterThan(10_000);
    expect(page.overflowing).toEqual([]);
    expect(page.scrollWidth).toBeLessThanOrEqual(page.innerWidth);
  });

  it('the browser check itself catches a script error and an element wider than the window', { timeout: 60_000 }, async () => {
    const bad = await checkPageInChromium('<!doctype html><html><head></head><body><section id="x"><div id="too-wide" style="width:3000px">x</div></section><script>notAFunction()</script></body></html>');
    expect(bad.errors.join(' ')).toMatch(/notAFunction is not defined/);
    expect(bad.overflowing).toContain('too-wide');
  });
});

describe('a failed local run', () => {
  it('watch exits 3 and shows the error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedrad-runs-failed-'));
    try {
      const r = await simulate({ sites: 3, rounds: 2, minSites: 2, runId: 'no-quorum', out: dir, baselines: false, minImages: 12, maxImages: 16, testImages: 10, inputSize: 16, trainer: 'noop', failSites: ['site-1', 'site-2'] });
      expect(r.status).toBe('failed');
      const w = await fedrad('run', 'watch', 'no-quorum', '--local', dir);
      expect(w.exitCode).toBe(3);
      expect(w.stdout).toMatch(/FAILED/);
      expect(w.stdout).toMatch(/failed: QuorumNotReachedError: round 0 of run no-quorum/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('stopping a local run', () => {
  it('stop ends the simulate process and records the reason; watch then exits 4', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedrad-runs-stop-'));
    const child = spawn(process.execPath, [join(import.meta.dirname, '../../bin/fedrad.mjs'), 'simulate', '--sites', '2', '--rounds', '40', '--min-images', '10', '--max-images', '12', '--local-steps', '1', '--out', dir, '--json'], { stdio: 'ignore' });
    const exited = once(child, 'exit');
    try {
      let runId: string | undefined;
      for (let i = 0; i < 600 && !runId; i++) {
        const list = JSON.parse((await fedrad('run', 'list', '--local', dir, '--json')).stdout || '[]') as Array<{ runId: string; status: string }>;
        runId = list.find((r) => r.status === 'running')?.runId;
        if (!runId) await new Promise((r) => setTimeout(r, 100));
      }
      expect(runId).toBeDefined();
      const stop = await fedrad('run', 'stop', runId!, '--reason', 'site-2 uploaded the wrong series', '--local', dir);
      expect(stop.stdout).toBe(`stopped ${runId}: site-2 uploaded the wrong series\n`);
      const [, signal] = (await exited) as [number | null, string | null];
      expect(signal).toBe('SIGTERM');
      const view = JSON.parse((await fedrad('run', 'status', runId!, '--local', dir, '--json')).stdout) as RunView;
      expect(view).toMatchObject({ status: 'stopped', error: 'stopped', cause: 'site-2 uploaded the wrong series' });
      expect((await fedrad('run', 'watch', runId!, '--local', dir)).exitCode).toBe(RUN_EXIT.stopped);
    } finally {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
