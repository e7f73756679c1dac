import dcmjs from 'dcmjs';
import { describe, expect, it } from 'vitest';
import { decodeDicomImage, modalityValues, windowedFrame, windowedShrink } from '../../../lib/data/dicom-read.js';
import { encodeDicomImage, SOP_CLASS } from '../../../lib/data/dicom-write.js';
import { applyWindow, resample } from '../../../lib/data/preprocess.js';
import { quantize, renderSlice, siteProfiles, SYNTH_WINDOW, syntheticUid } from '../../../lib/data/synth.js';
import { Random } from '../../../lib/util/random.js';
import { sliceSpec } from '../../support/dicom-corpus.js';

const { DicomMessage, DicomMetaDictionary } = dcmjs.data;

function readWithDcmjs(bytes: Uint8Array) {
  const dict = DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  return { meta: DicomMetaDictionary.naturalizeDataset(dict.meta), ds: DicomMetaDictionary.naturalizeDataset(dict.dict) };
}

describe('synthetic DICOM round trip', () => {
  // One profile of each encoding the generator uses: signed/unsigned-12-bit, implicit/explicit, little/big endian.
  const profiles = siteProfiles(4, 1, 10, 10);

  it.each(profiles.map((p) => [`${p.encoding} ${p.transferSyntax}`, p] as const))('%s: tags parse back with dcmjs, and the loader matches the ground truth after windowing', (_name, profile) => {
    const rng = new Random(5);
    let slice = renderSlice(rng, profile);
    while (slice.label === 0) slice = renderSlice(rng, profile);
    const q = quantize(slice.hu, profile);
    const sop = syntheticUid(rng);
    const bytes = encodeDicomImage({
      ...sliceSpec(q.pixels, profile.nativeSize, profile.nativeSize), sopInstanceUid: sop, bitsStored: q.bitsStored, rescaleIntercept: q.intercept,
      window: SYNTH_WINDOW, pixelSpacing: [profile.pixelSpacing, profile.pixelSpacing], transferSyntax: profile.transferSyntax, patientName: 'Synthetic^Patient1',
    });

    const { meta, ds } = readWithDcmjs(bytes);
    expect(meta.TransferSyntaxUID).toBe({ 'explicit-le': '1.2.840.10008.1.2.1', 'implicit-le': '1.2.840.10008.1.2', 'explicit-be': '1.2.840.10008.1.2.2', rle: '1.2.840.10008.1.2.5' }[profile.transferSyntax]);
    expect(ds.SOPInstanceUID).toBe(sop);
    expect(ds.SOPInstanceUID).toMatch(/^2\.25\.[1-9]\d{0,38}$/);
    expect(ds.Modality).toBe('CT');
    expect(ds.Rows).toBe(profile.nativeSize);
    expect(ds.BitsStored).toBe(q.bitsStored);
    expect(ds.PixelRepresentation).toBe(profile.encoding === 'int16' ? 1 : 0);
    expect(Number(ds.RescaleIntercept)).toBe(q.intercept);
    expect(Number(ds.WindowCenter)).toBe(40);
    expect(ds.PixelSpacing.map(Number)).toEqual([profile.pixelSpacing, profile.pixelSpacing]);
    expect(JSON.stringify(ds.PatientName)).toContain('Synthetic^Patient1');

    const img = decodeDicomImage(bytes, 'slice.dcm');
    const values = modalityValues(img);
    // Modality values equal the ground truth to the quantization step (and the 12-bit clip).
    let maxErr = 0;
    slice.hu.forEach((hu, i) => {
      if (hu > -1024 && hu < 3000) maxErr = Math.max(maxErr, Math.abs(values[i] - hu));
    });
    expect(maxErr).toBeLessThanOrEqual(0.5);
    const size = 32;
    const fromFile = resample(windowedFrame(img, 0, img.window!, new Float32Array(img.rows * img.columns)), img.rows, img.columns, size);
    const truth = resample(applyWindow(slice.hu, SYNTH_WINDOW, false), profile.nativeSize, profile.nativeSize, size);
    let diff = 0;
    fromFile.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - truth[i]))));
    expect(diff).toBeLessThan(0.5 / 399 + 1e-6);
  });

  it('reads MONOCHROME1, 8-bit, multi-frame and files without optional tags', () => {
    const frames = 3;
    const px = Uint8Array.from({ length: frames * 4 * 4 }, (_, i) => i);
    const bytes = encodeDicomImage({ ...sliceSpec(px, 4, 4), frames, photometric: 'MONOCHROME1', rescaleSlope: undefined, rescaleIntercept: undefined, modality: 'DX', sopClassUid: SOP_CLASS.secondaryCapture });
    const img = decodeDicomImage(bytes, 'mf.dcm');
    expect(img).toMatchObject({ frames: 3, rows: 4, columns: 4, photometric: 'MONOCHROME1', rescaleSlope: 1, rescaleIntercept: 0, modality: 'DX' });
    expect(img.window).toBeUndefined();
    expect(img.pixelSpacing).toBeUndefined();
    expect(Array.from(modalityValues(img))).toEqual(Array.from(px));
    // frame 2 windowed: MONOCHROME1 inverts, so its brightest stored value comes out darkest
    const f2 = windowedFrame(img, 2, { center: 40, width: 16 }, new Float32Array(16));
    expect(f2[15]).toBeCloseTo(0, 6);
    expect(f2[0]).toBeCloseTo(1, 6);
    // MONOCHROME1: higher values display darker, so windowing inverts
    const w = applyWindow([0, 47], { center: 24, width: 48 }, true);
    expect(w[0]).toBeCloseTo(1, 6);
    expect(w[1]).toBeCloseTo(0, 6);
  });

  it('reads 12-bit stored values with overlay bits above BitsStored masked off, and sign-extends 12-bit signed', () => {
    const px = Uint16Array.from([0x0fff, 0xf000 | 0x0800, 0x0001, 0x07ff]);
    const unsigned = decodeDicomImage(encodeDicomImage({ ...sliceSpec(px, 2, 2), bitsStored: 12 }), 'u12.dcm');
    expect(Array.from(modalityValues(unsigned))).toEqual([4095, 2048, 1, 2047]);
    const signedBytes = encodeDicomImage({ ...sliceSpec(Int16Array.from(px, (v) => (v << 16) >> 16), 2, 2), bitsStored: 12 });
    expect(Array.from(modalityValues(decodeDicomImage(signedBytes, 's12.dcm')))).toEqual([-1, -2048, 1, 2047]);
  });

  it('windows and shrinks in one pass exactly as windowing then block-averaging does, and declines other sizes', () => {
    const px = Int16Array.from({ length: 64 * 64 }, (_, i) => ((i * 7919) % 2000) - 1000);
    for (const photometric of ['MONOCHROME1', 'MONOCHROME2'] as const) {
      const img = decodeDicomImage(encodeDicomImage({ ...sliceSpec(px, 64, 64), photometric, rescaleSlope: 1.5, rescaleIntercept: -20 }), 'w.dcm');
      const two = resample(windowedFrame(img, 0, SYNTH_WINDOW, new Float32Array(64 * 64)), 64, 64, 16);
      const one = windowedShrink(img, 0, SYNTH_WINDOW, 16, new Float32Array(256))!;
      expect(Array.from(one)).toEqual(Array.from(two));
      expect(windowedShrink(img, 0, SYNTH_WINDOW, 24, new Float32Array(576))).toBeUndefined();
    }
  });
});
