import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderDataSource } from '../../../lib/data/data-source.js';
import { loadVolumeSamples } from '../../../lib/data/load-volumes.js';
import { renderBrainVolume, site3dProfiles, synthesizeFederation3d } from '../../../lib/data/synth-3d.js';
import { spacingOf } from '../../../lib/data/volume.js';
import { Random } from '../../../lib/util/random.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('synthetic 3D federation', () => {
  it('renders a brain with a tumour core inside oedema, the lesion brighter on FLAIR and the core on T1ce', () => {
    const p = site3dProfiles(3, 1)[0];
    const v = renderBrainVolume(new Random(2), p, 4);
    const per = v.labels.length;
    const mean = (c: number, label: number) => {
      let s = 0;
      let n = 0;
      v.labels.forEach((l, i) => {
        if (l === label && v.image[c * per + i] > 0) { s += v.image[c * per + i]; n++; }
      });
      return s / n;
    };
    expect(v.labels.includes(1) && v.labels.includes(2)).toBe(true);
    expect(mean(0, 2)).toBeGreaterThan(mean(0, 0) * 1.3); // FLAIR: oedema over the rest
    expect(mean(1, 1)).toBeGreaterThan(mean(1, 2) * 1.3); // T1ce: the core enhances
  });

  it('writes NIfTI sites that differ in spacing, field of view and size, loads them back, and is reproducible', async () => {
    const out = await mkdtemp(join(tmpdir(), 'fedrad-synth3d-'));
    dirs.push(out);
    const r = await synthesizeFederation3d({ out, sites: 3, seed: 5, channels: 2, minVolumes: 2, maxVolumes: 3, testVolumes: 2 });
    expect(r.sites.map((s) => s.volumes)).toEqual([2, 3, 3]);
    expect(new Set(r.sites.map((s) => s.profile.spacing.join('x'))).size).toBe(3);
    for (const s of r.sites) {
      const loaded = await loadVolumeSamples(new FolderDataSource(join(s.dir, 'data')));
      const all = [...loaded.train, ...loaded.validation];
      expect(all.length).toBe(s.volumes);
      for (const v of all) {
        expect(v.image.channels).toBe(2);
        expect(v.image.size).toEqual(s.profile.size);
        spacingOf(v.image.affine).forEach((h, a) => expect(h).toBeCloseTo(s.profile.spacing[a], 5));
        expect(v.mask!.data.some((l) => l === 1) && v.mask!.data.some((l) => l === 2)).toBe(true);
      }
    }
    const test = await loadVolumeSamples(new FolderDataSource(join(r.test.dir, 'data')));
    expect(test.train.length + test.validation.length).toBe(2);
    const again = await mkdtemp(join(tmpdir(), 'fedrad-synth3d-'));
    dirs.push(again);
    await synthesizeFederation3d({ out: again, sites: 3, seed: 5, channels: 2, minVolumes: 2, maxVolumes: 3, testVolumes: 2 });
    const manifest = (d: string) => readFile(join(d, 'site-2', 'data', 'manifest.json'), 'utf8').then((t) => JSON.parse(t).files.map((f: { sha256: string }) => f.sha256));
    expect(await manifest(again)).toEqual(await manifest(out));
  });
});
