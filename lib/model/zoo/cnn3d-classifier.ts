// cnn3d-classifier: a volume-level classifier (lesion absent/present, or any `classes`). Conv-
// norm-ReLU-maxpool stages over [C, D, H, W], global average pooling and a linear head of logits.
import type { Model } from '../graph.js';
import { LayerBuilder } from './layers.js';
import { convNormRelu3d, type Norm3d } from './unet3d-segmenter.js';

export interface Cnn3dClassifierOptions {
  seed: number;
  /** cubic input edge in voxels, a multiple of 2^stages */
  inputSize: number;
  channels: number;
  width: number;
  /** conv-pool stages, 1-4 */
  stages: number;
  classes: number;
  norm: Norm3d;
}

export function buildCnn3dClassifier(o: Cnn3dClassifierOptions): Model {
  const l = new LayerBuilder(o.seed);
  l.b.reserve('image');
  let x = 'image';
  let cin = o.channels;
  let size = o.inputSize;
  for (let s = 1; s <= o.stages; s++) {
    const cout = o.width * 2 ** (s - 1);
    x = l.maxPoolNd(convNormRelu3d(l, x, `stage${s}`, cin, cout, size, o.norm), 3);
    cin = cout;
    size /= 2;
  }
  const pooled = l.b.op('Flatten', [l.b.op('GlobalAveragePool', [x])]);
  const logits = l.linear(pooled, 'head', cin, o.classes);
  const n = o.inputSize;
  return l.finish({
    name: 'cnn3d_classifier',
    input: 'image',
    inputShape: [o.channels, n, n, n],
    output: logits,
    outputShape: ['N', o.classes],
    metadata: { 'fedrad.zoo': 'cnn3d-classifier', 'fedrad.task': 'classification', 'fedrad.loss': 'softmax-cross-entropy', 'fedrad.options': JSON.stringify(o) },
  });
}
