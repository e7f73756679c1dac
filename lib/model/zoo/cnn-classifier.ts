// cnn-classifier: a slice-level lesion classifier. Three conv-norm-ReLU-maxpool stages, global
// average pooling and a linear head giving two logits (lesion absent, present). The norm is
// BatchNorm, or GroupNorm (8 groups) for federations whose sites differ (no running statistics).
import type { Model } from '../graph.js';
import { LayerBuilder } from './layers.js';

export interface CnnClassifierOptions {
  seed: number;
  /** spatial input size (square), a multiple of 8 */
  inputSize: number;
  /** channels of the first stage; later stages double it */
  width: number;
  classes: number;
  norm?: 'batch' | 'group';
}

export function buildCnnClassifier(o: CnnClassifierOptions): Model {
  const l = new LayerBuilder(o.seed);
  l.b.reserve('image');
  let x = 'image';
  let cin = 1;
  for (let stage = 1; stage <= 3; stage++) {
    const cout = o.width * 2 ** (stage - 1);
    const size = o.inputSize / 2 ** (stage - 1);
    x = l.maxPool(o.norm === 'group' ? l.convGnRelu(x, `stage${stage}`, cin, cout, size) : l.convBnRelu(x, `stage${stage}`, cin, cout));
    cin = cout;
  }
  const pooled = l.b.op('Flatten', [l.b.op('GlobalAveragePool', [x])]);
  const logits = l.linear(pooled, 'head', cin, o.classes);
  return l.finish({
    name: 'cnn_classifier',
    input: 'image',
    inputShape: [1, o.inputSize, o.inputSize],
    output: logits,
    outputShape: ['N', o.classes],
    metadata: { 'fedrad.zoo': 'cnn-classifier', 'fedrad.task': 'classification', 'fedrad.loss': 'softmax-cross-entropy', 'fedrad.options': JSON.stringify(o) },
  });
}
