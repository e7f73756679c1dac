// Memory of one training step, estimated from the model's shapes: the forward activations the
// backward pass keeps, as many bytes again for their gradients, and parameters with their gradients
// and Adam's moments. onnxruntime adds its session (arena, kernel scratch, graph) on top: the
// measured growth of resident memory in bench/train-3d.ts was 1.3-2.8x this estimate.
import { type Model, numel } from './graph.js';
import { inferShapes } from './shapes.js';

export interface StepMemory {
  /** forward activations for the batch (kept for the backward pass), bytes */
  activationBytes: number;
  /** parameters, their gradients and Adam's two moments, bytes */
  parameterBytes: number;
  /** activations and their gradients plus parameter state (the session's own arena and kernels' scratch come on top) */
  estimateBytes: number;
}

/** Memory of one Adam training step of `model` on a batch, from its inference graph's shapes. */
export function trainingStepMemory(model: Model, batch: number): StepMemory {
  const activationBytes = forwardActivationBytes(model, batch);
  let params = 0;
  for (const t of model.graph.initializers.values()) if (t.dtype === 'float32') params += 4 * numel(t.dims);
  const parameterBytes = 4 * params;
  return { activationBytes, parameterBytes, estimateBytes: 2 * activationBytes + parameterBytes };
}

/** Bytes of the forward activations of an inference model for one batch (what the backward pass keeps). */
export function forwardActivationBytes(model: Model, batch: number): number {
  const g = model.graph;
  const fixed = { ...g, inputs: g.inputs.map((i) => ({ ...i, shape: i.shape.map((d, k) => (k === 0 ? batch : d)) })) };
  const shapes = inferShapes(fixed);
  let total = 0;
  for (const node of g.nodes) for (const o of node.outputs) {
    const s = shapes.get(o);
    if (s && s.every((d) => d >= 0)) total += 4 * numel(s);
  }
  return total;
}
