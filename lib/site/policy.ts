// The site policy: what a hospital allows the federation to do with its data, held and enforced by
// the site (an S3 object in its own account for site-account training, a local file for the agent).
// Pure: parsing and the decision; fail closed: a missing, malformed or expired policy refuses every task.
import { z } from 'zod';
import { formatIssues } from '../schemas/format.js';

const SHA256 = /^[0-9a-f]{64}$/;
const ZOO_NAME = /^[a-z][a-z0-9-]{0,63}$/;

export const SitePolicySchema = z
  .object({
    version: z.literal(1),
    /** the kill switch: false refuses every task */
    enabled: z.boolean(),
    /** global models this site trains: zoo names (the model's fedrad.zoo) or SHA-256s of the model file */
    allowedModels: z.array(z.string().refine((s) => SHA256.test(s) || ZOO_NAME.test(s), 'a zoo name such as "cnn-classifier" or a lowercase hex SHA-256')).min(1),
    /** aggregation strategies the site's updates may go into (run input strategy.type) */
    allowedStrategies: z.array(z.string().regex(/^[a-z][a-z-]*$/)).min(1),
    /** central differential privacy the run must apply to the site's updates */
    differentialPrivacy: z.object({ required: z.boolean(), minNoiseMultiplier: z.number().positive().optional() }).strict().default({ required: false }),
    maxRounds: z.number().int().min(1),
    maxLocalEpochs: z.number().int().min(1).optional(),
    maxLocalSteps: z.number().int().min(1).optional(),
    /** a regular expression the whole run id must match */
    runIdPattern: z.string().min(1).max(200).refine((p) => {
      try {
        new RegExp(p);
        return true;
      } catch {
        return false;
      }
    }, 'a valid regular expression'),
    /** the policy stops allowing anything at this instant (ISO 8601) */
    expires: z.iso.datetime({ offset: true }),
  })
  .strict();
export type SitePolicy = z.infer<typeof SitePolicySchema>;

/** The rule that refused a task: a policy field, or the policy itself. */
export const POLICY_RULES = ['missing', 'malformed', 'expires', 'enabled', 'allowedModels', 'allowedStrategies', 'differentialPrivacy', 'maxRounds', 'maxLocalEpochs', 'maxLocalSteps', 'runIdPattern'] as const;
export type PolicyRule = (typeof POLICY_RULES)[number];

/** A policy as the site found it: loaded, or why not. */
export type LoadedPolicy = { status: 'loaded'; policy: SitePolicy } | { status: 'missing' | 'malformed'; detail: string };

/** What a task asks of the site, as the policy sees it. */
export interface TaskFacts {
  runId: string;
  round: number;
  rounds: number;
  /** the strategy's type (Strategy['type'], or whatever a newer round machine sends) and its DP */
  strategy: { type: string; dp?: { noiseMultiplier: number } };
  modelSha256: string;
  /** the model's fedrad.zoo metadata, when it has one */
  modelZoo?: string;
  epochs: number;
  localSteps?: number;
}

export type PolicyDecision = { allowed: true } | { allowed: false; rule: PolicyRule; message: string };

/** The reason a refused task records (lineage, report, the agent's SendTaskFailure error). */
export const refusalReason = (rule: PolicyRule) => `site-policy: ${rule}`;

const quote = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);

/** Parses a policy file's text (undefined: there is none). Never throws. */
export function parseSitePolicy(text: string | undefined, source: string): LoadedPolicy {
  if (text === undefined) return { status: 'missing', detail: `no site policy at ${source}` };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { status: 'malformed', detail: `${source} is not valid JSON (${(err as Error).message.slice(0, 120)})` };
  }
  const parsed = SitePolicySchema.safeParse(raw);
  if (!parsed.success) return { status: 'malformed', detail: `${source}: ${formatIssues(parsed.error)}` };
  return { status: 'loaded', policy: parsed.data };
}

/** Allows the task, or names the first rule that refuses it (the kill switch and expiry first). */
export function evaluateTask(loaded: LoadedPolicy, task: TaskFacts, now: Date): PolicyDecision {
  const refuse = (rule: PolicyRule, message: string): PolicyDecision => ({ allowed: false, rule, message });
  if (loaded.status !== 'loaded') return refuse(loaded.status, `${loaded.detail}; every task is refused until a valid policy is in place`);
  const p = loaded.policy;
  if (!p.enabled) return refuse('enabled', 'the site policy is disabled (kill switch): every task is refused');
  if (Date.parse(p.expires) <= now.getTime()) return refuse('expires', `the site policy expired at ${p.expires}; renew it to train again`);
  if (!new RegExp(`^(?:${p.runIdPattern})$`).test(task.runId)) return refuse('runIdPattern', `run id ${quote(task.runId)} does not match the allowed pattern ${quote(p.runIdPattern)}`);
  const modelAllowed = p.allowedModels.includes(task.modelSha256) || (task.modelZoo !== undefined && p.allowedModels.includes(task.modelZoo));
  if (!modelAllowed) return refuse('allowedModels', `the model (${task.modelZoo ? `zoo ${quote(task.modelZoo)}, ` : ''}SHA-256 ${task.modelSha256}) is not among the allowed models`);
  if (!p.allowedStrategies.includes(task.strategy.type)) return refuse('allowedStrategies', `strategy ${quote(task.strategy.type)} is not allowed; allowed: ${p.allowedStrategies.join(', ')}`);
  const dp = p.differentialPrivacy;
  if (dp.required && !task.strategy.dp) return refuse('differentialPrivacy', 'the site requires differential privacy, and the run applies none');
  if (dp.required && dp.minNoiseMultiplier !== undefined && task.strategy.dp!.noiseMultiplier < dp.minNoiseMultiplier) {
    return refuse('differentialPrivacy', `noise multiplier ${task.strategy.dp!.noiseMultiplier} is below the site's minimum ${dp.minNoiseMultiplier}`);
  }
  if (task.rounds > p.maxRounds) return refuse('maxRounds', `the run has ${task.rounds} rounds; the site allows at most ${p.maxRounds}`);
  if (task.localSteps === undefined && p.maxLocalEpochs !== undefined && task.epochs > p.maxLocalEpochs) return refuse('maxLocalEpochs', `${task.epochs} local epochs a round; the site allows at most ${p.maxLocalEpochs}`);
  if (task.localSteps !== undefined && p.maxLocalSteps !== undefined && task.localSteps > p.maxLocalSteps) return refuse('maxLocalSteps', `${task.localSteps} local steps a round; the site allows at most ${p.maxLocalSteps}`);
  return { allowed: true };
}
