// Export: the global model ONNX with trained weights and running statistics as initializers,
// loadable by any ONNX runtime. The graph is the inference graph: a training-mode export's
// BatchNormalization and Dropout are put in inference form (foreign-model.ts), nothing else changes.
import type { Model, TensorData } from './graph.js';
import { toInferenceModel } from './foreign-model.js';
import { encodeModel, replaceInitializers, sha256 } from './onnx-io.js';

export interface ExportedModel {
  model: Model;
  bytes: Uint8Array;
  sha256: string;
}

export function exportModel(model: Model, weights: ReadonlyMap<string, TensorData>, metadata: Record<string, string> = {}): ExportedModel {
  const updated = replaceInitializers(toInferenceModel(model).model, weights);
  const out: Model = { ...updated, metadata: { ...model.metadata, ...metadata } };
  const bytes = encodeModel(out);
  return { model: out, bytes, sha256: sha256(bytes) };
}
