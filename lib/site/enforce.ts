// The site's side of a task, wherever it trains: load the site's policy (fail closed), read the
// round's global model for its hash and zoo name, and decide. Used by the site-account training job
// (policy in the site bucket) and by the on-premises agent (policy in a local file).
import { decodeModel, sha256 } from '../model/onnx-io.js';
import { z } from 'zod';
import type { BlobStore } from '../storage/blob-store.js';
import { evaluateTask, type LoadedPolicy, type PolicyDecision, type TaskFacts } from './policy.js';

export interface TaskToCheck {
  runId: string;
  round: number;
  rounds?: number;
  /** the strategy as JSON text or object */
  strategy?: string | { type: string; dp?: { noiseMultiplier: number } };
  modelsBucket: string;
  globalModelKey: string;
  trainingSpec: string | { epochs?: number; localSteps?: number };
}

/** the part of a training spec a site policy bounds (the training job checks the rest) */
const StepBudgetSchema = z.object({ epochs: z.number().int().min(1).optional(), localSteps: z.number().int().min(1).optional() }).loose();

const asObject = <T>(v: string | T | undefined): T | undefined => {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as T;
  } catch {
    return undefined;
  }
};

/** Decides a task under the loaded policy; reads the global model only when the policy could allow. */
export async function checkTask(policy: LoadedPolicy, task: TaskToCheck, store: BlobStore, now: Date): Promise<PolicyDecision> {
  if (policy.status !== 'loaded' || !policy.policy.enabled) return evaluateTask(policy, { runId: task.runId, round: task.round, rounds: 1, strategy: { type: '' }, modelSha256: '', epochs: 1 }, now);
  const strategy = asObject<{ type: string; dp?: { noiseMultiplier: number } }>(task.strategy);
  const spec = StepBudgetSchema.safeParse(asObject(task.trainingSpec) ?? {});
  if (!strategy?.type || task.rounds === undefined || !spec.success) {
    return { allowed: false, rule: 'malformed', message: 'the task does not say its rounds, strategy and training spec, which the site policy checks; refused' };
  }
  const bytes = await store.get(task.modelsBucket, task.globalModelKey);
  const model = decodeModel(bytes, task.globalModelKey, { withoutValues: true });
  const facts: TaskFacts = { runId: task.runId, round: task.round, rounds: task.rounds, strategy, modelSha256: sha256(bytes), modelZoo: model.metadata['fedrad.zoo'], epochs: spec.data.epochs ?? 1, localSteps: spec.data.localSteps };
  return evaluateTask(policy, facts, now);
}
