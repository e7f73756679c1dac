// What a run will do, decided before anything starts: the run input checked by the same rules
// Prepare run applies (schema, sites, quorum, Krum's n >= 2f + 3), the initial model's hash and
// where its rounds will aggregate. `fedrad run start` shows it; `fedrad simulate` checks with it.
import { estimateAggregation } from '../federation/aggregation-placement.js';
import { parseRunInput } from '../federation/prepare-run.js';
import { encodeModel, sha256 } from '../model/onnx-io.js';
import { buildZooModel } from '../model/zoo/index.js';
import type { RunInput, RunInputRaw } from '../schemas/run-input.js';

export interface RunPlan {
  runId?: string;
  sites: string[];
  minSites: number;
  rounds: number;
  strategy: RunInput['strategy'];
  model: string;
  initialModelSha256: string;
  aggregation: { place: 'lambda' | 'batch'; reason: string };
  training: RunInput['training'];
}

/** Throws InvalidRunInputError (naming the field and what is allowed) for input Prepare run would refuse. */
export function planRun(raw: RunInputRaw, deploymentSites: string[], brought?: { bytes: number }): RunPlan {
  const refs = deploymentSites.map((siteId) => ({ siteId, bucket: '-', jobDefinitionArn: '-' }));
  const input = parseRunInput(raw, refs);
  const m = input.model;
  // a zoo model is built here to know its hash and size; a brought model names its hash (and its size when the file is at hand)
  const zooBytes = 'zoo' in m ? encodeModel(buildZooModel(m.zoo, m)) : undefined;
  const modelBytes = zooBytes?.length ?? brought?.bytes ?? 0;
  const estimate = estimateAggregation(modelBytes, input.runSites.length, input.strategy, { lambdaMemoryMb: 4096, lambdaTimeoutSeconds: 900 });
  return {
    ...(input.runId ? { runId: input.runId } : {}),
    sites: input.runSites.map((s) => s.siteId),
    minSites: input.minSitesResolved,
    rounds: input.rounds,
    strategy: input.strategy,
    model: 'zoo' in m ? `${m.zoo} (input ${m.inputSize}, seed ${m.seed})` : `ONNX ${m.onnx.key}${m.task ? ` (${m.task})` : ''}`,
    initialModelSha256: zooBytes ? sha256(zooBytes) : 'zoo' in m ? '' : m.onnx.sha256,
    aggregation: input.aggregation === 'auto' ? { place: estimate.place, reason: estimate.reason } : { place: input.aggregation, reason: `the run input asks for ${input.aggregation}` },
    training: input.training,
  };
}

export function describePlan(p: RunPlan): string {
  const t = p.training;
  return [
    `run ${p.runId ?? '(id: the execution name)'}`,
    `  sites      ${p.sites.join(', ')} (a round needs ${p.minSites} accepted)`,
    `  rounds     ${p.rounds}`,
    `  strategy   ${JSON.stringify(p.strategy)}`,
    `  model      ${p.model}, sha256 ${p.initialModelSha256}`,
    `  training   ${t.localSteps !== undefined ? `${t.localSteps} local steps` : `${t.epochs} epoch(s)`} a round, batch ${t.batchSize}`,
    `  aggregate  on ${p.aggregation.place}: ${p.aggregation.reason}`,
  ].join('\n');
}
