// `fedrad data index` on a folder mixing every kind of file a site sends, then both loaders.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSummary } from '../../../lib/cli/data-commands.js';
import { FolderDataSource } from '../../../lib/data/data-source.js';
import { indexSiteData, summarizeManifest } from '../../../lib/data/index-dataset.js';
import { loadSiteDataset } from '../../../lib/data/load-dataset.js';
import { loadVolumeSamples } from '../../../lib/data/load-volumes.js';
import { MANIFEST_PATH } from '../../../lib/data/site-layout.js';
import { orientationOf } from '../../../lib/data/volume.js';
import type { DatasetManifest } from '../../../lib/schemas/dataset-manifest.js';
import { type MixedSiteExpectation, writeMixedSite } from '../../support/mixed-site.js';

const tools = ['dcmcjpeg', 'gdcmconv', 'dcmconv'].every((t) => {
  try {
    execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});
if (!tools) console.warn('mixed-site: dcmtk or libgdcm-tools is not installed (.ci/run installs them); skipped');

describe.skipIf(!tools)('a mixed site folder', () => {
  let root: string;
  let expected: MixedSiteExpectation;
  let manifest: DatasetManifest;
  let source: FolderDataSource;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'fedrad-mixed-'));
    expected = writeMixedSite(join(root, 'data'));
    source = new FolderDataSource(join(root, 'data'));
    manifest = await indexSiteData(source, { siteId: 'mixed', inputSize: 16, validationFraction: 0.3 });
    await source.write(MANIFEST_PATH, JSON.stringify(manifest));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('indexes every readable image, skips non-images by SOP class, and refuses broken files by reason', () => {
    const s = summarizeManifest(manifest);
    expect({ dicom: s.dicomImages, nifti: s.niftiImages, volumes: s.volumes }).toEqual({ dicom: expected.indexedDicom, nifti: expected.indexedNifti, volumes: expected.volumes });
    expect(s.refused).toEqual(expected.refused);
    expect(s.skipped).toEqual({ 'no pixel data: RT Plan Storage': 1, 'no pixel data: Comprehensive SR Storage': 1, 'no pixel data: 12-lead ECG Waveform Storage': 1 });
    const reasons = Object.fromEntries(manifest.rejected.map((r) => [r.path, r.reason]));
    expect(reasons['images/broken/notes.txt']).toBe('not a DICOM file (no "DICM" marker at byte 128 or 0, and it does not start like a DICOM dataset)');
    expect(reasons['images/broken/surface.dscalar.nii']).toBe('intent code 3006 marks a CIFTI file (brain surface/grayordinate data), not an image volume');
    expect(reasons['images/broken/corrupt-jpeg-ls.dcm']).toBe('frame 1 of 1 (JPEG-LS Lossless): the JPEG-LS (CharLS) codestream could not be decoded (the decoder stopped on invalid data); the file may be corrupt');
    expect(reasons['images/broken/truncated.dcm']).toBe('cannot be parsed as DICOM: an element runs past the end of the file; the file may be truncated or corrupt');
    for (const r of [...manifest.rejected, ...(manifest.skipped ?? [])]) expect(r.reason).not.toMatch(/\[object Object\]|undefined|    at |is not a function|dicomParser|codec error/);
    const table = formatSummary(s);
    expect(table).toMatch(/indexed images\s+\d+/);
    expect(table).toMatch(/JPEG-LS Lossless\s+2\n/);
  });

  it('records geometry per file and per volume: the series, its SEG, the NIfTI and its mask', () => {
    const series = manifest.volumes!.find((v) => v.kind === 'dicom-series')!;
    expect(series).toMatchObject({ files: expect.any(Array), mask: 'masks/series-seg.dcm', geometry: { size: [32, 32, 6], spacing: [0.7, 0.8, 2.5], orientation: 'LPS' } });
    expect(series.files).toHaveLength(6);
    const brain = manifest.volumes!.find((v) => v.id === 'nifti:images/brats/case-001.nii.gz')!;
    expect(brain).toMatchObject({ kind: 'nifti', mask: 'masks/brats/case-001.nii.gz', geometry: { size: [24, 28, 20], spacing: [1, 1, 1], orientation: 'LAS' } });
    expect(manifest.volumes!.find((v) => v.id === 'nifti:images/fmri/run-1.nii')).toMatchObject({ channels: 3, fourthAxis: 'time' });
    const slice = manifest.files.find((f) => f.path === series.files[0])!;
    expect(slice).toMatchObject({ volume: series.id, split: series.split, format: 'dicom', modality: 'CT' });
  });

  it('loads 2D samples from every indexed file and 3D samples in RAS with masks on the same grid', async () => {
    const d = await loadSiteDataset(source);
    expect(d.errors).toEqual([]);
    const frames = manifest.files.reduce((a, f) => a + f.frames, 0);
    expect(d.train.count + d.validation.count).toBe(frames);
    for (const v of d.train.images) expect(Number.isFinite(v)).toBe(true);
    const vols = await loadVolumeSamples(source, { spacing: [1, 1, 2] });
    const all = [...vols.train, ...vols.validation];
    expect(all).toHaveLength(expected.volumes);
    for (const s of all) {
      expect(orientationOf(s.image.affine)).toBe('RAS');
      if (s.mask) expect(s.mask.size).toEqual(s.image.size);
    }
    const ct = all.find((s) => s.seriesInstanceUid)!;
    expect(ct.mask!.data.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(ct.image.size[2]).toBe(Math.floor((5 * 2.5) / 2) + 1);
  });
});
