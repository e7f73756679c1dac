// Builders of volume test data: a CT series as DICOM slice files with patient geometry, and a DICOM SEG.
import { encodeDicomImage, SOP_CLASS } from '../../lib/data/dicom-write.js';
import { sliceSpec, uid } from './dicom-corpus.js';

export interface SeriesSpec {
  size: [number, number, number];
  pixelSpacing?: [number, number];
  sliceSpacing?: number;
  orientation?: [number, number, number, number, number, number];
  origin?: [number, number, number];
  /** slice indices to leave out (gaps) or to repeat (duplicates) */
  skip?: number[];
  duplicate?: number;
}

/** Voxel value of the synthetic series: unique per voxel, so any misplacement shows. */
export const voxelValue = (i: number, j: number, k: number) => i + 3 * j + 50 * k - 200;

export function writeSeries(spec: SeriesSpec): { files: Record<string, Uint8Array>; seriesInstanceUid: string; sops: string[] } {
  const [nx, ny, nz] = spec.size;
  const o = spec.orientation ?? [1, 0, 0, 0, 1, 0];
  const normal = [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]];
  const origin = spec.origin ?? [-100, -80, 20];
  const step = spec.sliceSpacing ?? 2.5;
  const series = uid();
  const study = uid();
  const frame = uid();
  const files: Record<string, Uint8Array> = {};
  const sops: string[] = [];
  const ks = [...Array(nz).keys()].filter((k) => !spec.skip?.includes(k));
  if (spec.duplicate !== undefined) ks.push(spec.duplicate);
  ks.forEach((k, n) => {
    const px = Int16Array.from({ length: nx * ny }, (_, p) => voxelValue(p % nx, Math.floor(p / nx), k));
    const sop = uid();
    sops[k] = sop;
    const position = [0, 1, 2].map((a) => origin[a] + normal[a] * step * k) as [number, number, number];
    // files named in reverse, so order must come from the positions
    files[`images/series/slice-${String(nz - n).padStart(3, '0')}.dcm`] = encodeDicomImage({
      ...sliceSpec(px, ny, nx), sopInstanceUid: sop, seriesInstanceUid: series, studyInstanceUid: study, frameOfReferenceUid: frame,
      imagePosition: position, imageOrientation: o, pixelSpacing: spec.pixelSpacing ?? [0.8, 0.7], sliceThickness: step, instanceNumber: k + 1, rescaleIntercept: -1024, rescaleSlope: 1,
    });
  });
  return { files, seriesInstanceUid: series, sops };
}

/** A SEG over a series: frames (slice k, segment, mask) -> one multi-frame 1-bit (or 8-bit fractional) object. */
export function writeSeg(o: {
  rows: number; columns: number; seriesInstanceUid: string; sops: string[]; positions?: Array<[number, number, number]>;
  frames: Array<{ k: number; segment: number; mask: Uint8Array }>; fractional?: boolean;
}): Uint8Array {
  const per = o.rows * o.columns;
  const pixels = new Uint8Array(per * o.frames.length);
  o.frames.forEach((f, n) => pixels.set(o.fractional ? f.mask.map((v) => (v ? 200 : 30)) : f.mask, n * per));
  const segments = [...new Set(o.frames.map((f) => f.segment))].map((n) => ({
    SegmentNumber: n, SegmentLabel: `lesion ${n}`, SegmentAlgorithmType: 'MANUAL',
    SegmentedPropertyCategoryCodeSequence: [{ CodeValue: '49755003', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Morphologically abnormal structure' }],
    SegmentedPropertyTypeCodeSequence: [{ CodeValue: '4147007', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Mass' }],
  }));
  return encodeDicomImage({
    ...sliceSpec(pixels, o.rows, o.columns), frames: o.frames.length, modality: 'SEG', sopClassUid: SOP_CLASS.segmentation, packBits: !o.fractional,
    rescaleSlope: undefined, rescaleIntercept: undefined,
    extra: {
      SegmentationType: o.fractional ? 'FRACTIONAL' : 'BINARY',
      ...(o.fractional ? { MaximumFractionalValue: 255, SegmentationFractionalType: 'PROBABILITY' } : {}),
      SegmentSequence: segments,
      ReferencedSeriesSequence: [{ SeriesInstanceUID: o.seriesInstanceUid, ReferencedInstanceSequence: o.sops.filter(Boolean).map((s) => ({ ReferencedSOPClassUID: SOP_CLASS.ct, ReferencedSOPInstanceUID: s })) }],
      PerFrameFunctionalGroupsSequence: o.frames.map((f) => ({
        SegmentIdentificationSequence: [{ ReferencedSegmentNumber: f.segment }],
        ...(o.positions ? { PlanePositionSequence: [{ ImagePositionPatient: o.positions[f.k] }] }
          : { DerivationImageSequence: [{ SourceImageSequence: [{ ReferencedSOPClassUID: SOP_CLASS.ct, ReferencedSOPInstanceUID: o.sops[f.k] }] }] }),
      })),
    },
  });
}
