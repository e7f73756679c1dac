// Aggregate round: enforce the quorum, then FedAvg — the sample-weighted mean of the accepted
// updates added to the global model — reading one update at a time (memory of one model, not of all
// sites). Writes the next global model and its lineage once; a re-run yields the same bytes.
import { exportModel } from '../model/export.js';
import { type TensorData } from '../model/graph.js';
import { decodeModel, sha256 } from '../model/onnx-io.js';
import { decodeSafetensors } from '../model/safetensors.js';
import { type Lineage, type SiteOutcome, SiteOutcomeSchema } from '../schemas/lineage.js';
import { type BlobStore, ObjectExistsError, putOnce } from '../storage/blob-store.js';
import { keys } from '../storage/keys.js';
import { CorruptGlobalModelError, QuorumNotReachedError } from './errors.js';
import type { AggregateInput, RoundState } from './round-state.js';
import { updatableInitializers } from './update.js';

type Accepted = Extract<SiteOutcome, { status: 'accepted' }>;

/** Normalises what the Map collected; anything unreadable counts as a failed site. */
export function parseOutcomes(raw: unknown[]): SiteOutcome[] {
  return raw.map((o, i) => {
    const parsed = SiteOutcomeSchema.safeParse(o);
    if (parsed.success) return parsed.data;
    const siteId = typeof (o as { siteId?: unknown })?.siteId === 'string' ? (o as { siteId: string }).siteId : `item-${i}`;
    return { siteId, status: 'failed', error: 'MalformedOutcome', cause: JSON.stringify(o).slice(0, 500) };
  });
}

function weightedMetrics(accepted: Accepted[], pick: (a: Accepted) => Record<string, number>): Record<string, number> {
  const total = accepted.reduce((s, a) => s + a.sampleCount, 0);
  const out: Record<string, number> = {};
  for (const a of accepted) for (const [k, v] of Object.entries(pick(a))) out[k] = (out[k] ?? 0) + (v * a.sampleCount) / total;
  return out;
}

export async function aggregateRound(store: BlobStore, input: AggregateInput): Promise<RoundState> {
  const outcomes = parseOutcomes(input.outcomes).sort((a, b) => a.siteId.localeCompare(b.siteId));
  const accepted = outcomes.filter((o): o is Accepted => o.status === 'accepted');
  const count = (s: SiteOutcome['status']) => outcomes.filter((o) => o.status === s).length;
  if (accepted.length < input.minSites) {
    const why = outcomes.filter((o) => o.status !== 'accepted').map((o) => (o.status === 'rejected' ? `${o.siteId} rejected (${o.reasons.map((r) => r.code).join(', ')})` : `${o.siteId} failed (${o.status === 'failed' ? o.error : ''})`));
    throw new QuorumNotReachedError(
      `round ${input.round} of run ${input.runId}: ${accepted.length} update(s) accepted, fewer than minSites=${input.minSites}; model ${input.round} stays current. ${why.join('; ')}`,
      { runId: input.runId, round: input.round, accepted: accepted.length, minSites: input.minSites },
    );
  }
  const bytes = await store.get(input.modelsBucket, input.globalModelKey);
  if (sha256(bytes) !== input.globalModelSha256) throw new CorruptGlobalModelError(`global model ${input.globalModelKey} does not match its recorded SHA-256 ${input.globalModelSha256}`, { key: input.globalModelKey });
  const global = decodeModel(bytes, input.globalModelKey);
  const total = accepted.reduce((s, a) => s + a.sampleCount, 0);
  const sums = new Map<string, Float64Array>();
  for (const [name, t] of updatableInitializers(global)) sums.set(name, new Float64Array(t.data.length));
  const siteBucket = new Map(input.sites.map((s) => [s.siteId, s.bucket]));
  for (const a of accepted) {
    // One update in memory at a time; the gate has checked names, shapes and finiteness.
    const update = decodeSafetensors(await store.get(siteBucket.get(a.siteId)!, keys.update(input.runId, input.round)), `update of ${a.siteId}`).tensors;
    const w = a.sampleCount / total;
    for (const [name, acc] of sums) {
      const d = update.get(name)!.data as Float32Array;
      for (let i = 0; i < acc.length; i++) acc[i] += w * d[i];
    }
  }
  const weights = new Map<string, TensorData>();
  for (const [name, acc] of sums) {
    const g = global.graph.initializers.get(name)!;
    const gd = g.data as Float32Array;
    weights.set(name, { dtype: 'float32', dims: g.dims, data: Float32Array.from(gd, (v, i) => v + acc[i]) });
  }
  const next = exportModel(global, weights);
  const nextRound = input.round + 1;
  const nextKey = keys.globalModel(input.runId, nextRound);
  try {
    await putOnce(store, input.modelsBucket, nextKey, next.bytes, 'application/octet-stream');
  } catch (err) {
    if (err instanceof ObjectExistsError) throw new CorruptGlobalModelError(`model ${nextRound} of run ${input.runId} already exists with different content; it is never overwritten`, { key: nextKey }, { cause: err });
    throw err;
  }
  const lineage: Lineage = {
    version: 1,
    runId: input.runId,
    round: nextRound,
    modelSha256: next.sha256,
    parentRound: input.round,
    parentSha256: input.globalModelSha256,
    strategy: input.strategy,
    sites: outcomes.map((o) => (o.status === 'accepted' ? { ...o, weight: o.sampleCount / total } : o)),
    parentMetrics: weightedMetrics(accepted, (a) => a.globalMetrics),
    privacy: null,
  };
  try {
    await putOnce(store, input.modelsBucket, keys.lineage(input.runId, nextRound), `${JSON.stringify(lineage, null, 1)}\n`, 'application/json');
  } catch (err) {
    if (err instanceof ObjectExistsError) throw new CorruptGlobalModelError(`the lineage of model ${nextRound} of run ${input.runId} already exists with different content; it is never overwritten`, { key: keys.lineage(input.runId, nextRound) }, { cause: err });
    throw err;
  }
  const { outcomes: _outcomes, ...state } = input;
  return {
    ...state,
    round: nextRound,
    globalModelKey: nextKey,
    globalModelSha256: next.sha256,
    lastRound: { round: input.round, accepted: accepted.length, rejected: count('rejected'), failed: count('failed'), modelSha256: next.sha256, metrics: lineage.parentMetrics },
  };
}
