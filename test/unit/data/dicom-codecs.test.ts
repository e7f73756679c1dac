// Compressed DICOM written by third-party encoders (Debian's dcmtk and libgdcm-tools, installed by
// .ci/run) decodes to the pixels we gave them: bit-exactly for lossless syntaxes, within a stated
// error for lossy ones.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dicomParser from 'dicom-parser';
import { decodeDicomImage, loadCodecs } from '../../../lib/data/dicom-read.js';
import { decodeLosslessFast } from '../../../lib/data/dicom/jpeg-lossless.js';
import { encodeDicomImage } from '../../../lib/data/dicom-write.js';
import { quantize, renderSlice, siteProfiles } from '../../../lib/data/synth.js';
import { Random } from '../../../lib/util/random.js';
import { sliceSpec } from '../../support/dicom-corpus.js';

const has = (tool: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const tools = has('dcmcjpeg') && has('gdcmconv');
if (!tools) console.warn('dicom-codecs: dcmtk or libgdcm-tools is not installed (.ci/run installs them); the third-party encoder tests are skipped');

/** Our synthetic CT in each pixel encoding a scanner writes. */
function pixelsOf(kind: 'int16' | 'uint12' | 'uint8', n: number): Int16Array | Uint16Array | Uint8Array {
  const p = { ...siteProfiles(2, 1, 10, 10)[kind === 'int16' ? 0 : 1], nativeSize: n };
  const q = quantize(renderSlice(new Random(11), p).hu, p);
  if (kind === 'uint8') return Uint8Array.from(q.pixels, (v) => Math.max(0, Math.min(255, (v as number) >> 4)));
  return q.pixels;
}

// [name, encoder argv (input, output appended), pixel kinds, stated error in stored values, transfer syntax].
// The error is the maximum absolute difference, except for lossy JPEG 2000, whose rate control spreads
// error unevenly: there it is the root-mean-square difference. Lossy files are also compared with
// gdcm's own decode of them.
const CASES: Array<[string, string[], Array<'int16' | 'uint12' | 'uint8'>, number, string]> = [
  ['dcmcjpeg JPEG lossless SV1', ['dcmcjpeg', '+e1'], ['int16', 'uint12', 'uint8'], 0, '1.2.840.10008.1.2.4.70'],
  ['dcmcjpeg JPEG lossless process 14, predictor 6', ['dcmcjpeg', '+el', '+sv', '6'], ['int16', 'uint12', 'uint8'], 0, '1.2.840.10008.1.2.4.57'],
  ['dcmcjpeg JPEG baseline (lossy, quality 90)', ['dcmcjpeg', '+eb', '+q', '90'], ['uint8'], 24, '1.2.840.10008.1.2.4.50'],
  ['dcmcjpls JPEG-LS lossless', ['dcmcjpls'], ['int16', 'uint12', 'uint8'], 0, '1.2.840.10008.1.2.4.80'],
  ['dcmcjpls JPEG-LS near-lossless, deviation 3', ['dcmcjpls', '+en', '--max-deviation', '3'], ['uint12', 'uint8'], 3, '1.2.840.10008.1.2.4.81'],
  ['dcmcrle RLE', ['dcmcrle'], ['int16', 'uint12', 'uint8'], 0, '1.2.840.10008.1.2.5'],
  ['gdcmconv --j2k (lossless)', ['gdcmconv', '--j2k'], ['int16', 'uint12', 'uint8'], 0, '1.2.840.10008.1.2.4.90'],
  ['gdcmconv --j2k --lossy -q 70 (lossy, PSNR 70 dB of the 16-bit range; RMS)', ['gdcmconv', '--j2k', '--lossy', '-q', '70'], ['uint12', 'uint8'], -1, '1.2.840.10008.1.2.4.91'],
  ['gdcmconv --jpegls', ['gdcmconv', '--jpegls'], ['int16', 'uint12', 'uint8'], 0, '1.2.840.10008.1.2.4.80'],
  ['gdcmconv --rle', ['gdcmconv', '--rle'], ['int16', 'uint12', 'uint8'], 0, '1.2.840.10008.1.2.5'],
  ['gdcmconv --deflated', ['gdcmconv', '--deflated'], ['int16', 'uint12'], 0, '1.2.840.10008.1.2.1.99'],
  ['dcmconv +td (deflated)', ['dcmconv', '+td'], ['uint8'], 0, '1.2.840.10008.1.2.1.99'],
];

describe.skipIf(!tools)('compressed DICOM from dcmtk and gdcm', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fedrad-codecs-'));
    await loadCodecs();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const rows = CASES.flatMap(([name, argv, kinds, maxErr, syntax]) => kinds.map((kind) => [`${name}, ${kind}`, argv, kind, maxErr, syntax] as const));
  it.each(rows)('%s decodes within its stated error', (label, argv, kind, maxErr, syntax) => {
    const n = 96;
    const pixels = pixelsOf(kind, n);
    const input = join(dir, `${label.replace(/\W+/g, '_')}.in.dcm`);
    const output = input.replace('.in.', '.out.');
    writeFileSync(input, encodeDicomImage({ ...sliceSpec(pixels, n, n), bitsStored: kind === 'uint12' ? 12 : undefined }));
    execFileSync(argv[0], [...argv.slice(1), input, output], { stdio: 'pipe' });
    const img = decodeDicomImage(readFileSync(output), 'encoded.dcm');
    expect(img.transferSyntax).toBe(syntax);
    expect(img.stored!.length).toBe(n * n);
    if (syntax === '1.2.840.10008.1.2.4.57' || syntax === '1.2.840.10008.1.2.4.70') {
      // one-component lossless streams take our fast path, not the fallback
      const ds = dicomParser.parseDicom(readFileSync(output));
      const el = ds.elements.x7fe00010;
      expect(decodeLosslessFast(dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, el.fragments!.length) as Uint8Array)).toBeDefined();
    }
    let err = 0;
    let squares = 0;
    for (let i = 0; i < n * n; i++) {
      const d = Math.abs(img.stored![i] - pixels[i]);
      err = Math.max(err, d);
      squares += d * d;
    }
    if (maxErr >= 0) expect(err).toBeLessThanOrEqual(maxErr);
    // lossy JPEG 2000: RMS within 2% of the stored range
    else expect(Math.sqrt(squares / (n * n))).toBeLessThanOrEqual(0.02 * (kind === 'uint8' ? 255 : 4095));
    if (maxErr !== 0) {
      expect(err, 'a lossy syntax should lose something').toBeGreaterThan(0);
      // and what it kept, we read as the reference decoder (gdcm) does, to within one IDCT rounding step
      execFileSync('gdcmconv', ['--raw', output, `${output}.raw`], { stdio: 'pipe' });
      const reference = decodeDicomImage(readFileSync(`${output}.raw`), 'reference.dcm').stored!;
      let vsReference = 0;
      for (let i = 0; i < n * n; i++) vsReference = Math.max(vsReference, Math.abs(img.stored![i] - reference[i]));
      expect(vsReference).toBeLessThanOrEqual(1);
    }
  });

  it('decodes HTJ2K written by OpenJPH (its encoder), bit-exactly, 16-bit signed and 8-bit', async () => {
    const { createRequire } = await import('node:module');
    const openjph = await (createRequire(import.meta.url)('@cornerstonejs/codec-openjph/wasmjs') as (o: object) => Promise<Record<string, new () => any>>)({ print: () => {}, printErr: () => {} });
    for (const kind of ['int16', 'uint8'] as const) {
      const n = 64;
      const pixels = pixelsOf(kind, n);
      const encoder = new openjph.HTJ2KEncoder();
      const bytes = new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength);
      encoder.getDecodedBuffer({ width: n, height: n, bitsPerSample: kind === 'uint8' ? 8 : 16, componentCount: 1, isSigned: kind === 'int16', isUsingColorTransform: false }).set(bytes);
      encoder.encode();
      const codestream = encoder.getEncodedBuffer().slice();
      const file = encodeDicomImage({ ...sliceSpec(pixels, n, n), compressed: { transferSyntaxUid: '1.2.840.10008.1.2.4.201', frames: [codestream] } });
      const img = decodeDicomImage(file, 'htj2k.dcm');
      expect(img.transferSyntax).toBe('1.2.840.10008.1.2.4.201');
      expect(Array.from(img.stored!)).toEqual(Array.from(pixels));
    }
  });

  it('refuses 12-bit JPEG Extended with the reason and a conversion to try', () => {
    const input = join(dir, 'u12-ext.in.dcm');
    writeFileSync(input, encodeDicomImage({ ...sliceSpec(pixelsOf('uint12', 32), 32, 32), bitsStored: 12 }));
    execFileSync('dcmcjpeg', ['+ee', input, `${input}.out`], { stdio: 'pipe' });
    expect(() => decodeDicomImage(readFileSync(`${input}.out`), 'ext.dcm')).toThrow(
      'ext.dcm: frame 1 of 1 (JPEG Extended (Process 2 & 4)): 12-bit JPEG Extended (DCT) is not decoded by fedrad; convert the file to a lossless syntax first, e.g. with dcmdjpeg then dcmcjpls',
    );
  });
});
