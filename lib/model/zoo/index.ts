// The model zoo: reference models by name, deterministic from a seed.
import { InvalidSpecError } from '../../errors.js';
import type { Model } from '../graph.js';
import { buildCnnClassifier } from './cnn-classifier.js';
import { buildUnetSegmenter } from './unet-segmenter.js';
import { buildCnn3dClassifier } from './cnn3d-classifier.js';
import { buildUnet3dSegmenter } from './unet3d-segmenter.js';

export const ZOO_NAMES = ['cnn-classifier', 'unet-segmenter'] as const;
export type ZooName = (typeof ZOO_NAMES)[number];
/** Volumetric models ([C, D, H, W] inputs); the federation's 2D data path does not feed them yet. */
export const ZOO_3D_NAMES = ['unet3d-segmenter', 'cnn3d-classifier'] as const;

export interface ZooOptions {
  seed?: number;
  inputSize?: number;
  width?: number;
  /** normalization layers: BatchNorm (default) or GroupNorm (cnn-classifier) */
  norm?: 'batch' | 'group' | 'instance';
  /** 3D models: input channels (MR sequences), default 1 */
  channels?: number;
  /** 3D models: down-sampling stages, default 3 (U-Net) or 3 (classifier) */
  depth?: number;
  /** 3D models: output channels (U-Net regions, default 2; classifier classes, default 2) */
  classes?: number;
}

function build3d(name: string, opts: ZooOptions): Model {
  const seed = opts.seed ?? 0;
  const inputSize = opts.inputSize ?? 32;
  const channels = opts.channels ?? 1;
  const depth = opts.depth ?? 3;
  const classes = opts.classes ?? 2;
  const norm = opts.norm ?? 'instance';
  if (!Number.isInteger(channels) || channels < 1 || channels > 4) throw new InvalidSpecError(`${name} takes 1 to 4 input channels; got ${channels}`, { channels });
  if (!Number.isInteger(depth) || depth < 1 || depth > 4) throw new InvalidSpecError(`${name} takes a depth of 1 to 4 stages; got ${depth}`, { depth });
  if (!Number.isInteger(classes) || classes < 1) throw new InvalidSpecError(`${name} needs at least one output class; got ${classes}`, { classes });
  if (!Number.isInteger(inputSize) || inputSize % 2 ** depth !== 0) throw new InvalidSpecError(`${name} with depth ${depth} needs a patch size that is a multiple of ${2 ** depth}; got ${inputSize}`, { inputSize, depth });
  if (name === 'unet3d-segmenter') return buildUnet3dSegmenter({ seed, inputSize, channels, classes, width: opts.width ?? 8, depth, norm });
  return buildCnn3dClassifier({ seed, inputSize, channels, classes, width: opts.width ?? 8, stages: depth, norm });
}

export function buildZooModel(name: string, opts: ZooOptions = {}): Model {
  const seed = opts.seed ?? 0;
  const inputSize = opts.inputSize ?? 64;
  if ((ZOO_3D_NAMES as readonly string[]).includes(name)) return build3d(name, opts);
  if (opts.norm === 'instance') throw new InvalidSpecError(`norm "instance" is available for the 3D models (${ZOO_3D_NAMES.join(', ')}); ${name} takes "batch" or "group"`, { name });
  if (name === 'cnn-classifier') {
    if (inputSize % 8 !== 0) throw new InvalidSpecError(`cnn-classifier needs an input size that is a multiple of 8; got ${inputSize}`, { inputSize });
    return buildCnnClassifier({ seed, inputSize, width: opts.width ?? 16, classes: 2, norm: opts.norm ?? 'batch' });
  }
  if (name === 'unet-segmenter') {
    if (opts.norm === 'group') throw new InvalidSpecError('unet-segmenter has BatchNorm only; norm "group" is available for cnn-classifier', { name });
    if (inputSize % 4 !== 0) throw new InvalidSpecError(`unet-segmenter needs an input size that is a multiple of 4; got ${inputSize}`, { inputSize });
    return buildUnetSegmenter({ seed, inputSize, width: opts.width ?? 16 });
  }
  throw new InvalidSpecError(`unknown zoo model '${name}'; choose one of: ${[...ZOO_NAMES, ...ZOO_3D_NAMES].join(', ')}`, { name, allowed: [...ZOO_NAMES, ...ZOO_3D_NAMES] });
}
