// Prepare run: parse the run input, write the run record and the round-0 global model (once), and
// return the state of round 0. Safe to run twice: an identical retry finds its own writes.
import { encodeModel, sha256 } from '../model/onnx-io.js';
import { formatIssues } from '../schemas/format.js';
import { type RunInput, RunInputSchema } from '../schemas/run-input.js';
import { TrainingSpecSchema } from '../schemas/training-spec.js';
import { type BlobStore, ObjectExistsError, putOnce } from '../storage/blob-store.js';
import { keys } from '../storage/keys.js';
import { InvalidRunInputError, RunConflictError } from './errors.js';
import { loadRunModel } from './run-model.js';
import { type AggregationLimits, estimateAggregation } from './aggregation-placement.js';
import type { RoundState, SiteRef } from './round-state.js';

export interface PrepareRunDeps {
  store: BlobStore;
  modelsBucket: string;
  /** every site of the deployment */
  sites: SiteRef[];
  /** the aggregate-round function's limits (placement of the aggregation; default 4096 MB, 900 s) */
  aggregationLimits?: AggregationLimits;
}

export function parseRunInput(raw: unknown, sites: SiteRef[]): RunInput & { runSites: SiteRef[]; minSitesResolved: number } {
  const parsed = RunInputSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new InvalidRunInputError(`run input is invalid: ${formatIssues(parsed.error)}`, { issues: parsed.error.issues });
  const input = parsed.data;
  const known = new Map(sites.map((s) => [s.siteId, s]));
  const unknown = (input.sites ?? []).filter((s) => !known.has(s));
  if (unknown.length) throw new InvalidRunInputError(`run input names unknown sites: ${unknown.join(', ')}; this deployment has ${[...known.keys()].join(', ')}`, { unknown });
  const runSites = input.sites ? input.sites.map((s) => known.get(s)!) : sites;
  const minSites = input.minSites ?? Math.max(1, Math.ceil(runSites.length / 2));
  if (minSites > runSites.length) throw new InvalidRunInputError(`minSites is ${minSites} but the run has only ${runSites.length} site(s); use a value from 1 to ${runSites.length}`, { minSites });
  const s = input.strategy;
  if ((s.type === 'krum' || s.type === 'multi-krum') && minSites < 2 * s.f + 3) {
    throw new InvalidRunInputError(`${s.type} with f=${s.f} needs at least ${2 * s.f + 3} accepted updates a round (n >= 2f + 3): set minSites to ${2 * s.f + 3} or more (the run has ${runSites.length} sites), or lower f`, { f: s.f, minSites });
  }
  if (s.type === 'trimmed-mean' && minSites - 2 * Math.floor(s.beta * minSites) < 1) throw new InvalidRunInputError(`trimmed-mean with beta=${s.beta} would trim every update of a ${minSites}-site round; lower beta`, { beta: s.beta });
  return { ...input, runSites, minSitesResolved: minSites };
}

/**
 * Settings that run but are known to work against the run's aim, each as one sentence for the run
 * record: the run goes on, and whoever audits it sees why a model may lag.
 */
export function runAdvice(input: RunInput): string[] {
  const advice: string[] = [];
  const s = input.strategy;
  if ((s.type === 'krum' || s.type === 'multi-krum') && input.training.localSteps === undefined) {
    advice.push(
      `${s.type} compares updates by distance, but with a step budget of epochs a site's update grows with its number of samples, ` +
        `so ${s.type === 'krum' ? 'Krum tends to keep the smallest site' : 'Multi-Krum favours the smallest sites'}; set training.localSteps so that every site takes the same number of steps`,
    );
  }
  return advice;
}

export async function prepareRun(deps: PrepareRunDeps, raw: unknown, executionName: string): Promise<RoundState> {
  const input = parseRunInput(raw, deps.sites);
  const runId = input.runId ?? executionName;
  const model = await loadRunModel({ store: deps.store, modelsBucket: deps.modelsBucket }, input.model);
  const loss = input.training.loss ?? (model.metadata['fedrad.loss'] as RunInput['training']['loss']);
  const trainingSpec = TrainingSpecSchema.parse({ ...input.training, loss });
  const bytes = encodeModel(model);
  const modelSha = sha256(bytes);
  const estimate = estimateAggregation(bytes.length, input.runSites.length, input.strategy, deps.aggregationLimits ?? { lambdaMemoryMb: 4096, lambdaTimeoutSeconds: 900 });
  const aggregation = input.aggregation === 'auto' ? { place: estimate.place, reason: estimate.reason } : { place: input.aggregation, reason: `the run input asks for ${input.aggregation} (${estimate.reason})` };
  const batchMb = deps.aggregationLimits?.batchMemoryMb;
  if (aggregation.place === 'batch' && batchMb !== undefined && estimate.memoryBytes > 0.9 * batchMb * 1024 * 1024) {
    throw new InvalidRunInputError(`the aggregation of this model over ${input.runSites.length} site(s) needs about ${(estimate.memoryBytes / 1024 ** 3).toFixed(1)} GiB, more than the Batch aggregation job's ${(batchMb / 1024).toFixed(1)} GiB: raise aggregationMemoryGiB (and aggregationVcpus) in the deployment config, or use fewer sites or a smaller model`, { memoryBytes: estimate.memoryBytes, batchMemoryMb: batchMb });
  }
  const record = { version: 1, runId, input: { ...input, runSites: undefined, minSitesResolved: undefined, runId }, sites: input.runSites.map((s) => s.siteId), minSites: input.minSitesResolved, trainingSpec, initialModelSha256: modelSha, aggregation, advice: runAdvice(input) };
  try {
    await putOnce(deps.store, deps.modelsBucket, keys.run(runId), `${JSON.stringify(record, null, 1)}\n`, 'application/json');
  } catch (err) {
    if (err instanceof ObjectExistsError) throw new RunConflictError(`run '${runId}' already exists with a different input; choose another runId (or start a new execution name)`, { runId }, { cause: err });
    throw err;
  }
  await putOnce(deps.store, deps.modelsBucket, keys.globalModel(runId, 0), bytes, 'application/octet-stream');
  return {
    runId,
    round: 0,
    rounds: input.rounds,
    minSites: input.minSitesResolved,
    modelsBucket: deps.modelsBucket,
    strategy: input.strategy,
    gate: input.gate,
    trainingSpec: JSON.stringify(trainingSpec),
    globalModelKey: keys.globalModel(runId, 0),
    globalModelSha256: modelSha,
    sites: input.runSites,
    lastRound: null,
    aggregation: aggregation.place,
  };
}
