// Floating-point operation counts of a model, per sample, for throughput figures. Counts the
// multiply-adds of Conv, ConvTranspose, Gemm and MatMul (2 FLOPs each); elementwise ops are left out.
import { getInt, type Model, numel } from './graph.js';
import { inferShapes } from './shapes.js';

export interface FlopCount {
  forward: number;
  /** forward + weight gradients + input gradients (none for layers fed by the data input) */
  trainingStep: number;
}

export function countFlops(model: Model): FlopCount {
  const g = model.graph;
  const fixed = { ...g, inputs: g.inputs.map((i) => ({ ...i, shape: i.shape.map((d, k) => (k === 0 ? 1 : d)) })) };
  const shapes = inferShapes(fixed);
  const dataInputs = new Set(g.inputs.map((i) => i.name));
  let forward = 0;
  let training = 0;
  for (const node of g.nodes) {
    let f = 0;
    if (node.op === 'Conv') {
      const w = shapes.get(node.inputs[1])!;
      f = 2 * numel(shapes.get(node.outputs[0])!) * numel(w.slice(1));
    } else if (node.op === 'ConvTranspose') {
      const w = shapes.get(node.inputs[1])!;
      f = 2 * numel(shapes.get(node.inputs[0])!) * numel(w.slice(1));
    } else if (node.op === 'Gemm' || node.op === 'MatMul') {
      const a = shapes.get(node.inputs[0])!;
      const k = node.op === 'Gemm' && getInt(node, 'transA', 0) ? a[0] : a[a.length - 1];
      f = 2 * numel(shapes.get(node.outputs[0])!) * k;
    }
    forward += f;
    training += f * (dataInputs.has(node.inputs[0]) ? 2 : 3);
  }
  return { forward, trainingStep: training };
}
