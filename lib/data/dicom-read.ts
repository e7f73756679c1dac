// Reads grayscale DICOM images with dicom-parser: tags, and stored pixel values per frame, with
// the rescale (modality values) and window applied in one pass when asked. Native transfer syntaxes only;
// any other is refused with its name, and every failure names the file.
import dicomParser from 'dicom-parser';
import { DicomFileError } from '../errors.js';

const NATIVE_SYNTAXES: Record<string, { name: string; littleEndian: boolean }> = {
  '1.2.840.10008.1.2': { name: 'Implicit VR Little Endian', littleEndian: true },
  '1.2.840.10008.1.2.1': { name: 'Explicit VR Little Endian', littleEndian: true },
  '1.2.840.10008.1.2.2': { name: 'Explicit VR Big Endian', littleEndian: false },
};

const KNOWN_SYNTAXES: Record<string, string> = {
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline (Process 1)',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended (Process 2 & 4)',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless, Non-Hierarchical (Process 14)',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless, First-Order Prediction',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Image Compression (Lossless Only)',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000 Image Compression',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
  '1.2.840.10008.1.2.4.201': 'High-Throughput JPEG 2000 (Lossless Only)',
};

export interface DecodedImage {
  file: string;
  sopInstanceUid: string;
  modality: string;
  rows: number;
  columns: number;
  frames: number;
  photometric: 'MONOCHROME1' | 'MONOCHROME2';
  rescaleSlope: number;
  rescaleIntercept: number;
  /** window from the file's tags (first value when several), if present */
  window?: { center: number; width: number };
  pixelSpacing?: [number, number];
  transferSyntax: string;
  referencedSopInstanceUid?: string;
  /** stored pixel values, frames x rows x columns, native endian, overlay bits cleared (absent when only the header was read) */
  stored?: Uint8Array | Uint16Array | Int16Array;
}

/** Modality values (stored x RescaleSlope + RescaleIntercept) of every pixel. */
export function modalityValues(img: DecodedImage): Float32Array {
  const stored = img.stored!;
  const out = new Float32Array(stored.length);
  for (let i = 0; i < stored.length; i++) out[i] = stored[i] * img.rescaleSlope + img.rescaleIntercept;
  return out;
}

/** Window applied straight to one frame's stored values: one pass, no modality array in between. */
export function windowedFrame(img: DecodedImage, frame: number, window: { center: number; width: number }, out: Float32Array): Float32Array {
  const per = img.rows * img.columns;
  const stored = img.stored!.subarray(frame * per, (frame + 1) * per);
  const span = Math.max(window.width - 1, 1e-6);
  const lo = window.center - 0.5 - (window.width - 1) / 2;
  // v = (stored * slope + intercept - lo) / span, inverted for MONOCHROME1
  let a = img.rescaleSlope / span;
  let b = (img.rescaleIntercept - lo) / span;
  if (img.photometric === 'MONOCHROME1') {
    a = -a;
    b = 1 - b;
  }
  for (let i = 0; i < per; i++) {
    const v = stored[i] * a + b;
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return out;
}

/** The frame's value range as a window (for files with neither manifest nor tag window). */
export function rangeWindowOf(img: DecodedImage, frame: number): { center: number; width: number } {
  const per = img.rows * img.columns;
  const stored = img.stored!.subarray(frame * per, (frame + 1) * per);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < per; i++) {
    if (stored[i] < lo) lo = stored[i];
    if (stored[i] > hi) hi = stored[i];
  }
  const [a, b] = [lo * img.rescaleSlope + img.rescaleIntercept, hi * img.rescaleSlope + img.rescaleIntercept].sort((x, y) => x - y);
  return { center: (a + b) / 2, width: Math.max(b - a, 1) };
}

function fail(file: string, why: string, cause?: unknown): never {
  throw new DicomFileError(`${file}: ${why}`, { file }, { cause });
}

function parse(bytes: Uint8Array, file: string, untilTag?: string): dicomParser.DataSet {
  try {
    return dicomParser.parseDicom(bytes, untilTag ? { untilTag } : undefined);
  } catch (cause) {
    const message = typeof cause === 'string' ? cause : (cause as Error)?.message ?? String(cause);
    const why = /DICM prefix not found/.test(message)
      ? 'not a DICOM Part 10 file (no "DICM" marker after the 128-byte preamble)'
      : `cannot be parsed as DICOM (${message.replace(/^dicomParser\.\w+: /, '')}); the file may be truncated`;
    return fail(file, why, cause);
  }
}

export function transferSyntaxName(uid: string): string {
  return NATIVE_SYNTAXES[uid]?.name ?? KNOWN_SYNTAXES[uid] ?? 'unknown transfer syntax';
}

/**
 * Decodes one DICOM file. With `headerOnly`, stops before the pixel data (indexing a dataset
 * needs the identifiers, not the pixels).
 */
export function decodeDicomImage(bytes: Uint8Array, file: string, opts: { headerOnly?: boolean } = {}): DecodedImage {
  const ds = parse(bytes, file, opts.headerOnly ? 'x7fe00010' : undefined);
  const syntax = ds.string('x00020010') ?? '1.2.840.10008.1.2.1';
  const native = NATIVE_SYNTAXES[syntax];
  if (!native) {
    fail(file, `transfer syntax ${transferSyntaxName(syntax)} (${syntax}) is not supported; fedrad reads uncompressed pixel data (${Object.entries(NATIVE_SYNTAXES).map(([uid, s]) => `${s.name} ${uid}`).join(', ')}). Convert the file, e.g. with dcmconv +te`);
  }
  const rows = ds.uint16('x00280010') ?? 0;
  const columns = ds.uint16('x00280011') ?? 0;
  if (!rows || !columns) fail(file, `Rows (${rows}) and Columns (${columns}) must both be present and positive`);
  const samples = ds.uint16('x00280002') ?? 1;
  if (samples !== 1) fail(file, `SamplesPerPixel is ${samples}; fedrad reads grayscale images (1 sample per pixel)`);
  const photometric = (ds.string('x00280004') ?? 'MONOCHROME2').trim();
  if (photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2') fail(file, `PhotometricInterpretation ${photometric} is not supported; MONOCHROME1 or MONOCHROME2 are`);
  const frames = Number.parseInt(ds.string('x00280008') ?? '1', 10) || 1;
  const slope = ds.floatString('x00281053') ?? 1;
  const intercept = ds.floatString('x00281052') ?? 0;
  const center = ds.floatString('x00281050');
  const width = ds.floatString('x00281051');
  const spacing = ds.string('x00280030')?.split('\\').map(Number);
  const refSeq = ds.elements.x00081140?.items?.[0]?.dataSet;
  const image: DecodedImage = {
    file,
    sopInstanceUid: ds.string('x00080018') ?? fail(file, 'SOP Instance UID (0008,0018) is missing'),
    modality: ds.string('x00080060') ?? 'OT',
    rows,
    columns,
    frames,
    photometric,
    rescaleSlope: slope === 0 ? 1 : slope,
    rescaleIntercept: intercept,
    window: center !== undefined && width !== undefined && width > 0 ? { center, width } : undefined,
    pixelSpacing: spacing && spacing.length === 2 && spacing.every(Number.isFinite) ? [spacing[0], spacing[1]] : undefined,
    transferSyntax: syntax,
    referencedSopInstanceUid: refSeq?.string('x00081155'),
  };
  if (opts.headerOnly) return image;
  image.stored = readPixels(ds, bytes, image, native.littleEndian);
  return image;
}

function readPixels(ds: dicomParser.DataSet, bytes: Uint8Array, img: DecodedImage, littleEndian: boolean): Uint8Array | Uint16Array | Int16Array {
  const el = ds.elements.x7fe00010;
  if (!el) fail(img.file, 'has no Pixel Data (7FE0,0010)');
  if (el.encapsulatedPixelData) fail(img.file, 'pixel data is encapsulated (compressed) although the transfer syntax is native');
  const bitsAllocated = ds.uint16('x00280100') ?? 16;
  if (bitsAllocated !== 8 && bitsAllocated !== 16) fail(img.file, `BitsAllocated ${bitsAllocated} is not supported; 8 or 16 are`);
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const signed = (ds.uint16('x00280103') ?? 0) === 1;
  const count = img.rows * img.columns * img.frames;
  const needed = count * (bitsAllocated / 8);
  const available = Math.min(el.length, bytes.length - el.dataOffset);
  if (available < needed) {
    fail(img.file, `pixel data has ${Math.max(0, available)} bytes but Rows x Columns x Frames x BitsAllocated/8 = ${img.rows} x ${img.columns} x ${img.frames} x ${bitsAllocated / 8} = ${needed}`);
  }
  if (el.length > needed + 1) {
    fail(img.file, `pixel data has ${el.length} bytes, more than Rows x Columns x Frames x BitsAllocated/8 = ${needed}: Rows/Columns do not match the data`);
  }
  if (bitsAllocated === 8) return bytes.slice(el.dataOffset, el.dataOffset + count);
  // A copy gives an aligned buffer of our own; big-endian words are swapped into native order.
  const words = bytes.slice(el.dataOffset, el.dataOffset + needed);
  if (!littleEndian) for (let i = 0; i + 1 < words.length; i += 2) [words[i], words[i + 1]] = [words[i + 1], words[i]];
  const u16 = new Uint16Array(words.buffer, 0, count);
  if (bitsStored < 16) {
    // Bits above BitsStored may hold overlay data: clear them, then sign-extend stored values.
    const mask = (1 << bitsStored) - 1;
    const shift = 16 - bitsStored;
    if (signed) {
      const i16 = new Int16Array(words.buffer, 0, count);
      for (let i = 0; i < count; i++) i16[i] = ((u16[i] & mask) << (16 + shift)) >> (16 + shift);
      return i16;
    }
    for (let i = 0; i < count; i++) u16[i] &= mask;
  }
  return signed ? new Int16Array(words.buffer, 0, count) : u16;
}
