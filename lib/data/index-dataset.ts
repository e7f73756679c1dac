// `fedrad data index`: reads every file of a site's data/, checks it decodes, and writes the
// dataset manifest (identifiers, hashes, split, labels, masks, counts, rejected files with reasons).
import { DatasetError, DicomFileError } from '../errors.js';
import { type DatasetFile, type DatasetManifest, DatasetManifestSchema } from '../schemas/dataset-manifest.js';
import { type DataSource, sha256Hex } from './data-source.js';
import { decodeDicomImage, loadCodecs } from './dicom-read.js';
import type { Window } from './preprocess.js';
import { isImagePath, isMaskPath, LABELS_PATH, maskPathFor } from './site-layout.js';
import { splitOf } from './split.js';

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
      throw new DatasetError(`${location}/${LABELS_PATH} line ${i + 2}: "${line}" is not "<path>,<non-negative integer label>"`, { location, line: i + 2 });
    }
    labels.set(path, label);
  });
  return labels;
}

function reasonOf(err: unknown, path: string): string {
  if (err instanceof DicomFileError) return err.message.startsWith(`${path}: `) ? err.message.slice(path.length + 2) : err.message;
  throw err;
}

export async function indexSiteData(source: DataSource, opts: IndexOptions): Promise<DatasetManifest> {
  const fraction = opts.validationFraction ?? 0.2;
  await loadCodecs();
  const paths = await source.list();
  const labels = paths.includes(LABELS_PATH) ? parseLabels(new TextDecoder().decode(await source.read(LABELS_PATH)), source.location) : undefined;
  const rejected: DatasetManifest['rejected'] = [];

  // Masks first: each names the image it belongs to (Referenced Image Sequence).
  const maskByUid = new Map<string, { path: string; sha256: string }>();
  const maskByPath = new Map<string, { path: string; sha256: string }>();
  for (const path of paths.filter(isMaskPath)) {
    const bytes = await source.read(path);
    try {
      const m = decodeDicomImage(bytes, path);
      const entry = { path, sha256: sha256Hex(bytes) };
      if (m.referencedSopInstanceUid) maskByUid.set(m.referencedSopInstanceUid, entry);
      maskByPath.set(path, entry);
    } catch (err) {
      rejected.push({ path, reason: reasonOf(err, path) });
    }
  }

  const files: DatasetFile[] = [];
  const modalities = new Map<string, number>();
  const seen = new Map<string, string>();
  for (const path of paths.filter(isImagePath)) {
    const bytes = await source.read(path);
    let img;
    try {
      img = decodeDicomImage(bytes, path);
    } catch (err) {
      rejected.push({ path, reason: reasonOf(err, path) });
      continue;
    }
    if (seen.has(img.sopInstanceUid)) {
      rejected.push({ path, reason: `duplicate SOP Instance UID ${img.sopInstanceUid} (also in ${seen.get(img.sopInstanceUid)})` });
      continue;
    }
    seen.set(img.sopInstanceUid, path);
    modalities.set(img.modality, (modalities.get(img.modality) ?? 0) + 1);
    const file: DatasetFile = { path, sha256: sha256Hex(bytes), bytes: bytes.length, sopInstanceUid: img.sopInstanceUid, frames: img.frames, split: splitOf(img.sopInstanceUid, fraction) };
    if (labels) {
      const label = labels.get(path);
      if (label === undefined) {
        rejected.push({ path, reason: `no label in ${LABELS_PATH}` });
        continue;
      }
      file.label = label;
    }
    const mask = maskByUid.get(img.sopInstanceUid) ?? maskByPath.get(maskPathFor(path));
    if (mask) {
      file.mask = mask.path;
      file.maskSha256 = mask.sha256;
    }
    files.push(file);
  }
  if (files.length === 0) {
    throw new DatasetError(`${source.location}: no readable DICOM images under images/ (${rejected.length} rejected${rejected[0] ? `, e.g. ${rejected[0].path}: ${rejected[0].reason}` : ''})`, { location: source.location });
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
  });
}
