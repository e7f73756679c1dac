// Reads grayscale DICOM images with dicom-parser: tags, and pixel data as modality values
// (stored value x RescaleSlope + RescaleIntercept) per frame. Native transfer syntaxes only;
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
  /** modality values, frames x rows x columns (absent when only the header was read) */
  values?: Float32Array;
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
  image.values = readPixels(ds, bytes, image, native.littleEndian);
  return image;
}

function readPixels(ds: dicomParser.DataSet, bytes: Uint8Array, img: DecodedImage, littleEndian: boolean): Float32Array {
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
  const out = new Float32Array(count);
  const slope = img.rescaleSlope;
  const intercept = img.rescaleIntercept;
  if (bitsAllocated === 8) {
    for (let i = 0; i < count; i++) out[i] = bytes[el.dataOffset + i] * slope + intercept;
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + el.dataOffset, needed);
  // Bits above BitsStored may hold overlay data: mask them off, then sign-extend stored values.
  const mask = bitsStored >= 16 ? 0xffff : (1 << bitsStored) - 1;
  const signBit = 1 << (bitsStored - 1);
  for (let i = 0; i < count; i++) {
    let v = view.getUint16(i * 2, littleEndian) & mask;
    if (signed && v & signBit) v -= mask + 1;
    out[i] = v * slope + intercept;
  }
  return out;
}
