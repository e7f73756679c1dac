// Pixel data beyond 8/16-bit grey: colour to luminance by the documented rule, 32-bit integers,
// 1-bit packed masks, and the refusals of what is not read.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dicomParser from 'dicom-parser';
import { describe, expect, it } from 'vitest';
import { decodeDicomImage, loadCodecs, modalityValues } from '../../../lib/data/dicom-read.js';
import { encodeDicomImage } from '../../../lib/data/dicom-write.js';
import { patchAscii, sliceSpec } from '../../support/dicom-corpus.js';
import { encodeNonImage } from '../../support/mixed-site.js';

const luma = (r: number, g: number, b: number) => Math.round(0.299 * r + 0.587 * g + 0.114 * b);

describe('pixel data', () => {
  const rgb = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 200, 100, 50, 0, 0, 0]); // 3x2 pixels

  it('turns RGB into ITU-R BT.601 luma, interleaved or planar', () => {
    const img = decodeDicomImage(encodeDicomImage({ ...sliceSpec(rgb, 2, 3), samplesPerPixel: 3, photometric: 'RGB' }), 'rgb.dcm');
    const expected = [0, 1, 2, 3, 4, 5].map((p) => luma(rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2]));
    expect(Array.from(img.stored!)).toEqual(expected);
    expect(img).toMatchObject({ photometric: 'MONOCHROME2', sourcePhotometric: 'RGB' });
    const planar = Uint8Array.from([0, 1, 2].flatMap((c) => [0, 1, 2, 3, 4, 5].map((p) => rgb[3 * p + c])));
    const bytes = encodeDicomImage({ ...sliceSpec(planar, 2, 3), samplesPerPixel: 3, photometric: 'RGB' });
    // PlanarConfiguration (0028,0006) US 0 -> 1
    const at = Buffer.from(bytes).indexOf(Buffer.from([0x28, 0x00, 0x06, 0x00, 0x55, 0x53, 0x02, 0x00, 0x00, 0x00]));
    bytes[at + 8] = 1;
    expect(Array.from(decodeDicomImage(bytes, 'planar.dcm').stored!)).toEqual(expected);
  });

  it('takes the Y sample of YBR_FULL, and reads dcmtk\'s lossy YBR_FULL_422 JPEG of an RGB image within JPEG error', async () => {
    const ybr = Uint8Array.from([100, 128, 128, 50, 10, 200, 0, 0, 0, 255, 1, 2, 7, 7, 7, 90, 80, 70]);
    const img = decodeDicomImage(encodeDicomImage({ ...sliceSpec(ybr, 2, 3), samplesPerPixel: 3, photometric: 'YBR_FULL' }), 'ybr.dcm');
    expect(Array.from(img.stored!)).toEqual([100, 50, 0, 255, 7, 90]);
    const dir = mkdtempSync(join(tmpdir(), 'fedrad-colour-'));
    try {
      const n = 32;
      const smooth = Uint8Array.from({ length: n * n * 3 }, (_, i) => (Math.floor(i / 3) % n) * 4 + (i % 3) * 20);
      writeFileSync(join(dir, 'in.dcm'), encodeDicomImage({ ...sliceSpec(smooth, n, n), samplesPerPixel: 3, photometric: 'RGB' }));
      execFileSync('dcmcjpeg', ['+eb', '+q', '95', join(dir, 'in.dcm'), join(dir, 'out.dcm')], { stdio: 'pipe' });
      await loadCodecs(['jpeg-baseline']);
      const jpeg = decodeDicomImage(new Uint8Array(readFileSync(join(dir, 'out.dcm'))), 'jpeg.dcm');
      expect(jpeg.sourcePhotometric).toBe('YBR_FULL_422');
      let err = 0;
      for (let p = 0; p < n * n; p++) err = Math.max(err, Math.abs(jpeg.stored![p] - luma(smooth[3 * p], smooth[3 * p + 1], smooth[3 * p + 2])));
      expect(err).toBeLessThanOrEqual(6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads 32-bit signed and unsigned integers exactly, with the rescale', () => {
    const u32 = Uint32Array.from([0, 1, 4_000_000_000, 123_456_789]);
    const img = decodeDicomImage(encodeDicomImage({ ...sliceSpec(u32, 2, 2), modality: 'RTDOSE', rescaleSlope: 0.5, rescaleIntercept: 0 }), 'dose.dcm');
    expect(Array.from(img.stored!)).toEqual(Array.from(u32));
    expect(Array.from(modalityValues(img))).toEqual(Array.from(u32, (v) => Math.fround(v * 0.5)));
    const i32 = Int32Array.from([-2_000_000_000, -1, 0, 2_000_000_000]);
    expect(Array.from(decodeDicomImage(encodeDicomImage({ ...sliceSpec(i32, 2, 2), transferSyntax: 'explicit-be' }), 'be32.dcm').stored!)).toEqual(Array.from(i32));
  });

  it('unpacks 1-bit frames, least significant bit first, across frame boundaries', () => {
    const bits = Uint8Array.from({ length: 3 * 3 * 3 }, (_, i) => (i * 5) % 3 === 0 ? 1 : 0); // 27 bits: frames are not byte-aligned
    const img = decodeDicomImage(encodeDicomImage({ ...sliceSpec(bits, 3, 3), frames: 3, packBits: true, modality: 'SEG' }), 'bits.dcm');
    expect(img.bitsAllocated).toBe(1);
    expect(Array.from(img.stored!)).toEqual(Array.from(bits));
  });

  it('refuses what it does not read, naming it, and skips objects without pixels with their SOP class', () => {
    const grey = encodeDicomImage(sliceSpec(Int16Array.from([1, 2, 3, 4]), 2, 2));
    expect(() => decodeDicomImage(patchAscii(grey, 'MONOCHROME2', 'HSV        '), 'hsv.dcm')).toThrow(
      'hsv.dcm: PhotometricInterpretation "HSV" is not read; MONOCHROME1, MONOCHROME2, RGB, YBR_FULL, YBR_FULL_422, YBR_ICT, YBR_RCT, PALETTE COLOR are',
    );
    expect(() => decodeDicomImage(encodeNonImage('1.2.840.10008.5.1.4.1.1.481.5', 'RTPLAN'), 'plan.dcm')).toThrow('plan.dcm: no pixel data (RT Plan Storage)');
    expect(() => decodeDicomImage(encodeNonImage('1.2.3.4.5.6', 'OT'), 'other.dcm')).toThrow('other.dcm: no pixel data (SOP class 1.2.3.4.5.6)');
    const noPreambleNoMeta = grey.slice(132 + (new DataView(grey.buffer).getUint32(140, true) + 12));
    expect(decodeDicomImage(noPreambleNoMeta, 'bare.dcm').stored!.length).toBe(4);
  });
});

describe('parsing', () => {
  it('reads past a private sequence of undefined length, nested items and an odd-length element', () => {
    const px = Int16Array.from({ length: 16 }, (_, i) => i * 3 - 7);
    const file = encodeDicomImage(sliceSpec(px, 4, 4));
    const at = dicomParser.parseDicom(file).elements.x00100010.dataOffset - 8; // before (0010,0010)
    const el = (group: number, element: number, vr: string, value: number[]) => [group & 255, group >> 8, element & 255, element >> 8, vr.charCodeAt(0), vr.charCodeAt(1), value.length & 255, value.length >> 8, ...value];
    const text = (t: string) => Array.from(t, (c) => c.charCodeAt(0));
    const undefinedLength = [0xff, 0xff, 0xff, 0xff];
    const inserted = [
      ...el(0x0009, 0x0010, 'LO', text('FEDRAD')),
      // (0009,1001) SQ, undefined length: one item of undefined length holding a nested private sequence
      0x09, 0x00, 0x01, 0x10, 0x53, 0x51, 0, 0, ...undefinedLength,
      0xfe, 0xff, 0x00, 0xe0, ...undefinedLength,
      ...el(0x0009, 0x0010, 'LO', text('INNER ')),
      0x09, 0x00, 0x01, 0x10, 0x53, 0x51, 0, 0, ...undefinedLength,
      0xfe, 0xff, 0x00, 0xe0, ...undefinedLength, ...el(0x0010, 0x0010, 'PN', text('Deep^Name ')), 0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0,
      0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0,
      0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0,
      0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0,
      ...el(0x0009, 0x1002, 'LO', text('ODD')), // odd length: not conformant, still read
    ];
    const bytes = new Uint8Array(file.length + inserted.length);
    bytes.set(file.subarray(0, at));
    bytes.set(inserted, at);
    bytes.set(file.subarray(at), at + inserted.length);
    const img = decodeDicomImage(bytes, 'private.dcm');
    expect(Array.from(img.stored!)).toEqual(Array.from(px));
  });
});
