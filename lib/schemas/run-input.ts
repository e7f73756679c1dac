// The run input: what a researcher pastes into the Step Functions console, passes to the CLI, or a
// schedule stores. Every field has a default except what cannot have one; unknown fields are errors.
import { z } from 'zod';
import { ZOO_3D_NAMES, ZOO_NAMES } from '../model/zoo/index.js';
import { GateConfigSchema, StrategySchema } from './strategy.js';
import { RunTrainingSpecSchema } from './training-spec.js';

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

export { StrategySchema, type Strategy } from './strategy.js';

export const RunInputSchema = z
  .object({
    /** 1-60 letters, digits, '-' or '_'; defaults to the execution name */
    runId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$/, "use 1-60 letters, digits, '-' or '_', starting with a letter or digit").optional(),
    model: ZooModelSchema.prefault({ zoo: 'cnn-classifier' }),
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
