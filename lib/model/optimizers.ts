// Optimizer steps as graph fragments. State tensors (momentum, Adam moments) are graph inputs and
// come back as outputs, so the trainer owns them between steps and a site can persist them.
import type { OptimizerSpec } from '../schemas/training-spec.js';
import { attr, type GraphBuilder } from './graph.js';

export interface OptimizerState {
  /** graph input holding the state tensor (same shape as its parameter, zeros at start) */
  input: string;
  param: string;
}

export interface OptimizerStep {
  /** param -> new value */
  next: Map<string, string>;
  /** state input -> new value */
  stateNext: Map<string, string>;
  state: OptimizerState[];
}

export const LEARNING_RATE_INPUT = 'learning_rate';
export const STEP_INPUT = 'step';

/** Global L2 norm of all gradients (a scalar). */
export function emitGlobalNorm(b: GraphBuilder, grads: string[]): string {
  const squares = grads.map((g) => b.op('ReduceSumSquare', [g], { keepdims: attr.int(0) }));
  return b.op('Sqrt', [squares.length === 1 ? squares[0] : b.op('Sum', squares)], {}, 'grad_norm');
}

/** Scales every gradient by min(1, maxNorm / norm). */
export function emitClip(b: GraphBuilder, grads: Map<string, string>, norm: string, maxNorm: number): Map<string, string> {
  const ratio = b.op('Div', [b.scalar(maxNorm), b.op('Add', [norm, b.scalar(1e-6)])]);
  const factor = b.op('Min', [ratio, b.scalar(1)], {}, 'clip_factor');
  return new Map([...grads].map(([p, g]) => [p, b.op('Mul', [g, factor], {}, 'gclip')]));
}

export function emitOptimizer(b: GraphBuilder, spec: OptimizerSpec, grads: Map<string, string>): OptimizerStep {
  const lr = LEARNING_RATE_INPUT;
  const next = new Map<string, string>();
  const stateNext = new Map<string, string>();
  const state: OptimizerState[] = [];
  const sub = (w: string, delta: string) => b.op('Sub', [w, b.op('Mul', [delta, lr])], {}, 'w_next');
  if (spec.type === 'sgd') {
    for (const [p, g0] of grads) {
      const g = spec.weightDecay > 0 ? b.op('Add', [g0, b.op('Mul', [p, b.scalar(spec.weightDecay)])]) : g0;
      if (spec.momentum > 0) {
        const input = `${p}.momentum`;
        const v = b.op('Add', [b.op('Mul', [input, b.scalar(spec.momentum)]), g], {}, 'velocity');
        state.push({ input, param: p });
        stateNext.set(input, v);
        next.set(p, sub(p, v));
      } else {
        next.set(p, sub(p, g));
      }
    }
    return { next, stateNext, state };
  }
  const { beta1, beta2, epsilon, weightDecay } = spec;
  // Bias corrections from the step count (an input), shared by all parameters.
  const bc1 = b.op('Sub', [b.scalar(1), b.op('Pow', [b.scalar(beta1), STEP_INPUT])], {}, 'bias_corr1');
  const bc2 = b.op('Sub', [b.scalar(1), b.op('Pow', [b.scalar(beta2), STEP_INPUT])], {}, 'bias_corr2');
  for (const [p, g] of grads) {
    const mIn = `${p}.adam_m`;
    const vIn = `${p}.adam_v`;
    const m = b.op('Add', [b.op('Mul', [mIn, b.scalar(beta1)]), b.op('Mul', [g, b.scalar(1 - beta1)])], {}, 'adam_m');
    const v = b.op('Add', [b.op('Mul', [vIn, b.scalar(beta2)]), b.op('Mul', [b.op('Mul', [g, g]), b.scalar(1 - beta2)])], {}, 'adam_v');
    const mHat = b.op('Div', [m, bc1]);
    const vHat = b.op('Div', [v, bc2]);
    let delta = b.op('Div', [mHat, b.op('Add', [b.op('Sqrt', [vHat]), b.scalar(epsilon)])], {}, 'adam_delta');
    if (weightDecay > 0) delta = b.op('Add', [delta, b.op('Mul', [p, b.scalar(weightDecay)])]);
    state.push({ input: mIn, param: p }, { input: vIn, param: p });
    stateNext.set(mIn, m);
    stateNext.set(vIn, v);
    next.set(p, sub(p, delta));
  }
  return { next, stateNext, state };
}
