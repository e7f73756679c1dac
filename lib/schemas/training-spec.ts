// The training spec: what a site's training job does with the global model. It travels in the run
// input and in the training job's environment, so every field has a default and unknown fields fail.
import { z } from 'zod';

export const LossNameSchema = z.enum(['softmax-cross-entropy', 'sigmoid-bce', 'soft-dice', 'bce-dice']);
export type LossName = z.infer<typeof LossNameSchema>;

export const SgdSchema = z
  .object({
    type: z.literal('sgd'),
    learningRate: z.number().positive().default(0.01),
    momentum: z.number().min(0).max(0.999).default(0.9),
    weightDecay: z.number().min(0).default(0),
  })
  .strict();

export const AdamSchema = z
  .object({
    type: z.literal('adam'),
    learningRate: z.number().positive().default(0.001),
    beta1: z.number().min(0).max(0.9999).default(0.9),
    beta2: z.number().min(0).max(0.99999).default(0.999),
    epsilon: z.number().positive().default(1e-8),
    /** Decoupled (AdamW) weight decay. */
    weightDecay: z.number().min(0).default(0),
  })
  .strict();

export const OptimizerSpecSchema = z.discriminatedUnion('type', [SgdSchema, AdamSchema]);
export type OptimizerSpec = z.infer<typeof OptimizerSpecSchema>;

const TrainingSpecFields = z
  .object({
    loss: LossNameSchema,
    optimizer: OptimizerSpecSchema.prefault({ type: 'adam' }),
    /** Clip the global gradient norm to this value before the optimizer step. */
    gradientClipNorm: z.number().positive().optional(),
    /** FedProx proximal term mu/2 * ||w - w_global||^2; 0 turns it off. */
    fedproxMu: z.number().min(0).default(0),
    epochs: z.number().int().min(1).max(1000).default(1),
    /**
     * Train exactly this many optimizer steps (batches) per round instead of `epochs`, reshuffling at
     * each pass over the data. Every site then moves the model about as far, whatever its size —
     * what distance-based robust aggregation (Krum) assumes of honest updates.
     */
    localSteps: z.number().int().min(1).max(1_000_000).optional(),
    batchSize: z.number().int().min(1).max(4096).default(32),
    seed: z.number().int().min(0).default(0),
  })
  .strict();

/** One step budget per round: epochs, or localSteps (epochs then stays at its default, 1). */
const oneStepBudget: [(s: { epochs?: number; localSteps?: number }) => boolean, { message: string; path: string[] }] = [
  (s) => s.localSteps === undefined || (s.epochs ?? 1) === 1,
  { message: 'set either epochs or localSteps, not both: localSteps trains that many batches per round whatever the epoch count', path: ['localSteps'] },
];

export const TrainingSpecSchema = TrainingSpecFields.refine(...oneStepBudget);
/** The training spec as the run input takes it: the loss may be left to the zoo model. */
export const RunTrainingSpecSchema = TrainingSpecFields.partial({ loss: true }).refine(...oneStepBudget);
export type TrainingSpec = z.infer<typeof TrainingSpecSchema>;
export type TrainingSpecInput = z.input<typeof TrainingSpecSchema>;
