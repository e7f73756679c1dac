// Losses as graph fragments: each emits the scalar loss and, in closed form, its gradient with
// respect to the logits (the seed of the backward pass).
import type { LossName } from '../schemas/training-spec.js';
import { attr, type GraphBuilder } from './graph.js';

export interface LossNodes {
  loss: string;
  dLogits: string;
}

const FLOAT = 1;
/** Smoothing of the soft Dice ratio; keeps empty masks and empty predictions finite. */
export const DICE_SMOOTH = 1;

function castFloat(b: GraphBuilder, v: string): string {
  return b.op('Cast', [v], { to: attr.int(FLOAT) });
}

/** Number of samples in the batch, as a float scalar tensor of shape [1]. */
function batchCount(b: GraphBuilder, logits: string): string {
  return castFloat(b, b.op('Shape', [logits], { start: attr.int(0), end: attr.int(1) }));
}

function nonBatchAxes(rank: number): number[] {
  return Array.from({ length: rank - 1 }, (_, i) => i + 1);
}

/** Mean over the batch of -sum_k t_k log softmax(z)_k; target is one-hot (or soft labels) [N, K]. */
function softmaxCrossEntropy(b: GraphBuilder, z: string, t: string): LossNodes {
  const logp = b.op('LogSoftmax', [z], { axis: attr.int(1) });
  const perSample = b.op('ReduceSum', [b.op('Mul', [t, logp]), b.ints([1])], { keepdims: attr.int(0) });
  const loss = b.op('Neg', [b.op('ReduceMean', [perSample], { keepdims: attr.int(0) })], {}, 'ce_loss');
  const dLogits = b.op('Div', [b.op('Sub', [b.op('Softmax', [z], { axis: attr.int(1) }), t]), batchCount(b, z)], {}, 'ce_grad');
  return { loss, dLogits };
}

/** Mean over all elements of the numerically stable BCE with logits. */
function sigmoidBce(b: GraphBuilder, z: string, t: string): LossNodes {
  const softplusNegAbs = b.op('Softplus', [b.op('Neg', [b.op('Abs', [z])])]);
  const elem = b.op('Add', [b.op('Sub', [b.op('Relu', [z]), b.op('Mul', [z, t])]), softplusNegAbs]);
  const loss = b.op('ReduceMean', [elem], { keepdims: attr.int(0) }, 'bce_loss');
  const count = castFloat(b, b.op('Size', [z]));
  const dLogits = b.op('Div', [b.op('Sub', [b.op('Sigmoid', [z]), t]), count], {}, 'bce_grad');
  return { loss, dLogits };
}

/** 1 - mean over samples of (2 sum(p t) + s) / (sum p + sum t + s), with p = sigmoid(z). */
function softDice(b: GraphBuilder, z: string, t: string, rank: number): LossNodes {
  const axes = b.ints(nonBatchAxes(rank), 'dice_axes');
  const smooth = b.scalar(DICE_SMOOTH, 'dice_smooth');
  const p = b.op('Sigmoid', [z]);
  const inter2 = b.op('Mul', [b.op('ReduceSum', [b.op('Mul', [p, t]), axes], { keepdims: attr.int(1) }), b.scalar(2)]);
  const numer = b.op('Add', [inter2, smooth]);
  const denom = b.op('Add', [b.op('Add', [b.op('ReduceSum', [p, axes], { keepdims: attr.int(1) }), b.op('ReduceSum', [t, axes], { keepdims: attr.int(1) })]), smooth]);
  const dice = b.op('Div', [numer, denom]);
  const loss = b.op('Sub', [b.scalar(1), b.op('ReduceMean', [dice], { keepdims: attr.int(0) })], {}, 'dice_loss');
  // d dice / d p = (2 t denom - numer) / denom^2 per sample; chain through the sigmoid and the mean.
  const dDice = b.op('Div', [b.op('Sub', [b.op('Mul', [b.op('Mul', [t, b.scalar(2)]), denom]), numer]), b.op('Mul', [denom, denom])]);
  const dSig = b.op('Mul', [p, b.op('Sub', [b.scalar(1), p])]);
  const dLogits = b.op('Div', [b.op('Neg', [b.op('Mul', [dDice, dSig])]), batchCount(b, z)], {}, 'dice_grad');
  return { loss, dLogits };
}

export function emitLoss(b: GraphBuilder, name: LossName, logits: string, target: string, logitsRank: number): LossNodes {
  switch (name) {
    case 'softmax-cross-entropy':
      return softmaxCrossEntropy(b, logits, target);
    case 'sigmoid-bce':
      return sigmoidBce(b, logits, target);
    case 'soft-dice':
      return softDice(b, logits, target, logitsRank);
    case 'bce-dice': {
      const bce = sigmoidBce(b, logits, target);
      const dice = softDice(b, logits, target, logitsRank);
      return { loss: b.op('Add', [bce.loss, dice.loss], {}, 'bce_dice_loss'), dLogits: b.op('Add', [bce.dLogits, dice.dLogits], {}, 'bce_dice_grad') };
    }
  }
}
