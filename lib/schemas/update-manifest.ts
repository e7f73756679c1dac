// What a site's training job writes beside its update file, and what the gate checks it against.
import { z } from 'zod';

const SHA256 = z.string().regex(/^[0-9a-f]{64}$/);

export const SiteMetricsSchema = z.record(z.string(), z.number());

export const UpdateManifestSchema = z
  .object({
    version: z.literal(1),
    siteId: z.string(),
    runId: z.string(),
    round: z.number().int().min(0),
    baseModelSha256: SHA256,
    updateSha256: SHA256,
    sampleCount: z.number().int().min(0),
    /** the incoming global model on the site's validation split, before local training */
    globalMetrics: SiteMetricsSchema,
    /** the locally trained model on the same split */
    localMetrics: SiteMetricsSchema,
    trainLoss: z.number(),
    steps: z.number().int(),
    executionProvider: z.string(),
    seconds: z.number(),
  })
  .strict();
export type UpdateManifest = z.infer<typeof UpdateManifestSchema>;
