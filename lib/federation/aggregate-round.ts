// Aggregate round: the round-wide bounds (relative norm, near-zero, duplicates), the quorum, the
// privacy budget, then the strategy (lib/federation/strategies) and the server step; writes the next
// global model, the server optimizer state, the replay ledger and the lineage once each.
// Deterministic: a re-run yields the same bytes.
// Integrity: every accepted update is read pinned to the version the gate checked. An update whose
// object changed since (replaced, rewritten, deleted) is dropped as `tampered` and the aggregation
// starts again without it, from the stored model; the result is checked finite before it is written.
import { exportModel } from '../model/export.js';
import { numel, type TensorData } from '../model/graph.js';
import { decodeModel, initializerRoles, initializerSpans, sha256 } from '../model/onnx-io.js';
import { type RangeReader, readSafetensorsIndex } from '../model/safetensors-stream.js';
import { createHash } from 'node:crypto';
import { type Lineage, LineageSchema, type SiteOutcome, SiteOutcomeSchema } from '../schemas/lineage.js';
import { type BlobStore, getJson, ObjectChangedError, ObjectExistsError, ObjectNotFoundError, ObjectRefusedError, putOnce, readObjectInto } from '../storage/blob-store.js';
import { keys } from '../storage/keys.js';
import { bestAfter } from './best-model.js';
import { CorruptGlobalModelError, NonFiniteModelError, QuorumNotReachedError } from './errors.js';
import { recordLedgerEntry } from './ledger.js';
import { type Reason, rejected } from './validate-update.js';
import { aggregateUpdates, clipScales, STREAM_CHUNK, type SumTarget, type UpdateRef, weightedSum } from './strategies/aggregate-updates.js';
import { allocateByteArena, type ByteArena } from './strategies/float-arena.js';
import { PrivacyBudgetExceededError } from './strategies/errors.js';
import { gaussianEpsilon, type ServerOptimizer, serverStep } from './strategies/math.js';
import { encodeServerState, loadServerState, serverOptimizerOf } from './strategies/server-state.js';
import { storeReader } from './validate-update.js';
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

/** Values stepped at a time when the global model is updated in its own bytes. */
const STEP_CHUNK = 1 << 20;

/**
 * The next global model: each weight stepped by the server optimizer. Models that store weights as
 * raw_data (ours, and most exporters') are changed in their own bytes, chunk by chunk, so memory
 * holds the model once; others are decoded and re-encoded.
 */
function applyServerStep(bytes: Uint8Array, source: string, optimizer: ServerOptimizer, delta: Map<string, Float32Array>, state: Map<string, Record<string, Float32Array>>, runningStatistics: ReadonlySet<string>): { bytes: Uint8Array; sha256?: string } {
  // Running statistics (BatchNorm mean/var) are averages, not weights: they take the aggregated
  // update as it is; momentum or adaptive steps would push a variance below zero.
  const optimizerFor = (name: string): ServerOptimizer => (runningStatistics.has(name) ? { type: 'fedavg' } : optimizer);
  const spans = initializerSpans(bytes, source);
  if ([...delta.keys()].every((name) => (spans.get(name)?.offset ?? -1) >= 0)) {
    // raw_data sits at any byte offset: each chunk is copied into an aligned scratch, stepped, copied back.
    const scratch = new Float32Array(STEP_CHUNK);
    const scratchBytes = new Uint8Array(scratch.buffer);
    for (const [name, d] of delta) {
      const span = spans.get(name)!;
      for (let from = 0; from < d.length; from += STEP_CHUNK) {
        const to = Math.min(d.length, from + STEP_CHUNK);
        const start = span.offset + from * 4;
        const end = span.offset + to * 4;
        scratchBytes.set(bytes.subarray(start, end));
        const slots = Object.fromEntries(Object.entries(state.get(name)!).map(([k, v]) => [k, v.subarray(from, to)]));
        serverStep(optimizerFor(name), scratch.subarray(0, to - from), d.subarray(from, to), slots);
        bytes.set(scratchBytes.subarray(0, end - start), start);
      }
      delta.delete(name);
    }
    return { bytes };
  }
  const global = decodeModel(bytes, source);
  const weights = new Map<string, TensorData>();
  for (const [name, d] of delta) {
    const g = global.graph.initializers.get(name)!;
    serverStep(optimizerFor(name), g.data as Float32Array, d, state.get(name)!);
    weights.set(name, g);
  }
  const out = exportModel(global, weights);
  return { bytes: out.bytes, sha256: out.sha256 };
}

/** FedAvg's sum target: the model's own float32 raw_data, wherever each tensor sits in its bytes. */
function inPlaceTarget(arena: ByteArena, spans: ReadonlyMap<string, { offset: number }>, sizes: ReadonlyMap<string, number>): SumTarget {
  const view = new DataView(arena.bytes.buffer, arena.bytes.byteOffset, arena.bytes.byteLength);
  return {
    sizes,
    buffers: arena.buffers,
    add: (name, from, a, x) => arena.addAt(spans.get(name)!.offset + from * 4, a, x),
    addNoise: (name, sd, rng) => {
      const at = spans.get(name)!.offset;
      for (let k = 0; k < sizes.get(name)!; k++) view.setFloat32(at + 4 * k, view.getFloat32(at + 4 * k, true) + sd * rng.normal(), true);
    },
  };
}

/** An accepted update's object is not the one the gate checked: the site is dropped as tampered. */
export class UpdateTamperedError extends Error {
  constructor(
    readonly siteId: string,
    readonly why: string,
  ) {
    super(`the update of ${siteId} ${why}`);
    this.name = 'UpdateTamperedError';
  }
}

/** A range reader whose store errors on a changed or vanished object name the site. */
function tamperAware(reader: RangeReader, siteId: string): RangeReader {
  const wrap = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err) => {
      if (err instanceof ObjectChangedError) throw new UpdateTamperedError(siteId, 'changed after validation (the object is no longer the version the gate read)');
      if (err instanceof ObjectNotFoundError || err instanceof ObjectRefusedError) throw new UpdateTamperedError(siteId, 'disappeared after validation');
      throw err;
    });
  const out: RangeReader = { size: reader.size, read: (start, end) => wrap(reader.read(start, end)) };
  if (reader.readInto) out.readInto = (start, target) => wrap(reader.readInto!(start, target));
  return out;
}

/** Without a recorded version (a store that has none), the update is hashed once before use: weaker, no pin. */
async function hashOf(reader: RangeReader): Promise<string> {
  const hash = createHash('sha256');
  for (let at = 0; at < reader.size; at += STREAM_CHUNK * 4) hash.update(await reader.read(at, Math.min(reader.size, at + STREAM_CHUNK * 4)));
  return hash.digest('hex');
}

/**
 * The accepted updates as range readers over the store, pinned to the versions the gate read, with
 * their tensor indexes (headers only). Throws UpdateTamperedError for the first that changed.
 */
export async function openUpdates(store: BlobStore, input: Pick<AggregateInput, 'runId' | 'round' | 'sites'>, accepted: Pick<Accepted, 'siteId' | 'sampleCount' | 'norm' | 'updateSha256' | 'updateVersion'>[]): Promise<UpdateRef[]> {
  const siteBucket = new Map(input.sites.map((s) => [s.siteId, s.bucket]));
  const refs: UpdateRef[] = [];
  for (const a of accepted) {
    const bucket = siteBucket.get(a.siteId)!;
    const key = keys.update(input.runId, input.round);
    const info = await store.head(bucket, key).catch((err) => {
      if (err instanceof ObjectRefusedError) return undefined;
      throw err;
    });
    if (!info) throw new UpdateTamperedError(a.siteId, `disappeared from s3://${bucket}/${key} after validation`);
    if (a.updateVersion && info.version !== a.updateVersion) throw new UpdateTamperedError(a.siteId, 'was replaced after validation (its object is no longer the version the gate read)');
    const reader = tamperAware(storeReader(store, bucket, key, info.size, { version: a.updateVersion }), a.siteId);
    if (!a.updateVersion && (await hashOf(reader)) !== a.updateSha256) throw new UpdateTamperedError(a.siteId, 'changed after validation (its SHA-256 differs from the one the gate recorded)');
    const index = await readSafetensorsIndex(reader, `update of ${a.siteId}`).catch((err) => {
      if (err instanceof UpdateTamperedError) throw err;
      throw new UpdateTamperedError(a.siteId, 'no longer parses as it did at validation');
    });
    refs.push({ siteId: a.siteId, sampleCount: a.sampleCount, norm: a.norm ?? 0, reader, entries: new Map(index.entries.map((e) => [e.name, e])) });
  }
  return refs;
}

/** The lower median: for an even count the smaller middle value, so that of two sites the larger cannot set its own bound. */
export function lowerMedian(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/**
 * The gate's round-wide rules, which need every site's verdict: updates over maxNormOverMedian x the
 * round's (lower) median norm, near-zero ones below minNormOverMedian x that median, and identical
 * updates from two sites (one copied the other's bytes) are rejected.
 */
export function applyRoundBounds(outcomes: SiteOutcome[], gate: AggregateInput['gate'], report: Record<string, unknown>): SiteOutcome[] {
  const reject = (o: SiteOutcome, reason: Reason) => rejected(o.siteId, [reason]);
  const bySha = new Map<string, string[]>();
  for (const o of outcomes) if (o.status === 'accepted') bySha.set(o.updateSha256, [...(bySha.get(o.updateSha256) ?? []), o.siteId]);
  let out = outcomes.map((o) => {
    const same = o.status === 'accepted' ? bySha.get(o.updateSha256)! : [];
    return same.length > 1 ? reject(o, { code: 'duplicate-update', message: `sites ${same.join(', ')} sent byte-identical updates; identical updates from two sites are rejected together` }) : o;
  });
  const norms = out.flatMap((o) => (o.status === 'accepted' && o.norm !== undefined ? [o.norm] : []));
  if (!norms.length) return out;
  const med = lowerMedian(norms);
  report.medianNorm = med;
  const { maxNormOverMedian: over, minNormOverMedian: under } = gate;
  out = out.map((o) => {
    if (o.status !== 'accepted' || o.norm === undefined) return o;
    if (over !== null && over !== undefined && o.norm > over * med) return reject(o, { code: 'norm-over-median', message: `L2 norm ${o.norm.toPrecision(4)} exceeds ${over} x the round's median ${med.toPrecision(4)} (gate.maxNormOverMedian)` });
    if (!gate.allowNoProgress && under !== null && under !== undefined && o.norm < under * med) return reject(o, { code: 'no-progress', message: `L2 norm ${o.norm.toPrecision(4)} is below ${under} x the round's median ${med.toPrecision(4)}: the update moved nothing (gate.minNormOverMedian, gate.allowNoProgress)` });
    return o;
  });
  return out;
}

export async function aggregateRound(store: BlobStore, input: AggregateInput): Promise<RoundState> {
  const strategyReport: Record<string, unknown> = {};
  let outcomes = applyRoundBounds(parseOutcomes(input.outcomes).sort((a, b) => a.siteId.localeCompare(b.siteId)), input.gate, strategyReport);
  // An update that changed since the gate read it is dropped and the round aggregated again without it.
  let result: Combined;
  for (;;) {
    const accepted = outcomes.filter((o): o is Accepted => o.status === 'accepted');
    checkQuorum(input, outcomes, accepted);
    try {
      result = await combineUpdates(store, input, accepted, strategyReport);
      break;
    } catch (err) {
      if (!(err instanceof UpdateTamperedError)) throw err;
      outcomes = outcomes.map((o) => (o.siteId === err.siteId ? rejected(o.siteId, [{ code: 'tampered', message: `the update ${err.why}; it was dropped before aggregation` }]) : o));
      strategyReport.tampered = [...((strategyReport.tampered as string[] | undefined) ?? []), err.siteId];
    }
  }
  const { next, weights, privacy, accepted } = result;
  checkFinite(next.bytes, input, result.updatable);
  const count = (s: SiteOutcome['status']) => outcomes.filter((o) => o.status === s).length;
  const nextRound = input.round + 1;
  const writeOnce = async (key: string, body: Uint8Array | string, what: string) => {
    try {
      await putOnce(store, input.modelsBucket, key, body);
    } catch (err) {
      if (err instanceof ObjectExistsError) throw new CorruptGlobalModelError(`${what} of run ${input.runId} already exists with different content; it is never overwritten`, { key }, { cause: err });
      throw err;
    }
  };
  // the store writes the model on its own threads while this one hashes it (for the lineage, written last)
  const written = writeOnce(keys.globalModel(input.runId, nextRound), next.bytes, `model ${nextRound}`);
  written.catch(() => {});
  const modelSha256 = next.sha256 ?? sha256(next.bytes);
  await written;
  const stateBytes = encodeServerState(result.state, result.dims, { runId: input.runId, round: String(nextRound), optimizer: result.optimizer.type });
  if (stateBytes) await writeOnce(keys.serverState(input.runId, nextRound), stateBytes, `the server state of model ${nextRound}`);
  for (const a of accepted) await recordLedgerEntry(store, input.modelsBucket, input.runId, a.updateSha256, { siteId: a.siteId, round: input.round });
  const lineage: Lineage = {
    version: 1,
    runId: input.runId,
    round: nextRound,
    modelSha256,
    parentRound: input.round,
    parentSha256: input.globalModelSha256,
    strategy: input.strategy,
    // the version an update was pinned to is the store's business (it differs between two copies of a run); the hash is the audit
    sites: outcomes.map((o) => (o.status === 'accepted' ? { ...withoutVersion(o), weight: weights[o.siteId] ?? 0 } : o)),
    parentMetrics: weightedMetrics(accepted, (a) => a.globalMetrics),
    privacy,
    strategyReport,
  };
  // the best model so far: the previous record's choice against the model this round scored
  const previousBest = input.round > 0 ? LineageSchema.parse(await getJson(store, input.modelsBucket, keys.lineage(input.runId, input.round))).best : undefined;
  const best = bestAfter(previousBest, lineage);
  if (best) lineage.best = best;
  await writeOnce(keys.lineage(input.runId, nextRound), `${JSON.stringify(lineage, null, 1)}\n`, `the lineage of model ${nextRound}`);
  const { outcomes: _outcomes, ...rest } = input;
  return {
    ...rest,
    round: nextRound,
    globalModelKey: keys.globalModel(input.runId, nextRound),
    globalModelSha256: modelSha256,
    lastRound: { round: input.round, accepted: accepted.length, rejected: count('rejected'), failed: count('failed'), modelSha256, metrics: lineage.parentMetrics },
  };
}

const withoutVersion = ({ updateVersion: _v, ...rest }: Accepted): Accepted => rest;

function checkQuorum(input: AggregateInput, outcomes: SiteOutcome[], accepted: Accepted[]): void {
  if (accepted.length >= input.minSites) return;
  const why = outcomes.filter((o) => o.status !== 'accepted').map((o) => (o.status === 'rejected' ? `${o.siteId} rejected (${o.reasons.map((r) => r.code).join(', ')})` : `${o.siteId} failed (${o.status === 'failed' ? o.error : ''})`));
  throw new QuorumNotReachedError(
    `round ${input.round} of run ${input.runId}: ${accepted.length} update(s) accepted, fewer than minSites=${input.minSites}; model ${input.round} stays current. ${why.join('; ')}`,
    { runId: input.runId, round: input.round, accepted: accepted.length, minSites: input.minSites },
  );
}

/** Values checked at a time for finiteness. */
const FINITE_CHUNK = 1 << 20;

/**
 * Every updated weight of the next model is finite, or nothing is written. The gate refused
 * non-finite updates and aggregation reads only what the gate checked, so this fails only on an
 * overflow of the sum or a fault: the previous model stays current either way.
 */
function checkFinite(bytes: Uint8Array, input: AggregateInput, updatable: ReadonlySet<string>): void {
  const spans = initializerSpans(bytes, 'the next global model');
  const scratch = new Float32Array(FINITE_CHUNK);
  const scratchBytes = new Uint8Array(scratch.buffer);
  const fail = (name: string) => {
    throw new NonFiniteModelError(`round ${input.round} of run ${input.runId}: the aggregated weight '${name}' holds a NaN or infinite value; nothing was written and model ${input.round} stays current`, { runId: input.runId, round: input.round, tensor: name });
  };
  let decoded: ReturnType<typeof decodeModel> | undefined;
  for (const name of updatable) {
    const span = spans.get(name);
    if (span && span.offset >= 0 && span.dtype === 'float32') {
      for (let at = 0; at < span.byteLength; at += FINITE_CHUNK * 4) {
        const len = Math.min(FINITE_CHUNK * 4, span.byteLength - at);
        scratchBytes.set(bytes.subarray(span.offset + at, span.offset + at + len));
        const values = scratch.subarray(0, len / 4);
        for (let k = 0; k < values.length; k++) if (!Number.isFinite(values[k])) fail(name);
      }
    } else {
      decoded ??= decodeModel(bytes, 'the next global model');
      const data = decoded.graph.initializers.get(name)?.data;
      if (data instanceof Float32Array) for (let k = 0; k < data.length; k++) if (!Number.isFinite(data[k])) fail(name);
    }
  }
}

interface Combined {
  next: { bytes: Uint8Array; sha256?: string };
  weights: Record<string, number>;
  privacy: Lineage['privacy'];
  accepted: Accepted[];
  state: Map<string, Record<string, Float32Array>>;
  dims: Map<string, number[]>;
  optimizer: ServerOptimizer;
  updatable: Set<string>;
}

/** The strategy and the server step over the accepted updates, from the stored model: the next model's bytes, not yet written. */
async function combineUpdates(store: BlobStore, input: AggregateInput, accepted: Accepted[], strategyReport: Record<string, unknown>): Promise<Combined> {
  const strategy = input.strategy;
  let privacy: Lineage['privacy'] = null;
  if ('dp' in strategy && strategy.dp) {
    const { epsilon } = gaussianEpsilon(strategy.dp.noiseMultiplier, input.round + 1, strategy.dp.delta);
    if (strategy.dp.epsilonBudget !== undefined && epsilon > strategy.dp.epsilonBudget) {
      throw new PrivacyBudgetExceededError(
        `round ${input.round} of run ${input.runId} would bring epsilon to ${epsilon.toFixed(3)} (delta ${strategy.dp.delta}), above the budget ${strategy.dp.epsilonBudget}; the run stops with model ${input.round} current`,
        { round: input.round, epsilon, budget: strategy.dp.epsilonBudget },
      );
    }
    privacy = { noiseMultiplier: strategy.dp.noiseMultiplier, clipNorm: strategy.dp.clipNorm, delta: strategy.dp.delta, epsilon, rounds: input.round + 1 };
  }
  // FedAvg sums the updates into the model's own bytes (in a SIMD arena): memory holds the model
  // once, with no separate accumulator. Other strategies build the aggregated update first.
  let arena: ByteArena | undefined;
  let bytes: Uint8Array;
  if (strategy.type === 'fedavg') {
    const info = await store.head(input.modelsBucket, input.globalModelKey);
    if (!info) throw new CorruptGlobalModelError(`global model ${input.globalModelKey} is missing from ${input.modelsBucket}`, { key: input.globalModelKey });
    arena = allocateByteArena(info.size, 2, STREAM_CHUNK);
    await readObjectInto(store, input.modelsBucket, input.globalModelKey, arena.bytes);
    bytes = arena.bytes;
  } else {
    bytes = await store.get(input.modelsBucket, input.globalModelKey);
  }
  if (sha256(bytes) !== input.globalModelSha256) throw new CorruptGlobalModelError(`global model ${input.globalModelKey} does not match its recorded SHA-256 ${input.globalModelSha256}`, { key: input.globalModelKey });
  const structure = decodeModel(bytes, input.globalModelKey, { withoutValues: true });
  const updatable = updatableInitializers(structure);
  const sizes = new Map([...updatable].map(([name, t]) => [name, numel(t.dims)]));
  const dims = new Map([...updatable].map(([name, t]) => [name, t.dims]));
  const refs = await openUpdates(store, input, accepted);
  const noiseSeed = `${input.runId}:${input.round}`;
  const optimizer = serverOptimizerOf(strategy);
  const state = await loadServerState(store, input.modelsBucket, input.runId, input.round, optimizer, dims);
  let weights: Record<string, number>;
  let next: { bytes: Uint8Array; sha256?: string };
  const spans = arena ? initializerSpans(bytes, input.globalModelKey) : undefined;
  const rawFloats = (name: string, size: number) => (spans?.get(name)?.offset ?? -1) >= 0 && spans?.get(name)?.dtype === 'float32' && spans.get(name)!.byteLength === 4 * size;
  if (arena && spans && [...sizes].every(([name, size]) => rawFloats(name, size))) {
    ({ weights } = await weightedSum(strategy, refs, clipScales(strategy, refs, strategyReport), inPlaceTarget(arena, spans, sizes), noiseSeed, strategyReport));
    next = { bytes };
  } else {
    const aggregated = await aggregateUpdates(strategy, refs, sizes, noiseSeed);
    Object.assign(strategyReport, aggregated.report);
    weights = aggregated.weights;
    const roles = initializerRoles(structure);
    const runningStatistics = new Set([...updatable.keys()].filter((name) => roles.get(name) === 'running-statistic'));
    next = applyServerStep(bytes, input.globalModelKey, optimizer, aggregated.delta, state, runningStatistics);
  }
  return { next, weights, privacy, accepted, state, dims, optimizer, updatable: new Set(updatable.keys()) };
}
