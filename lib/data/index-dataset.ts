// `fedrad data index`: reads every file of a site's data/, checks it decodes, and writes the
// dataset manifest (identifiers, hashes, split, labels, masks, geometry, volumes, counts, and the
// files refused or skipped with reasons). DICOM slices that form a series become a volume too;
// each NIfTI file is one volume.
import { DatasetError, DicomFileError } from '../errors.js';
import { type DatasetFile, type DatasetManifest, DatasetManifestSchema, type DatasetVolume } from '../schemas/dataset-manifest.js';
import { type DataSource, sha256Hex } from './data-source.js';
import { type DecodedImage, decodeDicomImage, loadCodecs, NotAnImageError } from './dicom-read.js';
import { readSegmentation, SEGMENTATION_SOP_CLASS } from './dicom/seg.js';
import { planSeries } from './dicom/series.js';
import { isNiftiPath, readNifti } from './nifti.js';
import type { Window } from './preprocess.js';
import { isImagePath, isMaskPath, LABELS_PATH, maskPathFor } from './site-layout.js';
import { splitOf } from './split.js';
import { affineFromDicom, type Geometry, geometryOf } from './volume.js';

export interface IndexOptions {
  siteId: string;
  inputSize: number;
  window?: Window;
  validationFraction?: number;
}

/** Parses labels.csv ("path,label" with a header row) into path -> integer label. */
export function parseLabels(text: string, location: string): Map<string, number> {
  const labels = new Map<string, number>();
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines.shift()?.split(',').map((h) => h.trim().toLowerCase());
  if (!header || header[0] !== 'path' || header[1] !== 'label') {
    throw new DatasetError(`${location}/${LABELS_PATH}: the first row must be the header "path,label"; got "${lines.length ? header?.join(',') : ''}"`, { location });
  }
  lines.forEach((line, i) => {
    const [path, raw] = line.split(',').map((c) => c.trim());
    const label = Number(raw);
    if (!path || !Number.isInteger(label) || label < 0) {
      throw new DatasetError(`${location}/${LABELS_PATH} line ${i + 2}: "${line.slice(0, 120)}" is not "<path>,<non-negative integer label>"`, { location, line: i + 2 });
    }
    labels.set(path, label);
  });
  return labels;
}

type Rejection = DatasetManifest['rejected'][number];

function rejectionOf(err: unknown, path: string): Rejection {
  if (!(err instanceof DicomFileError)) throw err;
  const reason = err.message.startsWith(`${path}: `) ? err.message.slice(path.length + 2) : err.message;
  const code = typeof err.context.code === 'string' ? err.context.code : undefined;
  return code ? { path, reason, code } : { path, reason };
}

/** The NIfTI mask paired with a NIfTI image: the same name under masks/. */
const niftiMaskFor = (path: string, masks: Set<string>) => {
  const base = maskPathFor(path).replace(/\.nii(\.gz)?$/i, '');
  return [`${base}.nii.gz`, `${base}.nii`].find((m) => masks.has(m));
};

export async function indexSiteData(source: DataSource, opts: IndexOptions): Promise<DatasetManifest> {
  const fraction = opts.validationFraction ?? 0.2;
  await loadCodecs();
  const paths = await source.list();
  const labels = paths.includes(LABELS_PATH) ? parseLabels(new TextDecoder().decode(await source.read(LABELS_PATH)), source.location) : undefined;
  const rejected: Rejection[] = [];
  const skipped: NonNullable<DatasetManifest['skipped']> = [];
  const maskPaths = new Set(paths.filter(isMaskPath));

  // Masks first: each names the image (Referenced Image Sequence) or series (SEG) it belongs to.
  const maskByUid = new Map<string, { path: string; sha256: string }>();
  const maskByPath = new Map<string, { path: string; sha256: string }>();
  const segBySeries = new Map<string, { path: string; sha256: string }>();
  for (const path of paths.filter((p) => isMaskPath(p) && !isNiftiPath(p))) {
    const bytes = await source.read(path);
    try {
      const m = decodeDicomImage(bytes, path, { headerOnly: true });
      const entry = { path, sha256: sha256Hex(bytes) };
      if (m.sopClassUid === SEGMENTATION_SOP_CLASS) {
        const seg = readSegmentation(bytes, path);
        if (seg.referencedSeriesInstanceUid) segBySeries.set(seg.referencedSeriesInstanceUid, entry);
        continue;
      }
      decodeDicomImage(bytes, path);
      if (m.referencedSopInstanceUid) maskByUid.set(m.referencedSopInstanceUid, entry);
      maskByPath.set(path, entry);
    } catch (err) {
      if (err instanceof NotAnImageError) skipped.push({ path, reason: err.message.slice(path.length + 2) });
      else rejected.push(rejectionOf(err, path));
    }
  }

  const files: DatasetFile[] = [];
  const volumes: DatasetVolume[] = [];
  const modalities = new Map<string, number>();
  const seen = new Map<string, string>();
  const headers: Array<{ path: string; img: DecodedImage }> = [];
  const labelOf = (path: string): number | undefined | null => {
    if (!labels) return undefined;
    const label = labels.get(path);
    if (label === undefined) {
      rejected.push({ path, reason: `no label in ${LABELS_PATH}`, code: 'no-label' });
      return null;
    }
    return label;
  };
  for (const path of paths.filter(isImagePath)) {
    const bytes = await source.read(path);
    if (isNiftiPath(path)) {
      let nii;
      try {
        nii = readNifti(bytes, path);
      } catch (err) {
        rejected.push(rejectionOf(err, path));
        continue;
      }
      const label = labelOf(path);
      if (label === null) continue;
      const id = `nifti:${path}`;
      const geometry = geometryOf(nii);
      const split = splitOf(id, fraction);
      const file: DatasetFile = { path, sha256: sha256Hex(bytes), bytes: bytes.length, sopInstanceUid: id, frames: nii.size[2], split, format: 'nifti', modality: 'OT', volume: id, geometry };
      if (label !== undefined) file.label = label;
      const volume: DatasetVolume = { id, kind: 'nifti', files: [path], modality: 'OT', split, geometry, ...(label !== undefined ? { label } : {}) };
      if (nii.channels > 1) Object.assign(volume, { channels: nii.channels, fourthAxis: nii.fourthAxis });
      const maskPath = niftiMaskFor(path, maskPaths);
      if (maskPath) {
        const maskBytes = await source.read(maskPath);
        try {
          const m = readNifti(maskBytes, maskPath);
          if (m.size.join() !== nii.size.join()) {
            rejected.push({ path: maskPath, reason: `mask is ${m.size.join('x')} but its image ${path} is ${nii.size.join('x')}`, code: 'mask-mismatch' });
          } else {
            Object.assign(file, { mask: maskPath, maskSha256: sha256Hex(maskBytes) });
            Object.assign(volume, { mask: maskPath, maskSha256: file.maskSha256 });
          }
        } catch (err) {
          rejected.push(rejectionOf(err, maskPath));
        }
      }
      files.push(file);
      volumes.push(volume);
      modalities.set('OT', (modalities.get('OT') ?? 0) + 1);
      continue;
    }
    let img: DecodedImage;
    try {
      img = decodeDicomImage(bytes, path);
    } catch (err) {
      if (err instanceof NotAnImageError) skipped.push({ path, reason: err.message.slice(path.length + 2) });
      else rejected.push(rejectionOf(err, path));
      continue;
    }
    if (img.sopClassUid === SEGMENTATION_SOP_CLASS) {
      skipped.push({ path, reason: `a DICOM Segmentation (a mask): put it under masks/ to use it` });
      continue;
    }
    if (seen.has(img.sopInstanceUid)) {
      rejected.push({ path, reason: `duplicate SOP Instance UID ${img.sopInstanceUid.slice(0, 64)} (also in ${seen.get(img.sopInstanceUid)})`, code: 'duplicate' });
      continue;
    }
    seen.set(img.sopInstanceUid, path);
    const label = labelOf(path);
    if (label === null) continue;
    img.stored = undefined; // the header is all the series planning needs
    headers.push({ path, img });
    modalities.set(img.modality, (modalities.get(img.modality) ?? 0) + 1);
    const file: DatasetFile = {
      path, sha256: sha256Hex(bytes), bytes: bytes.length, sopInstanceUid: img.sopInstanceUid, frames: img.frames, split: splitOf(img.sopInstanceUid, fraction),
      format: 'dicom', modality: img.modality, transferSyntax: img.transferSyntax,
    };
    if (img.seriesInstanceUid) file.seriesInstanceUid = img.seriesInstanceUid;
    file.geometry = sliceGeometry(img);
    if (label !== undefined) file.label = label;
    const mask = maskByUid.get(img.sopInstanceUid) ?? maskByPath.get(maskPathFor(path));
    if (mask) {
      file.mask = mask.path;
      file.maskSha256 = mask.sha256;
    }
    files.push(file);
  }

  // DICOM slices into volumes; a volume's slices share its split (no patient in both splits).
  const plans = planSeries(headers);
  const byPath = new Map(files.map((f) => [f.path, f]));
  for (const r of plans.refused) rejected.push({ path: `series ${r.id}`, reason: r.reason.replace(/^series \S+: /, ''), code: r.code });
  for (const plan of plans.volumes) {
    const split = splitOf(plan.seriesInstanceUid, fraction);
    const geometry = geometryOf(plan);
    const sliceLabels = new Set(plan.files.map((p) => byPath.get(p)!.label));
    const volume: DatasetVolume = { id: plan.id, kind: 'dicom-series', files: plan.files, modality: plan.modality, seriesInstanceUid: plan.seriesInstanceUid, split, geometry };
    if (sliceLabels.size === 1 && [...sliceLabels][0] !== undefined) volume.label = [...sliceLabels][0];
    const seg = segBySeries.get(plan.seriesInstanceUid);
    if (seg) Object.assign(volume, { mask: seg.path, maskSha256: seg.sha256 });
    for (const p of plan.files) Object.assign(byPath.get(p)!, { split, volume: plan.id, geometry: { ...geometry, size: [geometry.size[0], geometry.size[1], 1] } });
    volumes.push(volume);
  }
  const segsUsed = new Set(volumes.map((v) => v.mask));
  for (const [series, seg] of segBySeries) {
    if (!segsUsed.has(seg.path)) rejected.push({ path: seg.path, reason: `references series ${series.slice(0, 64)}, which is not a volume here (no such series, or it was refused)`, code: 'mask-mismatch' });
  }

  if (files.length === 0) {
    throw new DatasetError(`${source.location}: no readable images under images/ (${rejected.length} refused, ${skipped.length} skipped${rejected[0] ? `, e.g. ${rejected[0].path}: ${rejected[0].reason}` : ''})`, { location: source.location });
  }
  const counts = (split: 'train' | 'validation') => {
    const inSplit = files.filter((f) => f.split === split);
    const byLabel: Record<string, number> = {};
    for (const f of inSplit) if (f.label !== undefined) byLabel[f.label] = (byLabel[f.label] ?? 0) + f.frames;
    return { images: inSplit.length, samples: inSplit.reduce((a, f) => a + f.frames, 0), byLabel };
  };
  const modality = [...modalities].sort((a, b) => b[1] - a[1])[0][0];
  return DatasetManifestSchema.parse({
    version: 1,
    siteId: opts.siteId,
    modality,
    inputSize: opts.inputSize,
    window: opts.window,
    validationFraction: fraction,
    counts: { train: counts('train'), validation: counts('validation') },
    files,
    rejected,
    ...(skipped.length ? { skipped } : {}),
    ...(volumes.length ? { volumes } : {}),
  });
}

/** One DICOM image's own geometry: full when it has position and orientation, else size and spacing. */
function sliceGeometry(img: DecodedImage): Geometry {
  const spacing = img.pixelSpacing ?? [1, 1];
  const thickness = img.sliceThickness && img.sliceThickness > 0 ? img.sliceThickness : 1;
  if (img.imagePosition && img.imageOrientation) {
    const o = img.imageOrientation;
    const normal = [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]].map((v) => v * thickness);
    return geometryOf({ size: [img.columns, img.rows, img.frames], affine: affineFromDicom(o, img.imagePosition, spacing, normal) });
  }
  return { size: [img.columns, img.rows, img.frames], spacing: [spacing[1], spacing[0], thickness] };
}

/** What `fedrad data index` prints: indexed, skipped and refused, the last two by reason. */
export interface IndexSummary {
  siteId: string;
  images: number;
  dicomImages: number;
  niftiImages: number;
  volumes: number;
  samples2d: { train: number; validation: number };
  byTransferSyntax: Record<string, number>;
  skipped: Record<string, number>;
  refused: Record<string, number>;
}

export function summarizeManifest(m: DatasetManifest): IndexSummary {
  const tally = (keys: string[]) => keys.reduce<Record<string, number>>((acc, k) => ((acc[k] = (acc[k] ?? 0) + 1), acc), {});
  return {
    siteId: m.siteId,
    images: m.files.length,
    dicomImages: m.files.filter((f) => f.format !== 'nifti').length,
    niftiImages: m.files.filter((f) => f.format === 'nifti').length,
    volumes: m.volumes?.length ?? 0,
    samples2d: { train: m.counts.train.samples, validation: m.counts.validation.samples },
    byTransferSyntax: tally(m.files.filter((f) => f.transferSyntax).map((f) => f.transferSyntax!)),
    skipped: tally((m.skipped ?? []).map((s) => s.reason.replace(/^no pixel data \((.*)\)$/, 'no pixel data: $1'))),
    refused: tally(m.rejected.map((r) => r.code ?? 'other')),
  };
}
