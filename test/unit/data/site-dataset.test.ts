import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FolderDataSource } from '../../../lib/data/data-source.js';
import { encodeDicomImage } from '../../../lib/data/dicom-write.js';
import { indexSiteData } from '../../../lib/data/index-dataset.js';
import { loadSiteDataset } from '../../../lib/data/load-dataset.js';
import { MANIFEST_PATH } from '../../../lib/data/site-layout.js';
import { splitOf } from '../../../lib/data/split.js';
import { synthesizeFederation } from '../../../lib/data/synth.js';
import { DataIntegrityError } from '../../../lib/errors.js';
import { patchAscii, sliceSpec, uid, validSlice } from '../../support/dicom-corpus.js';

async function siteWith(files: Record<string, Uint8Array | string>): Promise<FolderDataSource> {
  const src = new FolderDataSource(join(await mkdtemp(join(tmpdir(), 'fedrad-site-')), 'data'));
  for (const [path, bytes] of Object.entries(files)) await src.write(path, bytes);
  return src;
}

describe('a malformed-file corpus', () => {
  const good = validSlice();
  const corpus: Record<string, [Uint8Array, RegExp]> = {
    'images/truncated.dcm': [good.slice(0, 300), /truncated|cannot be parsed|pixel data has/],
    'images/wrong-preamble.dcm': [(() => { const b = good.slice(); b.set(new TextEncoder().encode('DICX'), 128); return b; })(), /not a DICOM file \(no "DICM" marker/],
    'images/rle.dcm': [patchAscii(validSlice(), '1.2.840.10008.1.2.1\0', '1.2.840.10008.1.2.5\0'), /the transfer syntax is compressed \(RLE Lossless\) but the pixel data is not encapsulated/],
    'images/jpeg.dcm': [patchAscii(validSlice(), '1.2.840.10008.1.2.1\0', '1.2.840.10008.1.2.4.50'.slice(0, 20)), /^transfer syntax 1\.2\.840\.10008\.1\.2\.4\. \(unknown transfer syntax\) is not read by fedrad; convert the file to Explicit VR Little Endian/],
    'images/empty-pixels.dcm': [encodeDicomImage(sliceSpec(new Int16Array(0), 16, 16)), /pixel data has 0 bytes but Rows x Columns x Frames x BitsAllocated\/8 = 16 x 16 x 1 x 2 = 512/],
    'images/short-pixels.dcm': [encodeDicomImage(sliceSpec(new Int16Array(100), 16, 16)), /pixel data has 200 bytes but .* = 512/],
    'images/rows-too-small.dcm': [encodeDicomImage(sliceSpec(new Int16Array(32 * 32), 16, 16)), /pixel data has 2048 bytes, more than .* = 512: Rows\/Columns do not match the data/],
    'images/zero-rows.dcm': [encodeDicomImage(sliceSpec(new Int16Array(16), 0, 16)), /Rows \(0\) and Columns \(16\) must both be present and positive/],
    'images/text.dcm': [new TextEncoder().encode('this is a radiology report, not an image'), /not a DICOM file \(no "DICM" marker at byte 128 or 0, and it does not start like a DICOM dataset\)/],
  };

  it('gives each bad file a clear reason, loads the rest, and crashes nothing', async () => {
    const goodFiles = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`images/good-${i}.dcm`, validSlice({ sopInstanceUid: uid() })]));
    goodFiles['images/no-preamble.dcm'] = validSlice({ sopInstanceUid: uid() }).slice(128); // "DICM" first: read
    const labels = ['path,label', ...Object.keys({ ...goodFiles, ...corpus }).map((p, i) => `${p},${i % 2}`)].join('\n');
    const src = await siteWith({ ...goodFiles, ...Object.fromEntries(Object.entries(corpus).map(([p, [b]]) => [p, b])), 'labels.csv': labels });
    const manifest = await indexSiteData(src, { siteId: 'corpus', inputSize: 8, validationFraction: 0 });
    expect(manifest.files.map((f) => f.path).sort()).toEqual(Object.keys(goodFiles).sort());
    const reasons = Object.fromEntries(manifest.rejected.map((r) => [r.path, r.reason]));
    for (const [path, [, message]] of Object.entries(corpus)) expect(reasons[path], path).toMatch(message);
    await src.write(MANIFEST_PATH, JSON.stringify(manifest));
    const loaded = await loadSiteDataset(src);
    expect(loaded.train.count).toBe(6);
    expect(loaded.errors).toEqual([]);
    // windowed from each file's value range, resampled, then standardized per image
    for (let i = 0; i < loaded.train.count; i++) {
      const img = loaded.train.images.subarray(i * 64, (i + 1) * 64);
      const mean = img.reduce((a, b) => a + b, 0) / img.length;
      const sd = Math.sqrt(img.reduce((a, b) => a + (b - mean) ** 2, 0) / img.length);
      expect(mean).toBeCloseTo(0, 4);
      expect(sd).toBeCloseTo(1, 3);
    }
  });
});

describe('the train/validation split', () => {
  it('is deterministic, near the asked fraction, and stable when files are added', () => {
    const uids = Array.from({ length: 2000 }, (_, i) => `2.25.${987654321 + i * 7919}`);
    const splits = uids.map((u) => splitOf(u, 0.2));
    expect(uids.map((u) => splitOf(u, 0.2))).toEqual(splits);
    const share = splits.filter((s) => s === 'validation').length / uids.length;
    expect(share).toBeGreaterThan(0.17);
    expect(share).toBeLessThan(0.23);
  });
});

describe('a synthetic site', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedrad-synth-'));
    await synthesizeFederation({ out: dir, sites: 2, seed: 3, minImages: 24, maxImages: 40, testImages: 10, inputSize: 32 });
    return () => rm(dir, { recursive: true, force: true });
  });

  it('loads with labels and masks that agree with labels.csv and the manifest', async () => {
    const src = new FolderDataSource(join(dir, 'site-1', 'data'));
    const d = await loadSiteDataset(src);
    const m = d.manifest;
    expect(d.train.count + d.validation.count).toBe(m.files.length);
    expect(d.train.count).toBe(m.counts.train.samples);
    expect(d.train.imageShape).toEqual([1, 32, 32]);
    const positives = Array.from(d.train.labels).filter((l) => l === 1).length;
    expect(positives).toBe(m.counts.train.byLabel['1'] ?? 0);
    for (let i = 0; i < d.train.count; i++) {
      const maskSum = d.train.masks.subarray(i * 1024, (i + 1) * 1024).reduce((a, b) => a + b, 0);
      if (d.train.labels[i] === 0) expect(maskSum).toBe(0);
    }
    expect(d.train.masks.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('keeps existing files in their split when files are added and re-indexed', async () => {
    const src = new FolderDataSource(join(dir, 'site-2', 'data'));
    const before = await indexSiteData(src, { siteId: 'site-2', inputSize: 32 });
    const labels = new TextDecoder().decode(await src.read('labels.csv'));
    await src.write('images/extra.dcm', validSlice());
    await src.write('labels.csv', `${labels}images/extra.dcm,1\n`);
    const after = await indexSiteData(src, { siteId: 'site-2', inputSize: 32 });
    await unlink(join(dir, 'site-2', 'data', 'images', 'extra.dcm'));
    await src.write('labels.csv', labels);
    const splitBefore = new Map(before.files.map((f) => [f.path, f.split]));
    for (const f of after.files) if (splitBefore.has(f.path)) expect(f.split).toBe(splitBefore.get(f.path));
    expect(after.files.length).toBe(before.files.length + 1);
  });

  it('is refused when its files no longer match the manifest, naming them', async () => {
    const src = new FolderDataSource(join(dir, 'site-1', 'data'));
    const manifest = JSON.parse(new TextDecoder().decode(await src.read(MANIFEST_PATH)));
    const victim = manifest.files[3].path as string;
    const original = await src.read(victim);
    const tampered = original.slice();
    tampered[tampered.length - 1] ^= 0xff;
    await src.write(victim, tampered);
    await src.write('images/smuggled.dcm', validSlice());
    try {
      const err = await loadSiteDataset(src).catch((e) => e);
      expect(err).toBeInstanceOf(DataIntegrityError);
      expect(err.message).toContain(`changed: ${victim}`);
      expect(err.message).toContain('not in the manifest: images/smuggled.dcm');
      await unlink(join(dir, 'site-1', 'data', 'images', 'smuggled.dcm'));
      await writeFile(join(dir, 'site-1', 'data', manifest.files[5].path), new Uint8Array(0)).then(() => unlink(join(dir, 'site-1', 'data', manifest.files[5].path)));
      const missing = await loadSiteDataset(src).catch((e) => e);
      expect(missing.message).toContain(`missing: ${manifest.files[5].path}`);
    } finally {
      await src.write(victim, original);
    }
  });
});
