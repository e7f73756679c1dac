// Series into volumes, NIfTI, DICOM SEG, reorientation and resampling. The DICOM geometry is
// checked against dcm2niix (Debian), which converts the same series to NIfTI on its own.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeDicomImage } from '../../../lib/data/dicom-read.js';
import { readSegmentation, segmentationToVolume } from '../../../lib/data/dicom/seg.js';
import { assembleSeries, planSeries } from '../../../lib/data/dicom/series.js';
import { readNifti, writeNifti } from '../../../lib/data/nifti.js';
import { type Affine, geometryOf, multiply, orientationOf, reorientToRas, resampleVolume, type Volume } from '../../../lib/data/volume.js';
import { voxelValue, writeSeg, writeSeries } from '../../support/volume-corpus.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'fedrad-volume-'));
  dirs.push(d);
  return d;
};

function planOf(files: Record<string, Uint8Array>) {
  const decoded = new Map(Object.entries(files).map(([p, b]) => [p, decodeDicomImage(b, p)]));
  const { volumes, refused } = planSeries([...decoded].map(([path, img]) => ({ path, img })));
  return { volumes, refused, decoded };
}

/** World position (RAS mm) of voxel (i, j, k). */
const world = (a: Affine, i: number, j: number, k: number) => [0, 1, 2].map((r) => a[r][0] * i + a[r][1] * j + a[r][2] * k + a[r][3]);
const valueAtWorld = (v: Volume, p: number[]) => {
  // invert by searching: small volumes only
  for (let k = 0; k < v.size[2]; k++) for (let j = 0; j < v.size[1]; j++) for (let i = 0; i < v.size[0]; i++) {
    const w = world(v.affine, i, j, k);
    if (Math.hypot(w[0] - p[0], w[1] - p[1], w[2] - p[2]) < 1e-3) return v.data[i + v.size[0] * (j + v.size[1] * k)];
  }
  return undefined;
};

describe('DICOM series into volumes', () => {
  it('orders slices along the normal whatever the file names, with the spacing and the affine in RAS+ millimetres', () => {
    const s = writeSeries({ size: [6, 5, 7], sliceSpacing: 2.5 });
    const { volumes, refused, decoded } = planOf(s.files);
    expect(refused).toEqual([]);
    expect(volumes).toHaveLength(1);
    const plan = volumes[0];
    expect(plan.size).toEqual([6, 5, 7]);
    expect(plan.sliceSpacing).toBe(2.5);
    const v = assembleSeries(plan, (p) => decoded.get(p)!);
    for (let k = 0; k < 7; k++) expect(v.data[k * 30 + 2 * 6 + 3]).toBe(voxelValue(3, 2, k) - 1024);
    expect(geometryOf(v)).toEqual({ size: [6, 5, 7], spacing: [0.7, 0.8, 2.5], orientation: 'LPS', origin: [100, 80, 20] });
  });

  it('splits a series by orientation and refuses one with a gap or duplicate slices, naming them', () => {
    const gap = writeSeries({ size: [4, 4, 6], skip: [3] });
    const r1 = planOf(gap.files).refused;
    expect(r1).toHaveLength(1);
    expect(r1[0].reason).toMatch(/^series 2\.25\.\d+: 5 mm between images\/series\/slice-\d+\.dcm and images\/series\/slice-\d+\.dcm where the series' spacing is 2\.5 mm \(a missing slice or mixed spacing\)$/);
    const dup = writeSeries({ size: [4, 4, 4], duplicate: 2 });
    expect(planOf(dup.files).refused[0].reason).toMatch(/share the position 25 mm along the slice normal \(duplicate slices\)$/);
    const axial = writeSeries({ size: [4, 4, 3] });
    const sagittal = writeSeries({ size: [4, 4, 3], orientation: [0, 1, 0, 0, 0, -1] });
    const mixed: Record<string, Uint8Array> = {};
    for (const [p, b] of Object.entries(axial.files)) mixed[`a/${p}`] = b;
    // the sagittal stack claims the axial series' UID: one series, two stacks
    for (const [p, b] of Object.entries(sagittal.files)) mixed[`s/${p}`] = patchSeries(b, sagittal.seriesInstanceUid, axial.seriesInstanceUid);
    const { volumes } = planOf(mixed);
    expect(volumes.map((v) => v.id).sort()).toEqual([`${axial.seriesInstanceUid}#1`, `${axial.seriesInstanceUid}#2`]);
    expect(volumes.map((v) => orientationOf(v.affine)).sort()).toEqual(['LPS', 'PIR']);
  });

  it('has the geometry and voxels dcm2niix finds in the same series', () => {
    const dir = tmp();
    const s = writeSeries({ size: [8, 6, 5], sliceSpacing: 3, orientation: [0.8660254, 0.5, 0, -0.5, 0.8660254, 0] });
    for (const [p, b] of Object.entries(s.files)) {
      mkdirSync(dirname(join(dir, 'in', p)), { recursive: true });
      writeFileSync(join(dir, 'in', p), b);
    }
    mkdirSync(join(dir, 'out'));
    execFileSync('dcm2niix', ['-z', 'y', '-f', 'vol', '-o', join(dir, 'out'), join(dir, 'in')], { stdio: 'pipe' });
    const theirs = readNifti(readFileSync(join(dir, 'out', readdirSync(join(dir, 'out')).find((f) => f.endsWith('.nii.gz'))!)), 'vol.nii.gz');
    const { volumes, decoded } = planOf(s.files);
    const ours = assembleSeries(volumes[0], (p) => decoded.get(p)!);
    const a = reorientToRas(ours);
    const b = reorientToRas(theirs);
    expect(b.size).toEqual(a.size);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) expect(b.affine[r][c]).toBeCloseTo(a.affine[r][c], 3);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
  });
});

function patchSeries(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const text = Buffer.from(bytes).toString('latin1');
  const pad = (u: string) => (u.length % 2 ? `${u}\0` : u);
  if (pad(from).length !== pad(to).length) throw new Error('UIDs differ in length');
  return new Uint8Array(Buffer.from(text.replace(pad(from), pad(to)), 'latin1'));
}

describe('reorientation and resampling', () => {
  const lpi: Volume = {
    data: Float32Array.from({ length: 4 * 3 * 2 }, (_, n) => n), size: [4, 3, 2], channels: 1,
    affine: [[-0.5, 0, 0, 10], [0, -0.7, 0, 20], [0, 0, -2, 30], [0, 0, 0, 1]],
  };

  it('reorients to RAS by permuting and flipping axes, keeping every value at its place in space', () => {
    const permuted: Volume = { ...lpi, affine: [[0, 0, -2, 5], [-0.5, 0, 0, 1], [0, 0.7, 0, -3], [0, 0, 0, 1]] };
    for (const v of [lpi, permuted]) {
      const ras = reorientToRas(v);
      expect(orientationOf(ras.affine)).toBe('RAS');
      for (let n = 0; n < v.data.length; n++) {
        const [i, j, k] = [n % 4, Math.floor(n / 4) % 3, Math.floor(n / 12)];
        expect(valueAtWorld(ras, world(v.affine, i, j, k))).toBe(v.data[n]);
      }
    }
  });

  it('resamples linearly (exact on a ramp) and masks by nearest neighbour (labels kept)', () => {
    const ramp: Volume = { data: Float32Array.from({ length: 9 * 5 * 3 }, (_, n) => 2 * (n % 9) + 7 * Math.floor(n / 45)), size: [9, 5, 3], channels: 1, affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]] };
    const r = resampleVolume(ramp, [0.5, 1, 1], 'linear');
    expect(r.size).toEqual([17, 5, 5]);
    expect(geometryOf(r).spacing).toEqual([0.5, 1, 1]);
    for (let k = 0; k < 5; k++) for (let i = 0; i < 17; i++) expect(r.data[i + 17 * 5 * k]).toBeCloseTo(2 * (i / 2) + 7 * (k / 2), 5);
    const mask: Volume = { ...ramp, data: ramp.data.map((v) => (v > 10 ? 2 : 0)) };
    expect(new Set(resampleVolume(mask, [0.3, 0.7, 1.5], 'nearest').data)).toEqual(new Set([0, 2]));
    // the world position of voxel 0 is kept
    expect(multiply(r.affine, [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])[0][3]).toBe(0);
  });
});

describe('NIfTI', () => {
  const affine: Affine = [[-0.9, 0, 0, 90], [0, 0.9, 0, -120], [0, 0, 2, -60], [0, 0, 0, 1]];
  const vol: Volume = { data: Float32Array.from({ length: 5 * 4 * 3 }, (_, n) => n * 1.5 - 7), size: [5, 4, 3], channels: 1, affine };

  it('reads NIfTI-1 and .nii.gz with the sform affine, scaling and 4D as channels', () => {
    for (const gzip of [false, true]) {
      const n = readNifti(writeNifti(vol, { gzip }), gzip ? 'a.nii.gz' : 'a.nii');
      expect(n.size).toEqual([5, 4, 3]);
      expect(n.affine).toEqual(affine.map((r) => r.map((v) => Math.fround(v))));
      expect(Array.from(n.data)).toEqual(Array.from(vol.data));
      expect(orientationOf(n.affine)).toBe('LAS');
    }
    const fourD = readNifti(writeNifti({ ...vol, data: new Float32Array(5 * 4 * 3 * 2).fill(1), channels: 2 } as Volume), 'b.nii');
    expect(fourD).toMatchObject({ channels: 2, fourthAxis: 'time' });
    // int16 with slope 2 and intercept -5: values are scaled
    const int16 = writeNifti({ ...vol, data: Float32Array.from(vol.data, (v) => Math.round(v)) }, { datatype: 'int16' });
    new DataView(int16.buffer).setFloat32(112, 2, true);
    new DataView(int16.buffer).setFloat32(116, -5, true);
    expect(readNifti(int16, 'c.nii').data[3]).toBe(Math.round(vol.data[3]) * 2 - 5);
  });

  it('refuses a CIFTI file, a DICOM file, a truncated one and a bad gzip with one clear line each', () => {
    const cifti = writeNifti(vol);
    new DataView(cifti.buffer).setInt16(68, 3006, true);
    expect(() => readNifti(cifti, 'x.dscalar.nii')).toThrow('x.dscalar.nii: intent code 3006 marks a CIFTI file (brain surface/grayordinate data), not an image volume');
    expect(() => readNifti(new Uint8Array(400), 'y.nii')).toThrow('y.nii: not a NIfTI-1 or NIfTI-2 file (no "n+1"/"n+2" magic after a 348- or 540-byte header)');
    expect(() => readNifti(writeNifti(vol).slice(0, 400), 'z.nii')).toThrow('z.nii: the image data has 48 bytes but 5 x 4 x 3 x 1 x 4 = 240 are needed; the file may be truncated');
    const gz = gzipSync(writeNifti(vol));
    expect(() => readNifti(gz.subarray(0, 60), 'w.nii.gz')).toThrow(/^w\.nii\.gz: (the gzip stream does not decompress|not a NIfTI-1 or NIfTI-2 file)/);
  });
});

describe('DICOM SEG', () => {
  const s = writeSeries({ size: [6, 5, 4] });
  const { volumes, decoded } = planOf(s.files);
  const plan = volumes[0];
  const sopOf = (p: string) => decoded.get(p)?.sopInstanceUid;
  const posOf = (p: string) => decoded.get(p)?.imagePosition;
  const mask = (on: number) => Uint8Array.from({ length: 30 }, (_, i) => (i === on ? 1 : 0));

  it('maps binary 1-bit frames to slices by source image, and fractional ones by position, with segment numbers', () => {
    const binary = readSegmentation(writeSeg({ rows: 5, columns: 6, seriesInstanceUid: s.seriesInstanceUid, sops: s.sops, frames: [{ k: 2, segment: 1, mask: mask(7) }, { k: 0, segment: 2, mask: mask(8) }] }), 'seg.dcm');
    expect(binary).toMatchObject({ type: 'BINARY', referencedSeriesInstanceUid: s.seriesInstanceUid, segments: [{ number: 1, label: 'lesion 1' }, { number: 2, label: 'lesion 2' }] });
    const v = segmentationToVolume(binary, plan, sopOf, posOf);
    const k0 = plan.files.findIndex((p) => sopOf(p) === s.sops[0]);
    const k2 = plan.files.findIndex((p) => sopOf(p) === s.sops[2]);
    expect(v.data[k2 * 30 + 7]).toBe(1);
    expect(v.data[k0 * 30 + 8]).toBe(2);
    expect(v.data.reduce((a, b) => a + b, 0)).toBe(3);
    const positions = s.sops.map((sop) => posOf([...decoded].find(([, img]) => img.sopInstanceUid === sop)![0])!) as Array<[number, number, number]>;
    const fractional = readSegmentation(writeSeg({ rows: 5, columns: 6, seriesInstanceUid: s.seriesInstanceUid, sops: s.sops, positions, fractional: true, frames: [{ k: 3, segment: 1, mask: mask(4) }] }), 'frac.dcm');
    expect(fractional.type).toBe('FRACTIONAL');
    const fv = segmentationToVolume(fractional, plan, sopOf, posOf);
    const k3 = plan.files.findIndex((p) => sopOf(p) === s.sops[3]);
    expect(Array.from(fv.data).flatMap((x, i) => (x ? [i] : []))).toEqual([k3 * 30 + 4]); // 200/255 kept, 30/255 dropped
  });

  it('refuses a SEG whose frames match no slice, or of another size', () => {
    const other = writeSeries({ size: [6, 5, 2] });
    const seg = readSegmentation(writeSeg({ rows: 5, columns: 6, seriesInstanceUid: other.seriesInstanceUid, sops: other.sops, frames: [{ k: 1, segment: 1, mask: mask(1) }] }), 'seg.dcm');
    expect(() => segmentationToVolume(seg, plan, sopOf, () => undefined)).toThrow(/^seg\.dcm: frame 1 matches no slice of series 2\.25\.\d+ \(neither by source image nor by position\)$/);
    const small = readSegmentation(writeSeg({ rows: 4, columns: 6, seriesInstanceUid: s.seriesInstanceUid, sops: s.sops, frames: [{ k: 1, segment: 1, mask: new Uint8Array(24) }] }), 'small.dcm');
    expect(() => segmentationToVolume(small, plan, sopOf, posOf)).toThrow(/^small\.dcm: frames are 6x4 but series 2\.25\.\d+ is 6x5$/);
  });
});
