// Models researchers bring (exported from PyTorch or MONAI rather than built by the zoo): the task
// and loss read from the output's shape, the activation an export may end in, and the rewrite of a
// training-mode export into the inference model every global model must be.
import type { LossName } from '../schemas/training-spec.js';
import { foldConstants } from './fold-constants.js';
import type { Graph, Model, Node } from './graph.js';
import { inferShapes } from './shapes.js';

export type ModelTask = 'classification' | 'segmentation';

export const DEFAULT_LOSS: Record<ModelTask, LossName> = { classification: 'softmax-cross-entropy', segmentation: 'bce-dice' };

function producer(graph: Graph, value: string): Node | undefined {
  return graph.nodes.find((n) => n.outputs.includes(value));
}

/** The activation the first output is the result of, when it is one a loss's closed form includes. */
export function outputActivation(graph: Graph, output = graph.outputs[0]?.name): 'softmax' | 'sigmoid' | undefined {
  const op = output ? producer(graph, output)?.op : undefined;
  return op === 'Softmax' ? 'softmax' : op === 'Sigmoid' ? 'sigmoid' : undefined;
}

/**
 * The value a loss is computed on: the output itself, or the input of a final Softmax (for
 * softmax cross-entropy) or Sigmoid (for BCE and Dice), whose closed forms include the activation.
 */
export function logitsBeforeActivation(graph: Graph, output: string, loss: LossName): string {
  const node = producer(graph, output);
  if (!node) return output;
  if (node.op === 'Softmax' && loss === 'softmax-cross-entropy') return node.inputs[0];
  if (node.op === 'Sigmoid' && loss !== 'softmax-cross-entropy') return node.inputs[0];
  return output;
}

/** The first output's static shape (batch as -1), from the declared shape or by inference. */
export function outputShape(model: Model): number[] | undefined {
  const out = model.graph.outputs[0];
  if (!out) return undefined;
  try {
    const shapes = inferShapes(foldConstants(model.graph).graph);
    const s = shapes.get(out.name);
    if (s) return s;
  } catch {
    // shapes that cannot be inferred: fall back to the declared shape
  }
  return out.shape.map((d) => (typeof d === 'number' ? d : -1));
}

/**
 * The task a model's output says it does: [N, classes] logits are a classification, one logit per
 * pixel or voxel ([N, 1, H, W] or [N, 1, D, H, W]) a segmentation. The zoo's metadata wins.
 */
export function inferTask(model: Model): ModelTask {
  const meta = model.metadata['fedrad.task'];
  if (meta === 'segmentation' || meta === 'classification') return meta;
  const s = outputShape(model);
  return s && s.length >= 3 ? 'segmentation' : 'classification';
}

export interface InferenceConversion {
  model: Model;
  /** one sentence per change, empty when the model already is an inference model */
  changes: string[];
}

/**
 * The inference form of a model: BatchNormalization in inference mode (running statistics, not
 * batch statistics; PyTorch's training-mode export writes training_mode=1 and two extra outputs),
 * Dropout without its training_mode input and mask, and graph outputs that only training produces
 * dropped. Initializers and node names are unchanged, so weights map one to one.
 */
export function toInferenceModel(model: Model): InferenceConversion {
  const changes: string[] = [];
  const dropped = new Set<string>();
  const nodes = model.graph.nodes.map((node): Node => {
    if (node.op === 'BatchNormalization') {
      const training = node.attrs.training_mode?.kind === 'int' && node.attrs.training_mode.value !== 0;
      const extra = node.outputs.slice(1).filter((o) => o !== '');
      if (!training && extra.length === 0) return node;
      extra.forEach((o) => dropped.add(o));
      const { training_mode: _mode, ...attrs } = node.attrs;
      changes.push(`BatchNormalization '${node.name}': ${training ? 'training_mode=1 -> inference mode (running statistics)' : 'running-statistic outputs dropped'}`);
      return { ...node, outputs: [node.outputs[0]], attrs };
    }
    if (node.op === 'Dropout' && (node.inputs.length > 2 || node.outputs.slice(1).some((o) => o !== ''))) {
      node.outputs.slice(1).forEach((o) => o && dropped.add(o));
      changes.push(`Dropout '${node.name}': training_mode input and mask output removed (identity at inference)`);
      return { ...node, inputs: node.inputs.slice(0, 2), outputs: [node.outputs[0]] };
    }
    return node;
  });
  const outputs = model.graph.outputs.filter((o) => !dropped.has(o.name));
  if (outputs.length !== model.graph.outputs.length) changes.push(`graph outputs dropped: ${model.graph.outputs.filter((o) => dropped.has(o.name)).map((o) => o.name).join(', ')}`);
  if (changes.length === 0) return { model, changes };
  return { model: { ...model, graph: { ...model.graph, nodes, outputs } }, changes };
}
