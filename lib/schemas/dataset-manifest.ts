// The dataset manifest of one site (`data/manifest.json`): what `fedrad data index` found, so the
// training job can refuse data that changed since, and the run can report counts per split.
import { z } from 'zod';

export const DatasetFileSchema = z
  .object({
    /** relative to the site's data/ folder, with forward slashes */
    path: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number().int().nonnegative(),
    sopInstanceUid: z.string().min(1),
    frames: z.number().int().positive(),
    split: z.enum(['train', 'validation']),
    /** classification label, from labels.csv */
    label: z.number().int().min(0).optional(),
    /** path of the mask file aligned with this image */
    mask: z.string().optional(),
    maskSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    /** what the file is; absent in manifests written before NIfTI was read: DICOM */
    format: z.enum(['dicom', 'nifti']).optional(),
    modality: z.string().optional(),
    transferSyntax: z.string().optional(),
    seriesInstanceUid: z.string().optional(),
    /** the volume this file is a slice of (an id in volumes[]) */
    volume: z.string().optional(),
    geometry: z.lazy(() => GeometrySchema).optional(),
  })
  .strict();
export type DatasetFile = z.infer<typeof DatasetFileSchema>;

export const GeometrySchema = z
  .object({
    /** voxels along i (columns), j (rows), k (slices) */
    size: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]),
    /** mm along i, j, k */
    spacing: z.tuple([z.number(), z.number(), z.number()]),
    /** patient directions of i, j, k, e.g. "RAS" or "LPS" (absent: the file does not say) */
    orientation: z.string().optional(),
    /** RAS+ position of the first voxel's centre, mm (absent: the file does not say) */
    origin: z.tuple([z.number(), z.number(), z.number()]).optional(),
  })
  .strict();

/** A 3D sample: a DICOM series ordered into a volume, or one NIfTI file. */
export const DatasetVolumeSchema = z
  .object({
    id: z.string().min(1),
    kind: z.enum(['dicom-series', 'nifti']),
    /** its files in slice order (one for NIfTI); each is also in files[] with its hash */
    files: z.array(z.string()).min(1),
    modality: z.string(),
    seriesInstanceUid: z.string().optional(),
    split: z.enum(['train', 'validation']),
    label: z.number().int().min(0).optional(),
    /** a DICOM SEG or NIfTI label map on the same grid */
    mask: z.string().optional(),
    maskSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    geometry: GeometrySchema,
    /** NIfTI: entries along the fourth axis, and what they are */
    channels: z.number().int().positive().optional(),
    fourthAxis: z.enum(['time', 'components']).optional(),
  })
  .strict();
export type DatasetVolume = z.infer<typeof DatasetVolumeSchema>;

export const SplitCountsSchema = z.object({ images: z.number().int(), samples: z.number().int(), byLabel: z.record(z.string(), z.number().int()) }).strict();

export const DatasetManifestSchema = z
  .object({
    version: z.literal(1),
    siteId: z.string().min(1),
    modality: z.string(),
    /** model input size the data is resampled to */
    inputSize: z.number().int().positive(),
    /** window applied before resampling; absent: each file's own window tags, else its value range */
    window: z.object({ center: z.number(), width: z.number().positive() }).strict().optional(),
    validationFraction: z.number().min(0).max(0.9),
    counts: z.object({ train: SplitCountsSchema, validation: SplitCountsSchema }).strict(),
    files: z.array(DatasetFileSchema),
    /** files that could not be read, with the reason; they are left out of training */
    rejected: z.array(z.object({ path: z.string(), reason: z.string(), code: z.string().optional() }).strict()),
    /** files that hold no image (structured reports, RT plans, waveforms...), listed with what they are */
    skipped: z.array(z.object({ path: z.string(), reason: z.string() }).strict()).optional(),
    volumes: z.array(DatasetVolumeSchema).optional(),
  })
  .strict();
export type DatasetManifest = z.infer<typeof DatasetManifestSchema>;
