// The synthetic generator writes the variety the readers meet: compressed sites, and sites whose
// patients are CT volumes, all indexed through the same readers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderDataSource } from '../../../lib/data/data-source.js';
import { readManifest } from '../../../lib/data/load-dataset.js';
import { loadVolumeSamples } from '../../../lib/data/load-volumes.js';
import { synthesizeFederation } from '../../../lib/data/synth.js';

describe('a six-site synthetic federation', () => {
  let out: string;
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'fedrad-synth6-'));
    await synthesizeFederation({ out, sites: 6, seed: 5, minImages: 16, maxImages: 24, testImages: 8, inputSize: 16 });
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('writes sites in different transfer syntaxes, RLE-compressed ones included', async () => {
    const syntaxes = new Set<string>();
    for (let s = 1; s <= 6; s++) for (const f of (await readManifest(new FolderDataSource(join(out, `site-${s}`, 'data')))).files) syntaxes.add(f.transferSyntax!);
    expect([...syntaxes].sort()).toEqual(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.5']);
  });

  it('writes sites 5 and 6 as CT volumes of 8 slices, 5 mm apart, that load in 3D', async () => {
    for (const site of ['site-5', 'site-6']) {
      const src = new FolderDataSource(join(out, site, 'data'));
      const m = await readManifest(src);
      const full = m.volumes!.filter((v) => v.files.length === 8);
      expect(full.length).toBeGreaterThan(0);
      for (const v of full) expect(v.geometry.spacing[2]).toBe(5);
      const loaded = await loadVolumeSamples(src);
      expect(loaded.train.length + loaded.validation.length).toBe(m.volumes!.length);
    }
  });
});
