// One DICOM image file to stored pixel values and the tags fedrad needs: identity, geometry,
// rescale and window. Pixel data of every readable transfer syntax is decoded to one grey value
// per pixel: colour becomes luminance (docs/data-formats.md, "Colour"), 1-bit SEG frames 0/1, and
// 32-bit integer or float data stays exact.
import dicomParser from 'dicom-parser';
import { DicomFileError } from '../../errors.js';
import { type DecodedSamples, decodeFrame, type FrameLayout } from './codecs.js';
import { parseDicomFile, quote, refuse } from './parse.js';
import { sopClassName } from './sop-class.js';
import { type PixelEncoding, transferSyntaxName, transferSyntaxOf } from './transfer-syntax.js';

export type StoredPixels = Int8Array | Uint8Array | Uint16Array | Int16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/** A file that holds no image (RT plan, structured report, waveform...): listed as skipped, not refused. */
export class NotAnImageError extends DicomFileError {}

export interface DecodedImage {
  file: string;
  sopInstanceUid: string;
  sopClassUid?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  modality: string;
  rows: number;
  columns: number;
  frames: number;
  /** after colour conversion: always one of the two grey interpretations */
  photometric: 'MONOCHROME1' | 'MONOCHROME2';
  /** the file's own PhotometricInterpretation (RGB, YBR_FULL, PALETTE COLOR...) */
  sourcePhotometric: string;
  bitsAllocated: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  /** window from the file's tags (first value when several), if present */
  window?: { center: number; width: number };
  /** row spacing, column spacing in mm */
  pixelSpacing?: [number, number];
  /** Image Position (Patient): the centre of the first pixel, mm, LPS */
  imagePosition?: [number, number, number];
  /** Image Orientation (Patient): row direction then column direction cosines, LPS */
  imageOrientation?: [number, number, number, number, number, number];
  sliceThickness?: number;
  transferSyntax: string;
  referencedSopInstanceUid?: string;
  /** stored pixel values, frames x rows x columns, native endian, overlay bits cleared (absent when only the header was read) */
  stored?: StoredPixels;
}

function numbers(ds: dicomParser.DataSet, tag: string): number[] | undefined {
  const text = ds.string(tag);
  if (!text) return undefined;
  const values = text.split('\\').map((v) => Number(v.trim()));
  return values.every(Number.isFinite) ? values : undefined;
}

const first = (ds: dicomParser.DataSet, tag: string) => numbers(ds, tag)?.[0];

/** A tag from the shared functional groups of an enhanced multi-frame object, else the top level. */
function sharedOrTop(ds: dicomParser.DataSet, seq: string, tag: string): number[] | undefined {
  const top = numbers(ds, tag);
  if (top) return top;
  const shared = ds.elements.x52009229?.items?.[0]?.dataSet;
  const perFrame = ds.elements.x52009230?.items?.[0]?.dataSet;
  for (const g of [shared, perFrame]) {
    const inner = g?.elements[seq]?.items?.[0]?.dataSet;
    const v = inner && numbers(inner, tag);
    if (v) return v;
  }
  return undefined;
}

export function decodeDicomImage(input: Uint8Array, file: string, opts: { headerOnly?: boolean } = {}): DecodedImage {
  const parsed = parseDicomFile(input, file, { untilTag: opts.headerOnly ? 'x7fe00010' : undefined });
  const { ds } = parsed;
  const syntax = transferSyntaxOf(parsed.transferSyntaxUid);
  if (!syntax) {
    refuse(file, 'unsupported-transfer-syntax', `transfer syntax ${quote(parsed.transferSyntaxUid, 64)} (${transferSyntaxName(parsed.transferSyntaxUid)}) is not read by fedrad; convert the file to Explicit VR Little Endian, e.g. with dcmconv +te or gdcmconv --raw`);
  }
  const sopClassUid = ds.string('x00080016')?.trim();
  const hasPixels = ds.elements.x7fe00010 || ds.elements.x7fe00008 || ds.elements.x7fe00009;
  const rows = ds.uint16('x00280010') ?? 0;
  const columns = ds.uint16('x00280011') ?? 0;
  if (!hasPixels && !rows && !opts.headerOnly) {
    throw new NotAnImageError(`${file}: no pixel data (${sopClassName(sopClassUid)})`, { file, code: 'no-pixel-data', sopClassUid });
  }
  if (opts.headerOnly && !rows && !columns) {
    throw new NotAnImageError(`${file}: no pixel data (${sopClassName(sopClassUid)})`, { file, code: 'no-pixel-data', sopClassUid });
  }
  if (!rows || !columns) refuse(file, 'bad-header', `Rows (${rows}) and Columns (${columns}) must both be present and positive`);
  const samples = ds.uint16('x00280002') ?? 1;
  const sourcePhotometric = (ds.string('x00280004') ?? (samples === 3 ? 'RGB' : 'MONOCHROME2')).trim().toUpperCase();
  const known = ['MONOCHROME1', 'MONOCHROME2', 'RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_ICT', 'YBR_RCT', 'PALETTE COLOR'];
  if (!known.includes(sourcePhotometric)) refuse(file, 'unsupported-pixels', `PhotometricInterpretation "${quote(sourcePhotometric, 32)}" is not read; ${known.join(', ')} are`);
  if (samples !== 1 && samples !== 3) refuse(file, 'unsupported-pixels', `SamplesPerPixel is ${samples}; 1 (grey) or 3 (colour) are read`);
  const frames = Number.parseInt(ds.string('x00280008') ?? '1', 10) || 1;
  const slope = first(ds, 'x00281053') ?? sharedOrTop(ds, 'x00289145', 'x00281053')?.[0] ?? 1;
  const intercept = first(ds, 'x00281052') ?? sharedOrTop(ds, 'x00289145', 'x00281052')?.[0] ?? 0;
  const center = first(ds, 'x00281050');
  const width = first(ds, 'x00281051');
  const spacing = sharedOrTop(ds, 'x00289110', 'x00280030');
  const position = sharedOrTop(ds, 'x00209113', 'x00200032');
  const orientation = sharedOrTop(ds, 'x00209116', 'x00200037');
  const refSeq = ds.elements.x00081140?.items?.[0]?.dataSet;
  const sopInstanceUid = ds.string('x00080018')?.trim();
  if (!sopInstanceUid) refuse(file, 'bad-header', 'SOP Instance UID (0008,0018) is missing');
  const image: DecodedImage = {
    file,
    sopInstanceUid,
    sopClassUid,
    studyInstanceUid: ds.string('x0020000d')?.trim(),
    seriesInstanceUid: ds.string('x0020000e')?.trim(),
    modality: ds.string('x00080060')?.trim() || 'OT',
    rows,
    columns,
    frames,
    photometric: sourcePhotometric === 'MONOCHROME1' ? 'MONOCHROME1' : 'MONOCHROME2',
    sourcePhotometric,
    bitsAllocated: ds.uint16('x00280100') ?? (ds.elements.x7fe00008 ? 32 : ds.elements.x7fe00009 ? 64 : 16),
    rescaleSlope: slope === 0 ? 1 : slope,
    rescaleIntercept: intercept,
    window: center !== undefined && width !== undefined && width > 0 ? { center, width } : undefined,
    pixelSpacing: spacing && spacing.length === 2 && spacing.every((v) => v > 0) ? [spacing[0], spacing[1]] : undefined,
    imagePosition: position?.length === 3 ? [position[0], position[1], position[2]] : undefined,
    imageOrientation: orientation?.length === 6 ? (orientation as DecodedImage['imageOrientation']) : undefined,
    sliceThickness: first(ds, 'x00180050'),
    transferSyntax: syntax.uid,
    referencedSopInstanceUid: refSeq?.string('x00081155')?.trim(),
  };
  if (opts.headerOnly) return image;
  image.stored = readPixels(parsed.ds, parsed.bytes, image, syntax.encoding, syntax.littleEndian, samples);
  return image;
}

function readPixels(ds: dicomParser.DataSet, bytes: Uint8Array, img: DecodedImage, encoding: PixelEncoding, littleEndian: boolean, samples: number): StoredPixels {
  const floatEl = ds.elements.x7fe00008 ?? ds.elements.x7fe00009;
  const el = ds.elements.x7fe00010 ?? floatEl;
  if (!el) return refuse(img.file, 'no-pixel-data', `has Rows and Columns but no Pixel Data (7FE0,0010)`);
  const bitsAllocated = img.bitsAllocated;
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const signed = (ds.uint16('x00280103') ?? 0) === 1;
  const per = img.rows * img.columns;
  const count = per * img.frames;
  if (encoding !== 'native') {
    if (!el.encapsulatedPixelData) refuse(img.file, 'bad-header', `the transfer syntax is compressed (${transferSyntaxName(img.transferSyntax)}) but the pixel data is not encapsulated`);
    if (bitsAllocated !== 8 && bitsAllocated !== 16) refuse(img.file, 'unsupported-pixels', `BitsAllocated ${bitsAllocated} in compressed pixel data; 8 or 16 are read`);
    const layout: FrameLayout = { rows: img.rows, columns: img.columns, samplesPerPixel: samples, bitsAllocated, signed };
    const out = bitsAllocated === 8 ? new Uint8Array(count) : signed ? new Int16Array(count) : new Uint16Array(count);
    for (let f = 0; f < img.frames; f++) {
      const data = encapsulatedFrame(ds, el, f, img);
      let decoded: DecodedSamples;
      try {
        decoded = decodeFrame(encoding, data, layout);
      } catch (cause) {
        return refuse(img.file, 'codec-error', `frame ${f + 1} of ${img.frames} (${transferSyntaxName(img.transferSyntax)}): ${quote(cause, 160)}`, cause);
      }
      // libjpeg and OpenJPEG return colour as RGB whatever the YBR photometric says.
      const asRgb = img.sourcePhotometric.startsWith('YBR') ? 'RGB' : img.sourcePhotometric;
      out.set(samples === 3 ? toLuminance(decoded, per, asRgb, ds, img) : decoded.subarray(0, per) as never, f * per);
    }
    return maskBits(out, bitsStored, signed);
  }
  if (el.encapsulatedPixelData) refuse(img.file, 'bad-header', 'pixel data is encapsulated (compressed) although the transfer syntax is native');
  if (floatEl) {
    const width = ds.elements.x7fe00009 ? 8 : 4;
    const needed = count * width;
    checkLength(img, el.length, bytes.length - el.dataOffset, needed, ' x BitsAllocated/8', ` x ${width}`);
    const copy = copyOf(bytes, el.dataOffset, el.dataOffset + needed);
    if (!littleEndian) swap(copy, width);
    return width === 8 ? new Float64Array(copy.buffer) : new Float32Array(copy.buffer);
  }
  if (bitsAllocated === 1) {
    const needed = Math.ceil((count * samples) / 8);
    checkLength(img, el.length, bytes.length - el.dataOffset, needed, ' / 8 (1 bit per pixel, rounded up)', ' / 8');
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = (bytes[el.dataOffset + (i >> 3)] >> (i & 7)) & 1;
    return out;
  }
  if (![8, 16, 32].includes(bitsAllocated)) refuse(img.file, 'unsupported-pixels', `BitsAllocated ${bitsAllocated} is not read; 1, 8, 16 or 32 are`);
  const width = bitsAllocated / 8;
  // YBR_FULL_422 stores two luma samples and one Cb, Cr pair per two pixels.
  const sampleCount = img.sourcePhotometric === 'YBR_FULL_422' && samples === 3 ? count * 2 : count * samples;
  const needed = sampleCount * width;
  checkLength(img, el.length, bytes.length - el.dataOffset, needed, samples === 1 ? ' x BitsAllocated/8' : ' x SamplesPerPixel x BitsAllocated/8', samples === 1 ? ` x ${width}` : ` x ${sampleCount / count} x ${width}`);
  // Little-endian words already aligned in memory are used in place (no 512 KiB copy per CT slice),
  // unless masking overlay bits would write into the caller's bytes.
  const inPlace = littleEndian && width > 1 && (bytes.byteOffset + el.dataOffset) % width === 0 && samples === 1 && bitsStored === bitsAllocated && img.sourcePhotometric !== 'PALETTE COLOR';
  const copy = inPlace ? bytes.subarray(el.dataOffset, el.dataOffset + needed) : copyOf(bytes, el.dataOffset, el.dataOffset + needed);
  if (!littleEndian && width > 1) swap(copy, width);
  let raw: StoredPixels;
  const words = sampleCount;
  if (width === 1) raw = copy;
  else if (width === 2) raw = signed && bitsStored === 16 ? new Int16Array(copy.buffer, copy.byteOffset, words) : new Uint16Array(copy.buffer, copy.byteOffset, words);
  else raw = signed ? new Int32Array(copy.buffer, copy.byteOffset, words) : new Uint32Array(copy.buffer, copy.byteOffset, words);
  if (samples === 3) {
    const out = width === 1 ? new Uint8Array(count) : new Uint16Array(count);
    const planar = (ds.uint16('x00280006') ?? 0) === 1;
    for (let f = 0; f < img.frames; f++) {
      const frameSamples = sampleCount / img.frames;
      let frame = raw.subarray(f * frameSamples, (f + 1) * frameSamples) as Uint8Array | Uint16Array;
      if (planar) frame = interleave(frame, per);
      out.set(toLuminance(frame, per, img.sourcePhotometric, ds, img), f * per);
    }
    return out;
  }
  if (img.sourcePhotometric === 'PALETTE COLOR') {
    const out = new Uint16Array(count);
    const lut = paletteLuminance(ds, img);
    for (let i = 0; i < count; i++) out[i] = lut(raw[i]);
    return out;
  }
  return width === 4 ? raw : maskBits(raw as Uint8Array | Uint16Array | Int16Array, bitsStored, signed);
}

function checkLength(img: DecodedImage, declared: number, available: number, needed: number, unitName: string, unitValue: string): void {
  const have = Math.min(declared, available);
  const sizes = `Rows x Columns x Frames${unitName} = ${img.rows} x ${img.columns} x ${img.frames}${unitValue} = ${needed}`;
  if (have < needed) refuse(img.file, 'pixel-size-mismatch', `pixel data has ${Math.max(0, have)} bytes but ${sizes}`);
  // Padding up to one row is tolerated (some writers pad to even or to a word); more means Rows/Columns are wrong.
  const rowBytes = needed / (img.rows * img.frames);
  if (declared > needed + Math.max(1, rowBytes - 1)) refuse(img.file, 'pixel-size-mismatch', `pixel data has ${declared} bytes, more than ${sizes}: Rows/Columns do not match the data`);
}

/** A copy with its own aligned buffer (a Node Buffer's slice would share the pool's memory). */
function copyOf(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes, start, end);
}

function swap(bytes: Uint8Array, width: number): void {
  for (let i = 0; i + width <= bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

function encapsulatedFrame(ds: dicomParser.DataSet, el: dicomParser.Element, frame: number, img: DecodedImage): Uint8Array {
  const fragments = el.fragments ?? [];
  if (fragments.length === 0) refuse(img.file, 'truncated', 'the encapsulated pixel data holds no fragments');
  const parser = dicomParser;
  try {
    if (img.frames === 1) return parser.readEncapsulatedPixelDataFromFragments(ds, el, 0, fragments.length) as Uint8Array;
    if (fragments.length === img.frames) return parser.readEncapsulatedPixelDataFromFragments(ds, el, frame, 1) as Uint8Array;
    const table = el.basicOffsetTable?.length ? el.basicOffsetTable : parser.createJPEGBasicOffsetTable(ds, el);
    return parser.readEncapsulatedImageFrame(ds, el, frame, table) as Uint8Array;
  } catch (cause) {
    return refuse(img.file, 'truncated', `frame ${frame + 1} of ${img.frames} cannot be located in the encapsulated pixel data (${fragments.length} fragments): ${quote(cause)}`, cause);
  }
}


function interleave(src: Uint8Array | Uint16Array, per: number): Uint8Array | Uint16Array {
  const out = new (src.constructor as Uint8ArrayConstructor)(src.length) as Uint8Array | Uint16Array;
  for (let i = 0; i < per; i++) for (let c = 0; c < 3; c++) out[3 * i + c] = src[c * per + i];
  return out;
}

/**
 * Colour to one grey value per pixel. RGB: ITU-R BT.601 luma, Y = 0.299 R + 0.587 G + 0.114 B,
 * rounded; YBR_FULL: its Y sample; YBR_FULL_422: each pixel's own Y sample.
 */
function toLuminance(src: ArrayLike<number>, per: number, photometric: string, ds: dicomParser.DataSet, img: DecodedImage): Uint8Array | Uint16Array {
  const out = img.bitsAllocated <= 8 ? new Uint8Array(per) : new Uint16Array(per);
  if (photometric === 'RGB' || photometric === 'YBR_ICT' || photometric === 'YBR_RCT') {
    for (let i = 0; i < per; i++) out[i] = Math.round(0.299 * src[3 * i] + 0.587 * src[3 * i + 1] + 0.114 * src[3 * i + 2]);
  } else if (photometric === 'YBR_FULL') {
    for (let i = 0; i < per; i++) out[i] = src[3 * i];
  } else if (photometric === 'YBR_FULL_422') {
    // Y1 Y2 Cb Cr for each pair of pixels
    for (let i = 0; i < per; i++) out[i] = src[4 * (i >> 1) + (i & 1)];
  } else {
    refuse(img.file, 'unsupported-pixels', `PhotometricInterpretation ${quote(photometric, 32)} with 3 samples per pixel is not read`);
  }
  void ds;
  return out;
}

/** PALETTE COLOR: the index looks up R, G, B in the palette LUTs; the result is their luma. */
function paletteLuminance(ds: dicomParser.DataSet, img: DecodedImage): (index: number) => number {
  const lut = (tag: string, descTag: string) => {
    const desc = ds.elements[descTag];
    const el = ds.elements[tag];
    if (!desc || !el) refuse(img.file, 'bad-header', `PALETTE COLOR without its lookup table (${tag.slice(1, 5).toUpperCase()},${tag.slice(5).toUpperCase()})`);
    const entries = ds.uint16(descTag, 0) || 65536;
    const firstMapped = ds.uint16(descTag, 1) ?? 0;
    const bits = ds.uint16(descTag, 2) ?? 16;
    const data = new Uint16Array(entries);
    for (let i = 0; i < entries; i++) data[i] = bits === 8 && el.length === entries ? ds.byteArray[el.dataOffset + i] : ds.uint16(tag, i) ?? 0;
    return { data, firstMapped, entries, shift: bits === 16 ? 8 : 0 };
  };
  const r = lut('x00281201', 'x00281101');
  const g = lut('x00281202', 'x00281102');
  const b = lut('x00281203', 'x00281103');
  const at = (t: typeof r, i: number) => t.data[Math.min(Math.max(i - t.firstMapped, 0), t.entries - 1)] >> t.shift;
  img.bitsAllocated = 8; // palette output is 8-bit luminance
  return (i) => Math.round(0.299 * at(r, i) + 0.587 * at(g, i) + 0.114 * at(b, i));
}

/** Bits above BitsStored may hold overlay data: clear them, then sign-extend signed values. */
function maskBits(px: Uint8Array | Uint16Array | Int16Array, bitsStored: number, signed: boolean): StoredPixels {
  if (px instanceof Uint8Array) {
    if (!signed) return bitsStored >= 8 ? px : px.map((v) => v & ((1 << bitsStored) - 1));
    const shift8 = 32 - Math.min(bitsStored, 8);
    return Int8Array.from(px, (v) => (v << shift8) >> shift8);
  }
  if (bitsStored >= 16) return signed && px instanceof Uint16Array ? new Int16Array(px.buffer, px.byteOffset, px.length) : px;
  const mask = (1 << bitsStored) - 1;
  const shift = 32 - bitsStored;
  if (signed) {
    const out = new Int16Array(px.buffer, px.byteOffset, px.length);
    for (let i = 0; i < px.length; i++) out[i] = ((px[i] & mask) << shift) >> shift;
    return out;
  }
  for (let i = 0; i < px.length; i++) px[i] &= mask;
  return px;
}
