// DICOM slices into volumes: group by Series Instance UID, split by orientation and slice size,
// order along the slice normal by Image Position (Patient), and check the spacing. A series with
// duplicate positions or gaps is refused as a volume, with the slices named (its files stay
// usable as 2D images).
import { quote } from './parse.js';
import type { DecodedImage } from './image.js';
import { type Affine, affineFromDicom, type Volume } from '../volume.js';

export interface SeriesSlice {
  path: string;
  img: DecodedImage;
}

export interface SeriesPlan {
  /** series UID, with "#2", "#3"... when one series splits into several stacks */
  id: string;
  seriesInstanceUid: string;
  modality: string;
  /** slice files in order along the normal */
  files: string[];
  size: [number, number, number];
  affine: Affine;
  sliceSpacing: number;
}

export interface SeriesRefusal {
  id: string;
  files: string[];
  code: 'series-geometry';
  reason: string;
}

const cross = (a: number[], b: number[]) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Groups the slices that can form volumes (single-frame, with position, orientation and spacing). */
export function planSeries(slices: SeriesSlice[], opts: { gapTolerance?: number } = {}): { volumes: SeriesPlan[]; refused: SeriesRefusal[] } {
  const tolerance = opts.gapTolerance ?? 0.1;
  const groups = new Map<string, SeriesSlice[]>();
  const stacksPerSeries = new Map<string, string[]>();
  for (const s of slices) {
    const { img } = s;
    if (img.frames !== 1 || !img.seriesInstanceUid || !img.imagePosition || !img.imageOrientation || !img.pixelSpacing) continue;
    const key = [img.seriesInstanceUid, img.imageOrientation.map(r3).join(','), `${img.rows}x${img.columns}`, img.pixelSpacing.map(r3).join(',')].join('|');
    let g = groups.get(key);
    if (!g) {
      groups.set(key, (g = []));
      const keys = stacksPerSeries.get(img.seriesInstanceUid) ?? [];
      keys.push(key);
      stacksPerSeries.set(img.seriesInstanceUid, keys);
    }
    g.push(s);
  }
  const volumes: SeriesPlan[] = [];
  const refused: SeriesRefusal[] = [];
  for (const [key, group] of groups) {
    const uid = group[0].img.seriesInstanceUid!;
    const stacks = stacksPerSeries.get(uid)!;
    const id = stacks.length > 1 ? `${uid}#${stacks.indexOf(key) + 1}` : uid;
    if (group.length < 2) continue; // one slice is a 2D image, not a volume
    const o = group[0].img.imageOrientation!;
    const normal = cross(o.slice(0, 3), o.slice(3, 6));
    const sorted = group.map((s) => ({ s, d: dot(s.img.imagePosition!, normal) })).sort((a, b) => a.d - b.d);
    const files = sorted.map((x) => x.s.path);
    const steps = sorted.slice(1).map((x, i) => x.d - sorted[i].d);
    const dup = steps.findIndex((st) => Math.abs(st) < 1e-3);
    if (dup >= 0) {
      refused.push({ id, files, code: 'series-geometry', reason: `series ${quote(id, 72)}: ${quote(files[dup], 60)} and ${quote(files[dup + 1], 60)} share the position ${r3(sorted[dup].d)} mm along the slice normal (duplicate slices)` });
      continue;
    }
    const median = [...steps].sort((a, b) => a - b)[Math.floor(steps.length / 2)];
    const gap = steps.findIndex((st) => Math.abs(st - median) > tolerance * median);
    if (gap >= 0) {
      refused.push({ id, files, code: 'series-geometry', reason: `series ${quote(id, 72)}: ${r3(steps[gap])} mm between ${quote(files[gap], 60)} and ${quote(files[gap + 1], 60)} where the series' spacing is ${r3(median)} mm (a missing slice or mixed spacing)` });
      continue;
    }
    const first = sorted[0].s.img.imagePosition!;
    const last = sorted[sorted.length - 1].s.img.imagePosition!;
    const step = [0, 1, 2].map((a) => (last[a] - first[a]) / (sorted.length - 1));
    const img = group[0].img;
    volumes.push({
      id, seriesInstanceUid: uid, modality: img.modality, files,
      size: [img.columns, img.rows, sorted.length],
      affine: affineFromDicom(o, first, img.pixelSpacing!, step),
      sliceSpacing: r3((sorted[sorted.length - 1].d - sorted[0].d) / (sorted.length - 1)),
    });
  }
  return { volumes, refused };
}

/** The series' voxels as modality values (stored x slope + intercept), slice k from plan.files[k]. */
export function assembleSeries(plan: SeriesPlan, imageOf: (path: string) => DecodedImage): Volume {
  const [nx, ny, nz] = plan.size;
  const per = nx * ny;
  const data = new Float32Array(per * nz);
  plan.files.forEach((path, k) => {
    const img = imageOf(path);
    const stored = img.stored!;
    const out = data.subarray(k * per, (k + 1) * per);
    for (let i = 0; i < per; i++) out[i] = stored[i] * img.rescaleSlope + img.rescaleIntercept;
  });
  return { data, size: [nx, ny, nz], channels: 1, affine: plan.affine };
}
