import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../../lib/federation/report.js';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../../bin/fedrad.mjs');
const fails = (args: string[]) => run('node', [BIN, 'simulate', ...args]).then(() => { throw new Error(`fedrad simulate ${args.join(' ')} succeeded`); }, (e: { code: number; stderr: string }) => e);

describe('fedrad simulate', () => {
  it('refuses a bad strategy or step budget before anything runs, naming what is wrong', async () => {
    const unknown = await fails(['--strategy', 'fedsgd']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/Allowed choices are fedavg, fedavgm, fedadam, fedyogi, fedadagrad, median, trimmed-mean, krum, multi-krum/);
    const badF = await fails(['--strategy', 'krum', '--strategy-options', '{"f":-1}']);
    expect(badF.code).toBe(2);
    expect(badF.stderr).toMatch(/--strategy krum --strategy-options \{"f":-1\}: f: .*>=0/);
    const unknownKey = await fails(['--strategy', 'median', '--strategy-options', '{"beta":0.2}']);
    expect(unknownKey.stderr).toMatch(/median .*Unrecognized key.*beta/);
    const notJson = await fails(['--strategy', 'krum', '--strategy-options', 'f=1']);
    expect(notJson.stderr).toContain(`--strategy-options must be a JSON object such as '{"f":1}', got 'f=1'`);
    const both = await fails(['--epochs', '2', '--local-steps', '5']);
    expect(both.stderr).toContain('set either --epochs or --local-steps, not both');
    const badModel = await fails(['--model', 'resnet']);
    expect(badModel.stderr).toContain("--model takes a zoo model (cnn-classifier, unet-segmenter, unet3d-segmenter) or an ONNX file ending in .onnx, got 'resnet'");
    const zooTask = await fails(['--task', 'segmentation']);
    expect(zooTask.stderr).toContain('--task applies to a brought model (--model ./file.onnx); a zoo model knows its task');
    const missing = await fails(['--model', '/nonexistent/net.onnx', '--out', join(tmpdir(), 'fedrad-never')]);
    expect(missing.stderr).toContain("cannot open '/nonexistent/net.onnx': no such file or directory");
  });

  it('refuses a run input Prepare run would refuse before writing data or training baselines', async () => {
    const out = await mkdtemp(join(tmpdir(), 'fedrad-cli-refuse-'));
    try {
      const started = performance.now();
      const krum = await fails(['--strategy', 'krum', '--sites', '3', '--out', out]);
      expect(krum.code).toBe(2);
      expect(krum.stderr).toContain('krum with f=1 needs at least 5 accepted updates a round (n >= 2f + 3)');
      expect(await readdir(out)).toEqual([]); // no synthetic sites, no baselines
      expect(performance.now() - started).toBeLessThan(20_000); // not the ~40 s of baselines before
      const minSites = await fails(['--sites', '2', '--min-sites', '3', '--out', out]);
      expect(minSites.stderr).toContain('minSites is 3 but the run has only 2 site(s); use a value from 1 to 2');
      expect(await readdir(out)).toEqual([]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('runs Krum with fixed local steps from the command line; the report names the strategy and whom it selected', { timeout: 120_000 }, async () => {
    const out = await mkdtemp(join(tmpdir(), 'fedrad-cli-simulate-'));
    try {
      const args = ['simulate', '--sites', '3', '--rounds', '2', '--strategy', 'krum', '--strategy-options', '{"f":0}', '--local-steps', '2', '--min-sites', '3', '--min-images', '20', '--max-images', '30', '--out', out];
      const r = await run('node', [BIN, ...args, '--json']);
      const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { status: string; reportPath: string };
      expect(summary.status).toBe('succeeded');
      const report = JSON.parse(await readFile(summary.reportPath.replace(/report\.html$/, 'report.json'), 'utf8')) as RunReport;
      expect(report.rounds).toHaveLength(2);
      expect(report.advice).toBeUndefined(); // fixed local steps: nothing to advise about Krum
      for (const round of report.rounds) {
        expect(round.strategy).toBe('krum');
        const selected = round.strategyReport!.selected as string[];
        expect(selected).toHaveLength(1);
        expect(round.weights[selected[0]]).toBe(1);
        expect(Object.values(round.weights).reduce((a, b) => a + b, 0)).toBe(1);
      }
      const html = await readFile(summary.reportPath, 'utf8');
      expect(html).toContain(`krum: selected ${(report.rounds[0].strategyReport!.selected as string[])[0]}`);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
