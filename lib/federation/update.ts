// An update is local weights minus global weights, for every trainable initializer and running
// statistic of the global model, named exactly as the model's initializers.
import { floatTensor, type Model, type TensorData } from '../model/graph.js';
import { initializerRoles } from '../model/onnx-io.js';

/** The initializers an update carries: parameters and running statistics (not constants). */
export function updatableInitializers(model: Model): Map<string, TensorData> {
  const roles = initializerRoles(model);
  return new Map([...model.graph.initializers].filter(([name, t]) => t.dtype === 'float32' && roles.get(name) !== 'constant'));
}

export function computeUpdate(global: Model, local: ReadonlyMap<string, TensorData>): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  for (const [name, g] of updatableInitializers(global)) {
    const l = local.get(name) ?? g;
    const gd = g.data as Float32Array;
    const ld = l.data as Float32Array;
    out.set(name, floatTensor(g.dims, gd.map((v, i) => ld[i] - v)));
  }
  return out;
}
