// Writes single- and multi-frame DICOM Part 10 files with dcmjs: the synthetic generator's output
// and the test corpus. Pixel data is uncompressed in any of the three native transfer syntaxes, or
// RLE Lossless (encapsulated, one fragment per frame).
import dcmjs from 'dcmjs';
import { encodeRle } from './dicom/rle-encode.js';

const { DicomDict, DicomMetaDictionary } = dcmjs.data;

export const TRANSFER_SYNTAX = {
  'explicit-le': '1.2.840.10008.1.2.1',
  'implicit-le': '1.2.840.10008.1.2',
  'explicit-be': '1.2.840.10008.1.2.2',
  rle: '1.2.840.10008.1.2.5',
} as const;
export type TransferSyntaxName = keyof typeof TRANSFER_SYNTAX;

export const SOP_CLASS = {
  ct: '1.2.840.10008.5.1.4.1.1.2',
  secondaryCapture: '1.2.840.10008.5.1.4.1.1.7',
  mr: '1.2.840.10008.5.1.4.1.1.4',
  segmentation: '1.2.840.10008.5.1.4.1.1.66.4',
  rtPlan: '1.2.840.10008.5.1.4.1.1.481.5',
} as const;

/** fedrad's implementation UID, under the UUID-derived 2.25 root. */
export const IMPLEMENTATION_UID = '2.25.161800493206150000112233445566778899';

export interface DicomImageSpec {
  rows: number;
  columns: number;
  frames?: number;
  /** stored values, frame after frame, row-major */
  pixels: Int16Array | Uint16Array | Uint8Array | Int32Array | Uint32Array;
  bitsStored?: number;
  photometric?: 'MONOCHROME1' | 'MONOCHROME2' | 'RGB' | 'YBR_FULL';
  rescaleSlope?: number;
  rescaleIntercept?: number;
  window?: { center: number; width: number };
  pixelSpacing?: [number, number];
  modality: string;
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  patientId: string;
  patientName: string;
  instanceNumber?: number;
  manufacturer?: string;
  seriesDescription?: string;
  /** Image Position (Patient), mm, LPS: the centre of the first pixel */
  imagePosition?: [number, number, number];
  /** Image Orientation (Patient): row then column direction cosines */
  imageOrientation?: [number, number, number, number, number, number];
  sliceThickness?: number;
  frameOfReferenceUid?: string;
  /** 3 for colour (pixels interleaved R G B ...; photometric RGB or YBR_FULL) */
  samplesPerPixel?: 1 | 3;
  /** extra top-level attributes, in dcmjs's naturalized form (e.g. a SEG's functional groups) */
  extra?: Record<string, unknown>;
  /** write BitsAllocated 1 (pixels hold 0/1 and are packed, least significant bit first) */
  packBits?: boolean;
  /** pixel data already compressed by a codec: one codestream per frame, under this transfer syntax UID */
  compressed?: { transferSyntaxUid: string; frames: Uint8Array[] };
  /** for masks: the image this one belongs to */
  referencedSopInstanceUid?: string;
  referencedSopClassUid?: string;
  transferSyntax?: TransferSyntaxName;
}

export function encodeDicomImage(spec: DicomImageSpec): Uint8Array {
  const syntax = spec.transferSyntax ?? 'explicit-le';
  const bitsAllocated = spec.packBits ? 1 : spec.pixels instanceof Uint8Array ? 8 : spec.pixels.BYTES_PER_ELEMENT === 4 ? 32 : 16;
  const bitsStored = spec.bitsStored ?? bitsAllocated;
  const signed = spec.pixels instanceof Int16Array || spec.pixels instanceof Int32Array;
  let bytes = new Uint8Array(spec.pixels.buffer, spec.pixels.byteOffset, spec.pixels.byteLength).slice();
  if (spec.packBits) {
    bytes = new Uint8Array(Math.ceil(spec.pixels.length / 8));
    spec.pixels.forEach((v, i) => (bytes[i >> 3] |= (v ? 1 : 0) << (i & 7)));
  }
  // dcmjs writes pixel bytes as given, so big-endian files get their words swapped here.
  const width = bitsAllocated / 8;
  if (syntax === 'explicit-be' && width > 1) {
    for (let i = 0; i + width <= bytes.length; i += width) bytes.subarray(i, i + width).reverse();
  }
  const pixelData: ArrayBuffer[] = spec.compressed ? spec.compressed.frames.map((f) => f.slice().buffer) : [];
  if (syntax === 'rle') {
    if (bitsAllocated !== 8 && bitsAllocated !== 16) throw new RangeError(`RLE writing takes 8- or 16-bit pixels, not ${bitsAllocated}-bit`);
    const frames = spec.frames ?? 1;
    const per = spec.rows * spec.columns * (spec.samplesPerPixel ?? 1) * width;
    if ((spec.samplesPerPixel ?? 1) !== 1) throw new RangeError('RLE writing takes one sample per pixel');
    for (let f = 0; f < frames; f++) pixelData.push(encodeRle(bytes.subarray(f * per, (f + 1) * per), spec.rows, spec.columns, width as 1 | 2).slice().buffer);
  }
  if (bytes.length % 2 === 1) {
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes);
    bytes = padded;
  }
  const dataset: Record<string, unknown> = {
    SOPClassUID: spec.sopClassUid,
    SOPInstanceUID: spec.sopInstanceUid,
    StudyInstanceUID: spec.studyInstanceUid,
    SeriesInstanceUID: spec.seriesInstanceUid,
    PatientID: spec.patientId,
    PatientName: spec.patientName,
    Modality: spec.modality,
    Manufacturer: spec.manufacturer ?? 'fedrad synthetic',
    SeriesDescription: spec.seriesDescription ?? '',
    InstanceNumber: spec.instanceNumber ?? 1,
    ImageType: ['DERIVED', 'SECONDARY'],
    Rows: spec.rows,
    Columns: spec.columns,
    SamplesPerPixel: spec.samplesPerPixel ?? 1,
    PhotometricInterpretation: spec.photometric ?? 'MONOCHROME2',
    BitsAllocated: bitsAllocated,
    BitsStored: bitsStored,
    HighBit: bitsStored - 1,
    PixelRepresentation: signed ? 1 : 0,
    PixelData: pixelData.length ? pixelData : [bytes.buffer],
    _vrMap: { PixelData: bitsAllocated <= 8 || syntax === 'rle' || spec.compressed ? 'OB' : 'OW' },
  };
  if ((spec.samplesPerPixel ?? 1) === 3) dataset.PlanarConfiguration = 0;
  if (spec.imagePosition) dataset.ImagePositionPatient = spec.imagePosition;
  if (spec.imageOrientation) dataset.ImageOrientationPatient = spec.imageOrientation;
  if (spec.sliceThickness !== undefined) dataset.SliceThickness = spec.sliceThickness;
  if (spec.frameOfReferenceUid) dataset.FrameOfReferenceUID = spec.frameOfReferenceUid;
  Object.assign(dataset, spec.extra ?? {});
  if ((spec.frames ?? 1) > 1) dataset.NumberOfFrames = spec.frames;
  if (spec.rescaleSlope !== undefined) dataset.RescaleSlope = spec.rescaleSlope;
  if (spec.rescaleIntercept !== undefined) dataset.RescaleIntercept = spec.rescaleIntercept;
  if (spec.rescaleSlope !== undefined || spec.rescaleIntercept !== undefined) dataset.RescaleType = 'HU';
  if (spec.window) {
    dataset.WindowCenter = spec.window.center;
    dataset.WindowWidth = spec.window.width;
  }
  if (spec.pixelSpacing) dataset.PixelSpacing = spec.pixelSpacing;
  if (spec.referencedSopInstanceUid) {
    dataset.ReferencedImageSequence = [{ ReferencedSOPClassUID: spec.referencedSopClassUid ?? SOP_CLASS.ct, ReferencedSOPInstanceUID: spec.referencedSopInstanceUid }];
  }
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: spec.sopClassUid,
    MediaStorageSOPInstanceUID: spec.sopInstanceUid,
    TransferSyntaxUID: spec.compressed?.transferSyntaxUid ?? TRANSFER_SYNTAX[syntax],
    ImplementationClassUID: IMPLEMENTATION_UID,
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write({ fragmentMultiframe: false }));
}
