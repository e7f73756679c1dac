import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DatasetManifestSchema } from '../../../lib/schemas/dataset-manifest.js';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../../bin/fedrad.mjs');

describe('fedrad data', () => {
  it('synth writes sites of different sizes and a test set; index rewrites a manifest the schema accepts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedrad-cli-data-'));
    try {
      const synth = await run('node', [BIN, 'data', 'synth', '--sites', '2', '--out', dir, '--seed', '5', '--min-images', '12', '--max-images', '20', '--test-images', '8', '--input-size', '32']);
      expect(synth.stdout).toMatch(/site-1: \d+ images/);
      expect(synth.stdout).toMatch(/test: 8 images/);
      const idx = await run('node', [BIN, 'data', 'index', join(dir, 'site-1'), '--window', '40,400', '--input-size', '32']);
      expect(idx.stdout).toMatch(/^site-1: \d+ images indexed .* 0 rejected/);
      const manifest = DatasetManifestSchema.parse(JSON.parse(await readFile(join(dir, 'site-1', 'data', 'manifest.json'), 'utf8')));
      expect(manifest.window).toEqual({ center: 40, width: 400 });
      expect([12, 20]).toContain(manifest.files.length);
      const bad = await run('node', [BIN, 'data', 'index', join(dir, 'site-1'), '--window', '40']).catch((e) => e);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain('--window must be "center,width"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
