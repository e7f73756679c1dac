// Reverse-mode differentiation over a (lowered) ONNX node list: walks the nodes backwards from the
// seed gradients, applies each op's backward rule and sums gradients where a value fans out.
import { UnsupportedOpError } from '../errors.js';
import type { GraphBuilder, Node } from './graph.js';
import { batchNormGrad, differentiableInputs, type GradContext, GRAD_RULES } from './grad-rules.js';
import type { BatchNormGroup } from './lower.js';
import type { Shape } from './shapes.js';

export interface DifferentiateOptions {
  builder: GraphBuilder;
  nodes: Node[];
  shapes: ReadonlyMap<string, Shape>;
  /** value name -> name of its gradient (the loss's gradient with respect to it). */
  seeds: ReadonlyMap<string, string>;
  /** the values whose gradients are wanted (parameters). */
  wrt: readonly string[];
  /** lowered BatchNormalizations (by output value) whose backward is taken in closed form */
  batchNorms?: ReadonlyMap<string, BatchNormGroup>;
}

/** Emits the backward nodes into the builder; returns param -> gradient name (absent if it does not reach the loss). */
export function differentiate(opts: DifferentiateOptions): Map<string, string> {
  const { builder: b, nodes, shapes, seeds, wrt } = opts;
  const requires = new Set<string>(wrt);
  for (const node of nodes) {
    if (differentiableInputs(node).some((i) => requires.has(node.inputs[i]))) node.outputs.forEach((o) => requires.add(o));
  }
  const grads = new Map<string, string>(seeds);
  const ctx: GradContext = {
    b,
    shape(name) {
      const s = shapes.get(name);
      if (!s) throw new UnsupportedOpError(`no static shape is known for value '${name}'`, { value: name });
      return s;
    },
  };
  const accumulate = (name: string, g: string) => {
    const prev = grads.get(name);
    grads.set(name, prev === undefined ? g : b.op('Add', [prev, g], {}, 'gacc'));
  };
  for (let k = nodes.length - 1; k >= 0; k--) {
    const node = nodes[k];
    const dOut = node.outputs.map((o) => grads.get(o));
    if (dOut.every((g) => g === undefined)) continue;
    const bn = opts.batchNorms?.get(node.outputs[0]);
    if (bn) {
      // The whole group at once: its inner values get no gradient, so their nodes are skipped.
      const inputs = [bn.x, bn.scale, bn.bias] as const;
      const needs = inputs.map((v) => requires.has(v)) as [boolean, boolean, boolean];
      batchNormGrad(ctx, bn, dOut[0]!, needs).forEach((g, i) => g !== undefined && accumulate(inputs[i], g));
      continue;
    }
    const diff = differentiableInputs(node);
    const needs = node.inputs.map((name, i) => name !== '' && diff.includes(i) && requires.has(name));
    if (!needs.some(Boolean)) continue;
    const rule = GRAD_RULES[node.op];
    if (!rule) throw new UnsupportedOpError(`node '${node.name}' (${node.op}) has no backward rule`, { node: node.name, op: node.op });
    const dIn = rule(ctx, node, dOut, needs);
    node.inputs.forEach((name, i) => {
      const g = dIn[i];
      if (needs[i] && g !== undefined) accumulate(name, g);
    });
  }
  const out = new Map<string, string>();
  for (const p of wrt) {
    const g = grads.get(p);
    if (g !== undefined) out.set(p, g);
  }
  return out;
}
