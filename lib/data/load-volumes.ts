// A site's 3D samples: each volume in the manifest (a DICOM series or a NIfTI file) read, checked
// against the manifest's hashes, reoriented to RAS+ and, when asked, resampled to one spacing,
// with its mask (DICOM SEG or NIfTI label map) on the same grid. The 2D loader (load-dataset.ts)
// feeds today's models; this one is the entry point for 3D training.
import { DataIntegrityError, DatasetError } from '../errors.js';
import type { DatasetManifest, DatasetVolume } from '../schemas/dataset-manifest.js';
import { type DataSource, sha256Hex } from './data-source.js';
import { type DecodedImage, decodeDicomImage, loadCodecs } from './dicom-read.js';
import { readSegmentation, segmentationToVolume } from './dicom/seg.js';
import { assembleSeries, type SeriesPlan } from './dicom/series.js';
import { readManifest } from './load-dataset.js';
import { readNifti } from './nifti.js';
import { affineFromDicom, reorient, resampleVolume, type Sample, type Volume } from './volume.js';

export interface VolumeLoadOptions {
  manifest?: DatasetManifest;
  /** target voxel spacing in mm (i, j, k after reorientation); default: each volume's own */
  spacing?: [number, number, number];
  /** axis directions after reorientation; default RAS (NIfTI/nibabel canonical) */
  orientation?: string;
}

export interface LoadedVolumes {
  manifest: DatasetManifest;
  train: Array<Sample & { label?: number; id: string }>;
  validation: Array<Sample & { label?: number; id: string }>;
}

export async function loadVolumeSamples(source: DataSource, opts: VolumeLoadOptions = {}): Promise<LoadedVolumes> {
  const manifest = opts.manifest ?? (await readManifest(source));
  if (!manifest.volumes?.length) throw new DatasetError(`${source.location}: the manifest lists no volumes (no DICOM series of 2+ slices with positions, no NIfTI files); re-run 'fedrad data index'`, { location: source.location });
  await loadCodecs();
  const hashes = new Map(manifest.files.map((f) => [f.path, f.sha256]));
  const read = async (path: string, expected: string | undefined) => {
    const bytes = await source.read(path);
    if (expected && sha256Hex(bytes) !== expected) {
      throw new DataIntegrityError(`${source.location}: ${path} changed since ${'manifest.json'} was written; re-run 'fedrad data index' if the change is intended`, { location: source.location, changed: [path] });
    }
    return bytes;
  };
  const out: LoadedVolumes = { manifest, train: [], validation: [] };
  for (const v of manifest.volumes) {
    const { image, mask } = v.kind === 'nifti' ? await niftiVolume(v, read, hashes) : await seriesVolume(v, read, hashes);
    const orient = (x: Volume) => reorient(x, opts.orientation ?? 'RAS');
    let img = orient(image);
    let msk = mask && orient(mask);
    if (opts.spacing) {
      img = resampleVolume(img, opts.spacing, 'linear');
      msk = msk && resampleVolume(msk, opts.spacing, 'nearest');
    }
    out[v.split].push({ id: v.id, kind: '3d', image: img, mask: msk, sources: v.files, modality: v.modality, seriesInstanceUid: v.seriesInstanceUid, label: v.label });
  }
  return out;
}

type Reader = (path: string, sha: string | undefined) => Promise<Uint8Array>;

async function niftiVolume(v: DatasetVolume, read: Reader, hashes: Map<string, string>): Promise<{ image: Volume; mask?: Volume }> {
  const image = readNifti(await read(v.files[0], hashes.get(v.files[0])), v.files[0]);
  const mask = v.mask ? readNifti(await read(v.mask, v.maskSha256), v.mask) : undefined;
  return { image, mask };
}

async function seriesVolume(v: DatasetVolume, read: Reader, hashes: Map<string, string>): Promise<{ image: Volume; mask?: Volume }> {
  const images = new Map<string, DecodedImage>();
  for (const path of v.files) images.set(path, decodeDicomImage(await read(path, hashes.get(path)), path));
  const first = images.get(v.files[0])!;
  const last = images.get(v.files[v.files.length - 1])!;
  const step = [0, 1, 2].map((a) => (last.imagePosition![a] - first.imagePosition![a]) / Math.max(1, v.files.length - 1));
  const plan: SeriesPlan = {
    id: v.id, seriesInstanceUid: v.seriesInstanceUid ?? v.id, modality: v.modality, files: v.files, size: v.geometry.size,
    affine: affineFromDicom(first.imageOrientation!, first.imagePosition!, first.pixelSpacing!, step), sliceSpacing: v.geometry.spacing[2],
  };
  const image = assembleSeries(plan, (p) => images.get(p)!);
  const mask = v.mask
    ? segmentationToVolume(readSegmentation(await read(v.mask, v.maskSha256), v.mask), plan, (p) => images.get(p)?.sopInstanceUid, (p) => images.get(p)?.imagePosition)
    : undefined;
  return { image, mask };
}
