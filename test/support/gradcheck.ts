// Gradient check: the training graph's gradients (float32, onnxruntime) against central differences
// of the float64 reference interpreter's loss.
import { floatTensor, type Model, numel, type TensorData } from '../../lib/model/graph.js';
import { createSession, floatOrt, scalarOrt, toOrt } from '../../lib/model/runtime.js';
import { buildTrainingGraph, globalName, TARGET_INPUT } from '../../lib/model/training-graph.js';
import { Random } from '../../lib/util/random.js';
import { type ReferenceLoss, referenceLoss, runReference, type T64 } from './reference.js';

export interface GradientCheckOptions {
  loss: ReferenceLoss;
  inputShape: number[];
  seed: number;
  /** FedProx mu and the global weights it pulls towards */
  fedproxMu?: number;
  /** elements checked per parameter (a random subset when a tensor is larger) */
  maxElements?: number;
  /** how the target is drawn: one-hot rows for cross-entropy, 0/1 values otherwise */
  targetShape?: number[];
}

export interface GradientCheckResult {
  maxRelativeError: number;
  perParameter: Record<string, number>;
  checkedElements: number;
}

/** Float32 values, so that onnxruntime and the float64 reference see exactly the same numbers. */
function randomTensor(dims: number[], f: () => number): { f32: Float32Array; f64: T64 } {
  const f32 = Float32Array.from({ length: numel(dims) }, f);
  return { f32, f64: { dims, data: Float64Array.from(f32) } };
}

/**
 * Relative error of a tensor: max |g - r| over checked elements, divided by the larger of the
 * tensor's largest reference gradient and 1e-3 times the largest over all parameters (so a
 * gradient that is zero by construction is not divided by rounding noise).
 */
export async function gradientCheck(model: Model, opts: GradientCheckOptions): Promise<GradientCheckResult> {
  const rng = new Random(opts.seed);
  const mu = opts.fedproxMu ?? 0;
  const tg = buildTrainingGraph(model, { loss: opts.loss, optimizer: { type: 'sgd', learningRate: 0, momentum: 0, weightDecay: 0 }, emitGradients: true, fedproxMu: mu });
  const input = randomTensor(opts.inputShape, () => rng.normal());
  const logitsName = model.graph.outputs[0].name;
  // Target: shape of the logits, found by one reference run.
  const zShape = runReference(model, { [tg.dataInput]: input.f64 }).get(logitsName)!.dims;
  const targetDims = opts.targetShape ?? zShape;
  let target: { f32: Float32Array; f64: T64 };
  if (opts.loss === 'softmax-cross-entropy') {
    const [n, k] = targetDims;
    target = randomTensor(targetDims, () => 0);
    for (let i = 0; i < n; i++) target.f32[i * k + rng.int(0, k)] = 1;
    target.f64.data.set(target.f32);
  } else {
    target = randomTensor(targetDims, () => (rng.next() < 0.4 ? 1 : 0));
  }
  const globals = new Map<string, TensorData>();
  if (mu > 0) for (const p of tg.params) {
    const w = model.graph.initializers.get(p)!;
    globals.set(p, floatTensor(w.dims, Array.from(w.data as Float32Array, (v) => v + 0.1 * rng.normal())));
  }

  const session = await createSession(tg.model, { threads: 1 });
  const feeds: Record<string, ReturnType<typeof toOrt>> = {
    [tg.dataInput]: floatOrt(opts.inputShape, input.f32),
    [TARGET_INPUT]: floatOrt(targetDims, target.f32),
    learning_rate: scalarOrt(0),
  };
  for (const name of [...tg.params, ...tg.buffers]) feeds[name] = toOrt(model.graph.initializers.get(name)!);
  for (const [p, t] of globals) feeds[globalName(p)] = toOrt(t);
  const out = await session.run(feeds);
  await session.release();

  const base = new Map<string, T64>();
  for (const p of tg.params) {
    const t = model.graph.initializers.get(p)!;
    base.set(p, { dims: t.dims, data: Float64Array.from(t.data as Float32Array) });
  }
  const lossAt = (overrides: Map<string, T64>) => {
    const z = runReference(model, { [tg.dataInput]: input.f64 }, overrides).get(logitsName)!;
    let l = referenceLoss(opts.loss, z, target.f64);
    if (mu > 0) for (const [p, g] of globals) {
      const w = overrides.get(p)!;
      for (let i = 0; i < w.data.length; i++) l += (mu / 2) * (w.data[i] - (g.data as Float32Array)[i]) ** 2;
    }
    return l;
  };

  const rows: Array<{ param: string; diff: number; refMax: number }> = [];
  let checked = 0;
  for (const p of tg.params) {
    const g = out[tg.gradientOutputs.get(p)!].data as Float32Array;
    const w = base.get(p)!;
    const count = Math.min(w.data.length, opts.maxElements ?? 24);
    const indices = count === w.data.length ? [...w.data.keys()] : rng.shuffle([...w.data.keys()]).slice(0, count);
    let diff = 0;
    let refMax = 0;
    for (const i of indices) {
      const h = 1e-6 * Math.max(1, Math.abs(w.data[i]));
      const plus = new Float64Array(w.data);
      const minus = new Float64Array(w.data);
      plus[i] += h;
      minus[i] -= h;
      const ref = (lossAt(new Map([...base, [p, { dims: w.dims, data: plus }]])) - lossAt(new Map([...base, [p, { dims: w.dims, data: minus }]]))) / (2 * h);
      diff = Math.max(diff, Math.abs(g[i] - ref));
      refMax = Math.max(refMax, Math.abs(ref));
      checked++;
    }
    rows.push({ param: p, diff, refMax });
  }
  const globalMax = Math.max(...rows.map((r) => r.refMax));
  const perParameter: Record<string, number> = {};
  for (const r of rows) perParameter[r.param] = r.diff / Math.max(r.refMax, 1e-3 * globalMax, 1e-12);
  return { maxRelativeError: Math.max(...Object.values(perParameter)), perParameter, checkedElements: checked };
}
