// The run input: what a researcher pastes into the Step Functions console, passes to the CLI, or a
// schedule stores. Every field has a default except what cannot have one; unknown fields are errors.
import { z } from 'zod';
import { ZOO_3D_NAMES, ZOO_NAMES } from '../model/zoo/index.js';
import { GateConfigSchema, StrategySchema } from './strategy.js';
import { LossNameSchema, RunTrainingSpecSchema } from './training-spec.js';

export const ZooModelSchema = z
  .object({
    zoo: z.enum([...ZOO_NAMES, ...ZOO_3D_NAMES]),
    seed: z.number().int().min(0).default(0),
    inputSize: z.number().int().min(8).max(1024).default(64),
    width: z.number().int().min(1).max(256).optional(),
    /** BatchNorm (default) or GroupNorm, which keeps no running statistics (better across differing sites) */
    norm: z.enum(['batch', 'group', 'instance']).optional(),
    /** 3D models: input channels (MR sequences, 1-4) and down-sampling stages (1-4) */
    channels: z.number().int().min(1).max(4).optional(),
    depth: z.number().int().min(1).max(4).optional(),
  })
  .strict();

/** A model the researcher brought: an ONNX object in the models bucket, pinned by its SHA-256. */
export const OnnxModelSchema = z
  .object({
    onnx: z
      .object({
        /** the object's key in the models bucket, e.g. models/my-net.onnx */
        key: z.string().min(1).max(1024).regex(/^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[\x21-\x7e]+$/, "use a relative object key of printable characters without '.' or '..' segments, e.g. models/my-net.onnx"),
        /** hex SHA-256 of the object's bytes (fedrad model upload prints it) */
        sha256: z.string().regex(/^[0-9a-f]{64}$/, 'use the 64 lowercase hex digits fedrad model upload (or sha256sum) prints'),
      })
      .strict(),
    /** defaults to what the output's shape says: [N, classes] classification, [N, 1, ...] segmentation */
    task: z.enum(['classification', 'segmentation']).optional(),
    /** defaults to the task's: softmax-cross-entropy, or bce-dice for segmentation */
    loss: LossNameSchema.optional(),
  })
  .strict();

/** A zoo model by name, or an ONNX model the researcher brought ({"onnx": {...}}). */
export type RunModel = z.infer<typeof ZooModelSchema> | z.infer<typeof OnnxModelSchema>;
// Chosen by the 'onnx' key rather than z.union, so an error names the field of the form meant
// ("model.zoo: Invalid option ...") instead of "model: Invalid input".
export const RunModelSchema = z.unknown().transform((value, ctx): RunModel => {
  const schema = value !== null && typeof value === 'object' && 'onnx' in value ? OnnxModelSchema : ZooModelSchema;
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  for (const issue of r.error.issues) ctx.addIssue({ ...issue, path: issue.path } as never);
  return z.NEVER;
});

export { StrategySchema, type Strategy } from './strategy.js';

export const RunInputSchema = z
  .object({
    /** 1-60 letters, digits, '-' or '_'; defaults to the execution name */
    runId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$/, "use 1-60 letters, digits, '-' or '_', starting with a letter or digit").optional(),
    model: RunModelSchema.prefault({ zoo: 'cnn-classifier' }),
    rounds: z.number().int().min(1).max(1000).default(5),
    /** site ids taking part; defaults to every site of the deployment */
    sites: z.array(z.string().min(1)).min(1).optional(),
    /** accepted updates a round needs; defaults to half the sites, at least 1 */
    minSites: z.number().int().min(1).optional(),
    strategy: StrategySchema.prefault({ type: 'fedavg' }),
    /** bounds of the update gate */
    gate: GateConfigSchema.prefault({}),
    /** where each round's aggregation runs: 'auto' picks a CPU Batch job when the model times the
     * sites would not fit the aggregate-round function's memory or time; 'lambda'/'batch' force one */
    aggregation: z.enum(['auto', 'lambda', 'batch']).default('auto'),
    /** local training at each site; the loss defaults to the zoo model's */
    training: RunTrainingSpecSchema.prefault({}),
  })
  .strict();
export type RunInput = z.infer<typeof RunInputSchema>;
export type RunInputRaw = z.input<typeof RunInputSchema>;
