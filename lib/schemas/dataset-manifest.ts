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
  })
  .strict();
export type DatasetFile = z.infer<typeof DatasetFileSchema>;

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
    rejected: z.array(z.object({ path: z.string(), reason: z.string() }).strict()),
  })
  .strict();
export type DatasetManifest = z.infer<typeof DatasetManifestSchema>;
