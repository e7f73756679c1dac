// Loads a site's dataset for training: checks every file against the manifest (refusing data that
// changed, naming the files), decodes, windows and resamples each frame, and caches the decoded
// tensors by content hash so later epochs and later rounds in the same process do not decode again.
import { DataIntegrityError, DatasetError, DicomFileError } from '../errors.js';
import { type DatasetFile, type DatasetManifest, DatasetManifestSchema } from '../schemas/dataset-manifest.js';
import { type DataSource, sha256Hex } from './data-source.js';
import { decodeDicomImage, loadCodecs, modalityValues, rangeWindowOf, windowedFrame, windowedShrink } from './dicom-read.js';
import { isNiftiPath, readNifti } from './nifti.js';
import { rangeWindow, resample, resampleMask, standardize } from './preprocess.js';
import { isImagePath, isMaskPath, MANIFEST_PATH } from './site-layout.js';
import type { ArrayDataset } from './synthetic-arrays.js';
import { reorient, sliceOf } from './volume.js';

export interface LoadedSiteData {
  manifest: DatasetManifest;
  train: ArrayDataset;
  validation: ArrayDataset;
  /** files listed in the manifest that failed to decode now (should be none) */
  errors: Array<{ path: string; reason: string }>;
}

interface DecodedSample {
  images: Float32Array; // frames x size x size
  masks?: Float32Array;
  frames: number;
}

const cache = new Map<string, DecodedSample>();

export async function readManifest(source: DataSource): Promise<DatasetManifest> {
  let text: string;
  try {
    text = new TextDecoder().decode(await source.read(MANIFEST_PATH));
  } catch (cause) {
    throw new DatasetError(`${source.location}: no ${MANIFEST_PATH}; run 'fedrad data index' on the site's data folder first`, { location: source.location }, { cause });
  }
  const parsed = DatasetManifestSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new DatasetError(`${source.location}/${MANIFEST_PATH} is not a valid dataset manifest: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { location: source.location });
  }
  return parsed.data;
}

function describeDifferences(kind: string, paths: string[]): string {
  if (paths.length === 0) return '';
  const shown = paths.slice(0, 10).join(', ');
  return `${kind}: ${shown}${paths.length > 10 ? ` and ${paths.length - 10} more` : ''}`;
}

/**
 * A NIfTI volume as 2D samples: axial slices of the volume reoriented to DICOM's display (LPS:
 * rows anterior to posterior, columns right to left), first channel, windowed and resampled.
 */
function decodeNiftiSample(file: DatasetFile, bytes: Uint8Array, maskBytes: Uint8Array | undefined, manifest: DatasetManifest): DecodedSample {
  const size = manifest.inputSize;
  const vol = reorient(readNifti(bytes, file.path), 'LPS');
  const [nx, ny, nz] = vol.size;
  const window = manifest.window ?? rangeWindow(vol.data.subarray(0, nx * ny * nz));
  const lo = window.center - 0.5 - (window.width - 1) / 2;
  const span = Math.max(window.width - 1, 1e-6);
  const images = new Float32Array(nz * size * size);
  const windowed = new Float32Array(nx * ny);
  for (let k = 0; k < nz; k++) {
    const slice = sliceOf(vol, k);
    for (let i = 0; i < windowed.length; i++) windowed[i] = Math.min(1, Math.max(0, (slice[i] - lo) / span));
    standardize(resample(windowed, ny, nx, size, images.subarray(k * size * size, (k + 1) * size * size)));
  }
  let masks: Float32Array | undefined;
  if (maskBytes && file.mask) {
    const m = reorient(readNifti(maskBytes, file.mask), 'LPS');
    masks = new Float32Array(nz * size * size);
    for (let k = 0; k < nz; k++) masks.set(resampleMask(Float32Array.from(sliceOf(m, k), (v) => (v > 0 ? 1 : 0)), ny, nx, size), k * size * size);
  }
  return { images, masks, frames: nz };
}

function decodeSample(file: DatasetFile, bytes: Uint8Array, maskBytes: Uint8Array | undefined, manifest: DatasetManifest): DecodedSample {
  if (file.format === 'nifti' || isNiftiPath(file.path)) return decodeNiftiSample(file, bytes, maskBytes, manifest);
  const size = manifest.inputSize;
  const img = decodeDicomImage(bytes, file.path);
  const per = img.rows * img.columns;
  const images = new Float32Array(img.frames * size * size);
  let windowed: Float32Array | undefined; // only for sizes that are not an integer fraction
  for (let f = 0; f < img.frames; f++) {
    const window = manifest.window ?? img.window ?? rangeWindowOf(img, f);
    const out = images.subarray(f * size * size, (f + 1) * size * size);
    if (!windowedShrink(img, f, window, size, out)) resample(windowedFrame(img, f, window, (windowed ??= new Float32Array(per))), img.rows, img.columns, size, out);
    standardize(out);
  }
  let masks: Float32Array | undefined;
  if (maskBytes && file.mask) {
    const m = decodeDicomImage(maskBytes, file.mask);
    if (m.rows !== img.rows || m.columns !== img.columns || m.frames !== img.frames) {
      throw new DicomFileError(`${file.mask}: mask is ${m.frames}x${m.rows}x${m.columns} but its image ${file.path} is ${img.frames}x${img.rows}x${img.columns}`, { file: file.mask });
    }
    masks = new Float32Array(img.frames * size * size);
    const values = modalityValues(m);
    for (let f = 0; f < img.frames; f++) masks.set(resampleMask(values.subarray(f * per, (f + 1) * per), m.rows, m.columns, size), f * size * size);
  }
  return { images, masks, frames: img.frames };
}

function assemble(samples: Array<{ file: DatasetFile; decoded: DecodedSample }>, size: number): ArrayDataset {
  const count = samples.reduce((a, s) => a + s.decoded.frames, 0);
  const px = size * size;
  const images = new Float32Array(count * px);
  const hasMasks = samples.some((s) => s.decoded.masks);
  const masks = new Float32Array(hasMasks ? count * px : 0);
  const labels = new Float32Array(count);
  let n = 0;
  for (const { file, decoded } of samples) {
    images.set(decoded.images, n * px);
    if (decoded.masks) masks.set(decoded.masks, n * px);
    labels.fill(file.label ?? 0, n, n + decoded.frames);
    n += decoded.frames;
  }
  return { images, imageShape: [1, size, size], labels, masks, count };
}

export async function loadSiteDataset(source: DataSource, opts: { manifest?: DatasetManifest } = {}): Promise<LoadedSiteData> {
  const manifest = opts.manifest ?? (await readManifest(source));
  await loadCodecs();
  const present = new Set((await source.list()).filter((p) => isImagePath(p) || isMaskPath(p)));
  const listed = new Set([...manifest.files.flatMap((f) => (f.mask ? [f.path, f.mask] : [f.path])), ...(manifest.volumes ?? []).flatMap((v) => (v.mask ? [v.mask] : []))]);
  const skippedPaths = new Set((manifest.skipped ?? []).map((s) => s.path));
  const rejectedPaths = new Set(manifest.rejected.map((r) => r.path));
  const missing = [...listed].filter((p) => !present.has(p));
  const added = [...present].filter((p) => !listed.has(p) && !rejectedPaths.has(p) && !skippedPaths.has(p));
  const changed: string[] = [];
  const samples: Array<{ file: DatasetFile; decoded: DecodedSample }> = [];
  const errors: LoadedSiteData['errors'] = [];
  for (const file of manifest.files) {
    if (!present.has(file.path) || (file.mask && !present.has(file.mask))) continue;
    const bytes = await source.read(file.path);
    const maskBytes = file.mask ? await source.read(file.mask) : undefined;
    const sha = sha256Hex(bytes);
    if (sha !== file.sha256) changed.push(file.path);
    if (maskBytes && sha256Hex(maskBytes) !== file.maskSha256) changed.push(file.mask!);
    if (changed.length > 0) continue; // refusing anyway: do not spend time decoding
    const key = `${sha}:${file.maskSha256 ?? ''}:${manifest.inputSize}:${JSON.stringify(manifest.window ?? null)}`;
    let decoded = cache.get(key);
    if (!decoded) {
      try {
        decoded = decodeSample(file, bytes, maskBytes, manifest);
      } catch (err) {
        if (!(err instanceof DicomFileError)) throw err;
        errors.push({ path: file.path, reason: err.message });
        continue;
      }
      cache.set(key, decoded);
    }
    samples.push({ file, decoded });
  }
  if (missing.length || added.length || changed.length) {
    const parts = [describeDifferences('changed', changed), describeDifferences('missing', missing), describeDifferences('not in the manifest', added)].filter(Boolean);
    throw new DataIntegrityError(
      `${source.location}: the data no longer matches ${MANIFEST_PATH} (${parts.join('; ')}). Re-run 'fedrad data index' if the change is intended.`,
      { location: source.location, changed, missing, added },
    );
  }
  const size = manifest.inputSize;
  const train = assemble(samples.filter((s) => s.file.split === 'train'), size);
  const validation = assemble(samples.filter((s) => s.file.split === 'validation'), size);
  if (train.count === 0) throw new DatasetError(`${source.location}: the manifest puts no readable image in the training split`, { location: source.location });
  return { manifest, train, validation, errors };
}

/** Drops cached decoded tensors (tests; long-lived processes between federations). */
export function clearDecodeCache(): void {
  cache.clear();
}
