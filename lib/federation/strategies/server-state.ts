// Server optimizer state (FedAvgM momentum, FedAdam/FedYogi/FedAdagrad moments) as safetensors in
// the models bucket, one file per model: a cold Lambda resumes exactly where the last round ended.
import { floatTensor, type TensorData } from '../../model/graph.js';
import { decodeSafetensors, encodeSafetensors } from '../../model/safetensors.js';
import type { Strategy } from '../../schemas/strategy.js';
import { type BlobStore, ObjectNotFoundError } from '../../storage/blob-store.js';
import { keys } from '../../storage/keys.js';
import { CorruptGlobalModelError } from '../errors.js';
import { MEAN_TYPES } from './aggregate-updates.js';
import { type ServerOptimizer, serverStateSlots } from './math.js';

export function serverOptimizerOf(strategy: Strategy): ServerOptimizer {
  if (!MEAN_TYPES.has(strategy.type)) {
    // robust aggregates are applied as they are, or through server momentum
    const momentum = 'serverMomentum' in strategy ? strategy.serverMomentum : 0;
    return momentum > 0 ? { type: 'fedavgm', serverLearningRate: 1, momentum } : { type: 'fedavg' };
  }
  return strategy as ServerOptimizer;
}

/** State slots per weight tensor, named "<tensor>::<slot>"; zeros before the first round. */
export async function loadServerState(store: BlobStore, bucket: string, runId: string, round: number, opt: ServerOptimizer, dims: Map<string, number[]>): Promise<Map<string, Record<string, Float32Array>>> {
  const slots = serverStateSlots(opt);
  const fresh = () => new Map([...dims].map(([name, d]) => [name, Object.fromEntries(slots.map((s) => [s, floatTensor(d).data as Float32Array]))]));
  if (slots.length === 0 || round === 0) return fresh();
  let bytes: Uint8Array;
  try {
    bytes = await store.get(bucket, keys.serverState(runId, round));
  } catch (err) {
    if (err instanceof ObjectNotFoundError) throw new CorruptGlobalModelError(`model ${round} of run ${runId} has no server optimizer state (${keys.serverState(runId, round)}); a ${opt.type} run keeps one per round`, { round }, { cause: err });
    throw err;
  }
  const tensors = decodeSafetensors(bytes, keys.serverState(runId, round)).tensors;
  const state = fresh();
  for (const [name, rec] of state) for (const s of slots) {
    const t = tensors.get(`${name}::${s}`);
    if (t) rec[s] = t.data as Float32Array;
  }
  return state;
}

export function encodeServerState(state: Map<string, Record<string, Float32Array>>, dims: Map<string, number[]>, meta: Record<string, string>): Uint8Array | undefined {
  const out = new Map<string, TensorData>();
  for (const [name, rec] of state) for (const [slot, data] of Object.entries(rec)) out.set(`${name}::${slot}`, { dtype: 'float32', dims: dims.get(name)!, data });
  return out.size ? encodeSafetensors(out, meta) : undefined;
}
