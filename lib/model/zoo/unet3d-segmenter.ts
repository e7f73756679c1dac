// unet3d-segmenter: a 3D U-Net (Çiçek et al., 2016) for multi-channel volumes such as the four MR
// sequences of a brain-tumour study. `depth` encoder stages each halve the patch (max pooling),
// nearest upsampling with skip concatenation on the way back, two conv-norm-ReLU blocks per
// stage, and a 1x1x1 head giving one logit per voxel and region. Regions are nested and trained
// with sigmoid BCE + Dice, as BraTS models do (channel 0: whole tumour = core + edema, channel 1:
// tumour core). The norm is instance norm by default (each patch's own statistics), GroupNorm, or
// BatchNorm. Deep supervision is not built.
import type { Model } from '../graph.js';
import { LayerBuilder } from './layers.js';

export type Norm3d = 'instance' | 'group' | 'batch';

export interface Unet3dSegmenterOptions {
  seed: number;
  /** cubic patch edge in voxels, a multiple of 2^depth */
  inputSize: number;
  /** input channels (MR sequences), 1-4 */
  channels: number;
  /** output regions (sigmoid channels) */
  classes: number;
  /** channels of the first stage; each deeper stage doubles it */
  width: number;
  /** downsampling stages, 1-4 */
  depth: number;
  norm: Norm3d;
}

/** conv (no bias) -> norm -> ReLU for an input of [cin, ...spatial] giving `cout` channels. */
export function convNormRelu3d(l: LayerBuilder, x: string, name: string, cin: number, cout: number, size: number, norm: Norm3d): string {
  const c = l.convNd(x, `${name}.conv`, cin, cout, 3, 3, { bias: false });
  const spatial = [size, size, size];
  const normed =
    norm === 'batch' ? l.batchNorm(c, `${name}.bn`, cout) : l.groupNormNd(c, `${name}.${norm === 'instance' ? 'in' : 'gn'}`, [cout, ...spatial], norm === 'instance' ? cout : Math.min(8, cout));
  return l.relu(normed);
}

export function buildUnet3dSegmenter(o: Unet3dSegmenterOptions): Model {
  const l = new LayerBuilder(o.seed);
  l.b.reserve('image');
  const block = (x: string, name: string, cin: number, cout: number, size: number) =>
    convNormRelu3d(l, convNormRelu3d(l, x, `${name}.a`, cin, cout, size, o.norm), `${name}.b`, cout, cout, size, o.norm);
  const skips: Array<{ v: string; c: number; size: number }> = [];
  let x = 'image';
  let cin = o.channels;
  let size = o.inputSize;
  for (let s = 0; s < o.depth; s++) {
    const cout = o.width * 2 ** s;
    x = block(x, `enc${s + 1}`, cin, cout, size);
    skips.push({ v: x, c: cout, size });
    x = l.maxPoolNd(x, 3);
    cin = cout;
    size /= 2;
  }
  x = block(x, 'bottleneck', cin, o.width * 2 ** o.depth, size);
  cin = o.width * 2 ** o.depth;
  for (let s = o.depth - 1; s >= 0; s--) {
    const skip = skips[s];
    x = block(l.concat([l.upsampleNd(x, 3), skip.v]), `dec${s + 1}`, cin + skip.c, skip.c, skip.size);
    cin = skip.c;
  }
  const logits = l.convNd(x, 'head', cin, o.classes, 3, 1, { pad: 0 });
  const n = o.inputSize;
  return l.finish({
    name: 'unet3d_segmenter',
    input: 'image',
    inputShape: [o.channels, n, n, n],
    output: logits,
    outputShape: ['N', o.classes, n, n, n],
    metadata: { 'fedrad.zoo': 'unet3d-segmenter', 'fedrad.task': 'segmentation', 'fedrad.loss': 'bce-dice', 'fedrad.options': JSON.stringify(o) },
  });
}
