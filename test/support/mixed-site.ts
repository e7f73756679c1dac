// A site's data/ folder mixing what hospitals and research archives send: uncompressed and
// compressed DICOM (written by dcmtk and gdcm), files without preamble or with trailing padding,
// undefined-length sequences, colour, 32-bit dose, a CT series with a DICOM SEG, NIfTI with a
// mask, non-image objects and broken files. Used by the tests and to show `fedrad data index`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import dcmjs from 'dcmjs';
import { encodeDicomImage, IMPLEMENTATION_UID, SOP_CLASS } from '../../lib/data/dicom-write.js';
import { writeNifti } from '../../lib/data/nifti.js';
import { quantize, renderSlice, siteProfiles } from '../../lib/data/synth.js';
import { Random } from '../../lib/util/random.js';
import { sliceSpec, uid } from './dicom-corpus.js';
import { writeSeg, writeSeries } from './volume-corpus.js';

const { DicomDict, DicomMetaDictionary } = dcmjs.data;

/** A DICOM object without pixel data (RT plan, structured report, ECG...). */
export function encodeNonImage(sopClassUid: string, modality: string): Uint8Array {
  const sop = uid();
  const meta = { FileMetaInformationVersion: new Uint8Array([0, 1]).buffer, MediaStorageSOPClassUID: sopClassUid, MediaStorageSOPInstanceUID: sop, TransferSyntaxUID: '1.2.840.10008.1.2.1', ImplementationClassUID: IMPLEMENTATION_UID };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset({ SOPClassUID: sopClassUid, SOPInstanceUID: sop, Modality: modality, PatientID: 'TEST-1', StudyInstanceUID: uid(), SeriesInstanceUID: uid() });
  return new Uint8Array(dict.write());
}

function ctPixels(kind: 'int16' | 'uint12' | 'uint8', n: number, seed: number) {
  const p = { ...siteProfiles(2, 1, 10, 10)[kind === 'int16' ? 0 : 1], nativeSize: n };
  const q = quantize(renderSlice(new Random(seed), p).hu, p);
  return kind === 'uint8' ? Uint8Array.from(q.pixels, (v) => Math.max(0, Math.min(255, (v as number) >> 4))) : q.pixels;
}

/** What writeMixedSite wrote, by what `fedrad data index` should make of it. */
export interface MixedSiteExpectation {
  indexedDicom: number;
  indexedNifti: number;
  volumes: number;
  skipped: number;
  refused: Record<string, number>;
}

export function writeMixedSite(root: string): MixedSiteExpectation {
  const put = (path: string, bytes: Uint8Array | string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), bytes);
  };
  const n = 64;
  // Uncompressed, in the three native syntaxes
  (['explicit-le', 'implicit-le', 'explicit-be'] as const).forEach((ts, i) => put(`images/plain/ct-${ts}.dcm`, encodeDicomImage({ ...sliceSpec(ctPixels('int16', n, i), n, n), transferSyntax: ts })));
  // Compressed by third-party encoders
  const encoders: Array<[string, string[], 'int16' | 'uint12' | 'uint8']> = [
    ['jpeg-lossless-sv1', ['dcmcjpeg', '+e1'], 'int16'],
    ['jpeg-lossless-p14', ['dcmcjpeg', '+el', '+sv', '6'], 'uint12'],
    ['jpeg-baseline', ['dcmcjpeg', '+eb'], 'uint8'],
    ['jpeg-ls', ['dcmcjpls'], 'int16'],
    ['jpeg-ls-near', ['dcmcjpls', '+en', '--max-deviation', '2'], 'uint12'],
    ['rle-dcmtk', ['dcmcrle'], 'uint12'],
    ['j2k', ['gdcmconv', '--j2k'], 'int16'],
    ['j2k-lossy', ['gdcmconv', '--j2k', '--lossy', '-q', '70'], 'uint12'],
    ['jpeg-ls-gdcm', ['gdcmconv', '--jpegls'], 'uint12'],
    ['rle-gdcm', ['gdcmconv', '--rle'], 'int16'],
    ['deflated', ['gdcmconv', '--deflated'], 'int16'],
    ['undefined-length', ['dcmconv', '-e'], 'int16'],
    ['trailing-padding', ['dcmconv', '+p', '512', '0'], 'int16'],
  ];
  encoders.forEach(([name, argv, kind], i) => {
    const input = join(root, `.in-${name}.dcm`);
    writeFileSync(input, encodeDicomImage({ ...sliceSpec(ctPixels(kind, n, 10 + i), n, n), bitsStored: kind === 'uint12' ? 12 : undefined }));
    mkdirSync(join(root, 'images/codecs'), { recursive: true });
    execFileSync(argv[0], [...argv.slice(1), input, join(root, `images/codecs/${name}.dcm`)], { stdio: 'pipe' });
    execFileSync('rm', [input]);
  });
  // Robustness: no preamble; bytes after the last element
  put('images/robust/no-preamble.dcm', encodeDicomImage(sliceSpec(ctPixels('int16', n, 40), n, n)).slice(128));
  const garbage = new Uint8Array(37).fill(0xab);
  put('images/robust/trailing-garbage.dcm', Buffer.concat([encodeDicomImage(sliceSpec(ctPixels('int16', n, 41), n, n)), garbage]));
  // Colour: RGB native, and YBR_FULL_422 from dcmtk's JPEG baseline
  const rgb = Uint8Array.from({ length: n * n * 3 }, (_, i) => ((i % 3) * 60 + Math.floor(i / 3 / n) * 2) & 255);
  put('images/colour/rgb.dcm', encodeDicomImage({ ...sliceSpec(rgb, n, n), samplesPerPixel: 3, photometric: 'RGB', modality: 'XC', sopClassUid: SOP_CLASS.secondaryCapture }));
  execFileSync('dcmcjpeg', ['+eb', join(root, 'images/colour/rgb.dcm'), join(root, 'images/colour/rgb-jpeg-ybr.dcm')], { stdio: 'pipe' });
  // 32-bit dose grid
  put('images/dose/rtdose.dcm', encodeDicomImage({ ...sliceSpec(Uint32Array.from({ length: n * n }, (_, i) => i * 1000), n, n), modality: 'RTDOSE', rescaleSlope: 1e-5, rescaleIntercept: 0 }));
  // A CT series (volume) with its SEG
  const s = writeSeries({ size: [32, 32, 6] });
  for (const [p, b] of Object.entries(s.files)) put(p, b);
  const mask = Uint8Array.from({ length: 32 * 32 }, (_, i) => (i % 32 > 10 && i % 32 < 20 && i > 320 && i < 640 ? 1 : 0));
  // the SEG's nested functional-group sequences rewritten by dcmtk with undefined lengths
  put('.seg.dcm', writeSeg({ rows: 32, columns: 32, seriesInstanceUid: s.seriesInstanceUid, sops: s.sops, frames: [{ k: 2, segment: 1, mask }, { k: 3, segment: 1, mask }] }));
  mkdirSync(join(root, 'masks'), { recursive: true });
  execFileSync('dcmconv', ['-e', join(root, '.seg.dcm'), join(root, 'masks/series-seg.dcm')], { stdio: 'pipe' });
  execFileSync('rm', [join(root, '.seg.dcm')]);
  // A series with a missing slice: its files index as 2D images, the volume is refused
  const gap = writeSeries({ size: [16, 16, 5], skip: [2] });
  for (const [p, b] of Object.entries(gap.files)) put(p.replace('images/series/', 'images/series-gap/'), b);
  // NIfTI: a brain-like volume with a label map, and a 4D one
  const affine = [[-1, 0, 0, 90], [0, 1, 0, -126], [0, 0, 1, -72], [0, 0, 0, 1]];
  const brain = { data: Float32Array.from({ length: 24 * 28 * 20 }, (_, i) => (i * 7) % 300), size: [24, 28, 20] as [number, number, number], affine: affine as never };
  put('images/brats/case-001.nii.gz', writeNifti(brain, { gzip: true, datatype: 'int16' }));
  put('masks/brats/case-001.nii.gz', writeNifti({ ...brain, data: brain.data.map((v) => (v > 250 ? 1 : 0)) }, { gzip: true, datatype: 'uint8' }));
  put('images/fmri/run-1.nii', writeNifti({ ...brain, data: new Float32Array(24 * 28 * 20 * 3).fill(5), channels: 3 } as never));
  // Objects without pixels
  put('images/other/rtplan.dcm', encodeNonImage(SOP_CLASS.rtPlan, 'RTPLAN'));
  put('images/other/report-sr.dcm', encodeNonImage('1.2.840.10008.5.1.4.1.1.88.33', 'SR'));
  put('images/other/ecg.dcm', encodeNonImage('1.2.840.10008.5.1.4.1.1.9.1.1', 'ECG'));
  // Broken files
  put('images/broken/truncated.dcm', encodeDicomImage(sliceSpec(ctPixels('int16', n, 50), n, n)).slice(0, 900));
  put('images/broken/notes.txt', 'this is a radiology report, not an image');
  const jls = readFileSync(join(root, 'images/codecs/jpeg-ls.dcm'));
  const corrupt = Uint8Array.from(jls);
  corrupt.fill(0, corrupt.length - 2000, corrupt.length - 1000);
  put('images/broken/corrupt-jpeg-ls.dcm', corrupt);
  const cifti = writeNifti(brain);
  new DataView(cifti.buffer).setInt16(68, 3006, true);
  put('images/broken/surface.dscalar.nii', cifti);
  return {
    indexedDicom: 3 + encoders.length + 2 + 2 + 1 + 6 + 4, indexedNifti: 2, volumes: 1 + 2, skipped: 3,
    refused: { truncated: 1, 'not-dicom': 1, 'codec-error': 1, 'not-nifti': 1, 'series-geometry': 1 },
  };
}
