// The model zoo: reference models by name, deterministic from a seed.
import { InvalidSpecError } from '../../errors.js';
import type { Model } from '../graph.js';
import { buildCnnClassifier } from './cnn-classifier.js';
import { buildUnetSegmenter } from './unet-segmenter.js';

export const ZOO_NAMES = ['cnn-classifier', 'unet-segmenter'] as const;
export type ZooName = (typeof ZOO_NAMES)[number];

export interface ZooOptions {
  seed?: number;
  inputSize?: number;
  width?: number;
  /** normalization layers: BatchNorm (default) or GroupNorm (cnn-classifier) */
  norm?: 'batch' | 'group';
}

export function buildZooModel(name: string, opts: ZooOptions = {}): Model {
  const seed = opts.seed ?? 0;
  const inputSize = opts.inputSize ?? 64;
  if (name === 'cnn-classifier') {
    if (inputSize % 8 !== 0) throw new InvalidSpecError(`cnn-classifier needs an input size that is a multiple of 8; got ${inputSize}`, { inputSize });
    return buildCnnClassifier({ seed, inputSize, width: opts.width ?? 16, classes: 2, norm: opts.norm ?? 'batch' });
  }
  if (name === 'unet-segmenter') {
    if (opts.norm === 'group') throw new InvalidSpecError('unet-segmenter has BatchNorm only; norm "group" is available for cnn-classifier', { name });
    if (inputSize % 4 !== 0) throw new InvalidSpecError(`unet-segmenter needs an input size that is a multiple of 4; got ${inputSize}`, { inputSize });
    return buildUnetSegmenter({ seed, inputSize, width: opts.width ?? 16 });
  }
  throw new InvalidSpecError(`unknown zoo model '${name}'; choose one of: ${ZOO_NAMES.join(', ')}`, { name, allowed: ZOO_NAMES });
}
