// Writes the classifier's training-step graph and its starting tensors, for running the same graph
// elsewhere (bench/device/scaling.py: thread scaling with Python onnxruntime beside PyTorch).
// Usage: npx tsx bench/export-training-graph.ts <out-dir> [input-size]
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeModel } from '../lib/model/onnx-io.js';
import { encodeSafetensors } from '../lib/model/safetensors.js';
import { buildTrainingGraph, initialOptimizerState } from '../lib/model/training-graph.js';
import { buildZooModel } from '../lib/model/zoo/index.js';

const out = process.argv[2] ?? '.device';
const size = Number(process.argv[3] ?? 64);
await mkdir(out, { recursive: true });
const model = buildZooModel('cnn-classifier', { seed: 0, inputSize: size });
const tg = buildTrainingGraph(model, { loss: 'softmax-cross-entropy', optimizer: { type: 'adam', learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } });
const tensors = new Map([...[...tg.params, ...tg.buffers].map((n) => [n, model.graph.initializers.get(n)!] as const), ...initialOptimizerState(tg, model.graph.initializers)]);
await writeFile(join(out, 'cnn-training.onnx'), encodeModel(tg.model));
await writeFile(join(out, 'cnn-init.safetensors'), encodeSafetensors(tensors));
await writeFile(join(out, 'meta.json'), JSON.stringify({ dataInput: tg.dataInput, inputSize: size, classes: 2, carried: Object.fromEntries(tg.carried), width: 16 }));
console.log(`wrote ${out}/cnn-training.onnx, cnn-init.safetensors, meta.json`);
