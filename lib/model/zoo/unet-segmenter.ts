// unet-segmenter: a small 2-D U-Net for a lesion mask. Two encoder stages, a bottleneck, nearest
// upsampling with skip concatenation, and a 1x1 head giving one logit per pixel (BCE + Dice).
import type { Model } from '../graph.js';
import { LayerBuilder } from './layers.js';

export interface UnetSegmenterOptions {
  seed: number;
  /** spatial input size (square), a multiple of 4 */
  inputSize: number;
  /** channels of the first stage; deeper stages double it */
  width: number;
}

export function buildUnetSegmenter(o: UnetSegmenterOptions): Model {
  const l = new LayerBuilder(o.seed);
  l.b.reserve('image');
  const w = o.width;
  const double = (x: string, name: string, cin: number, cout: number) => l.convBnRelu(l.convBnRelu(x, `${name}.a`, cin, cout), `${name}.b`, cout, cout);
  const s1 = double('image', 'enc1', 1, w);
  const s2 = double(l.maxPool(s1), 'enc2', w, 2 * w);
  const bottom = double(l.maxPool(s2), 'bottleneck', 2 * w, 4 * w);
  const d2 = double(l.concat([l.upsample(bottom), s2]), 'dec2', 6 * w, 2 * w);
  const d1 = double(l.concat([l.upsample(d2), s1]), 'dec1', 3 * w, w);
  const logits = l.conv(d1, 'head', w, 1, 1, { pad: 0 });
  return l.finish({
    name: 'unet_segmenter',
    input: 'image',
    inputShape: [1, o.inputSize, o.inputSize],
    output: logits,
    outputShape: ['N', 1, o.inputSize, o.inputSize],
    metadata: { 'fedrad.zoo': 'unet-segmenter', 'fedrad.task': 'segmentation', 'fedrad.loss': 'bce-dice', 'fedrad.options': JSON.stringify(o) },
  });
}
