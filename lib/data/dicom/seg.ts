// DICOM Segmentation objects (SEG) as label maps on a series' voxel grid: binary (1-bit) and
// fractional (8-bit, thresholded at half the maximum) frames, each mapped to its slice through the
// per-frame functional groups: the source image it was derived from, else its plane position.
import type dicomParser from 'dicom-parser';
import { type Volume } from '../volume.js';
import { decodeDicomImage } from './image.js';
import { parseDicomFile, quote, refuse } from './parse.js';
import type { SeriesPlan } from './series.js';

export const SEGMENTATION_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.4';

export interface SegFrame {
  segment: number;
  referencedSopInstanceUid?: string;
  /** Image Position (Patient) of the frame, LPS mm */
  position?: [number, number, number];
}

export interface Segmentation {
  file: string;
  referencedSeriesInstanceUid?: string;
  segments: Array<{ number: number; label: string }>;
  type: 'BINARY' | 'FRACTIONAL';
  rows: number;
  columns: number;
  frames: SegFrame[];
  /** frames x rows x columns, 0/1 after thresholding */
  masks: Uint8Array;
}

const item = (ds: dicomParser.DataSet | undefined, tag: string) => ds?.elements[tag]?.items?.[0]?.dataSet;

export function isSegmentation(bytes: Uint8Array, file: string): boolean {
  return parseDicomFile(bytes, file, { untilTag: 'x00080018' }).ds.string('x00080016')?.trim() === SEGMENTATION_SOP_CLASS;
}

export function readSegmentation(bytes: Uint8Array, file: string): Segmentation {
  const { ds } = parseDicomFile(bytes, file);
  if (ds.string('x00080016')?.trim() !== SEGMENTATION_SOP_CLASS) refuse(file, 'bad-header', 'is not a DICOM Segmentation (SOP Class UID 1.2.840.10008.5.1.4.1.1.66.4)');
  const img = decodeDicomImage(bytes, file);
  const type = (ds.string('x00620001') ?? 'BINARY').trim().toUpperCase() === 'FRACTIONAL' ? 'FRACTIONAL' : 'BINARY';
  const max = type === 'FRACTIONAL' ? ds.uint16('x00620014') ?? 255 : 1;
  const stored = img.stored!;
  const masks = new Uint8Array(stored.length);
  for (let i = 0; i < stored.length; i++) masks[i] = stored[i] * 2 >= max && stored[i] > 0 ? 1 : 0;
  const segments = (ds.elements.x00620002?.items ?? []).map((it) => ({ number: it.dataSet!.uint16('x00620004') ?? 1, label: quote(it.dataSet!.string('x00620005') ?? '', 64) }));
  const perFrame = ds.elements.x52009230?.items ?? [];
  if (perFrame.length !== img.frames) refuse(file, 'bad-header', `has ${img.frames} frames but ${perFrame.length} items in the Per-frame Functional Groups Sequence (5200,9230)`);
  const frames = perFrame.map((it, f): SegFrame => {
    const g = it.dataSet;
    const segment = item(g, 'x0062000a')?.uint16('x0062000b') ?? (segments.length === 1 ? segments[0].number : 0);
    if (!segment) refuse(file, 'bad-header', `frame ${f + 1} names no segment (Segment Identification Sequence (0062,000A))`);
    const source = item(item(g, 'x00089124'), 'x00082112');
    const pos = item(g, 'x00209113')?.string('x00200032')?.split('\\').map(Number);
    return {
      segment,
      referencedSopInstanceUid: source?.string('x00081155')?.trim(),
      position: pos?.length === 3 && pos.every(Number.isFinite) ? [pos[0], pos[1], pos[2]] : undefined,
    };
  });
  const refSeries = item(ds, 'x00081115')?.string('x0020000e')?.trim();
  return { file, referencedSeriesInstanceUid: refSeries, segments, type, rows: img.rows, columns: img.columns, frames, masks };
}

/**
 * The segmentation as a label map on a series' grid (voxel = segment number; where segments
 * overlap, the higher number wins). `sopOf` gives each slice file's SOP Instance UID.
 */
export function segmentationToVolume(seg: Segmentation, plan: SeriesPlan, sopOf: (path: string) => string | undefined, positionOf: (path: string) => number[] | undefined): Volume {
  const [nx, ny, nz] = plan.size;
  if (seg.columns !== nx || seg.rows !== ny) refuse(seg.file, 'mask-mismatch', `frames are ${seg.columns}x${seg.rows} but series ${quote(plan.id, 72)} is ${nx}x${ny}`);
  const bySop = new Map(plan.files.map((p, k) => [sopOf(p), k]));
  const positions = plan.files.map(positionOf);
  const data = new Float32Array(nx * ny * nz);
  const per = nx * ny;
  seg.frames.forEach((frame, f) => {
    let k = frame.referencedSopInstanceUid ? bySop.get(frame.referencedSopInstanceUid) : undefined;
    if (k === undefined && frame.position) {
      const d = positions.map((p) => (p ? Math.hypot(p[0] - frame.position![0], p[1] - frame.position![1], p[2] - frame.position![2]) : Infinity));
      const best = d.indexOf(Math.min(...d));
      if (d[best] <= plan.sliceSpacing / 2) k = best;
    }
    if (k === undefined) refuse(seg.file, 'mask-mismatch', `frame ${f + 1} matches no slice of series ${quote(plan.id, 72)} (neither by source image nor by position)`);
    const src = seg.masks.subarray(f * per, (f + 1) * per);
    const dst = data.subarray(k * per, (k + 1) * per);
    for (let i = 0; i < per; i++) if (src[i] && frame.segment > dst[i]) dst[i] = frame.segment;
  });
  return { data, size: [nx, ny, nz], channels: 1, affine: plan.affine };
}
