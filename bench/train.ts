// Training-step throughput of the zoo models on onnxruntime-node (CPU here, CUDA where installed).
// Prints one JSON object per line per model and batch size.
// Usage: npm run bench:train [-- --models cnn-classifier --batches 16,32,64 --threads 2 --seconds 3]
import { parseArgs } from 'node:util';
import { countFlops } from '../lib/model/flops.js';
import { createSession, defaultThreads, detectExecutionProvider, floatOrt, type OrtTensor, scalarOrt, toOrt } from '../lib/model/runtime.js';
import { buildTrainingGraph, initialOptimizerState, LOSS_OUTPUT } from '../lib/model/training-graph.js';
import { buildZooModel } from '../lib/model/zoo/index.js';
import { makeLesionDataset } from '../lib/data/synthetic-arrays.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'cnn-classifier,unet-segmenter' },
    batches: { type: 'string', default: '16,32,64' },
    threads: { type: 'string' },
    seconds: { type: 'string', default: '3' },
    'input-size': { type: 'string', default: '64' },
  },
});

const threads = values.threads ? Number(values.threads) : defaultThreads();
const seconds = Number(values.seconds);
const size = Number(values['input-size']);
const ep = await detectExecutionProvider();

for (const name of values.models!.split(',')) {
  const model = buildZooModel(name, { seed: 0, inputSize: size });
  const task = model.metadata['fedrad.task'];
  const tg = buildTrainingGraph(model, { loss: task === 'segmentation' ? 'bce-dice' : 'softmax-cross-entropy', optimizer: { type: 'adam', learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } });
  const flops = countFlops(model);
  for (const batch of values.batches!.split(',').map(Number)) {
    const t0 = performance.now();
    const session = await createSession(tg.model, { threads, executionProvider: ep });
    const sessionCreateMs = performance.now() - t0;
    const data = makeLesionDataset({ count: batch, size, seed: 1 });
    const state: Record<string, OrtTensor> = {};
    for (const p of [...tg.params, ...tg.buffers]) state[p] = toOrt(model.graph.initializers.get(p)!);
    for (const [k, v] of initialOptimizerState(tg, model.graph.initializers)) state[k] = toOrt(v);
    const target = task === 'segmentation' ? data.masks : Float32Array.from({ length: batch * 2 }, (_, i) => (i % 2 === data.labels[Math.floor(i / 2)] ? 1 : 0));
    const fixed = {
      [tg.dataInput]: floatOrt([batch, 1, size, size], data.images),
      target: floatOrt(task === 'segmentation' ? [batch, 1, size, size] : [batch, 2], target),
      learning_rate: scalarOrt(1e-3),
    };
    let steps = 0;
    let loss = 0;
    const run = async () => {
      steps++;
      const out = await session.run({ ...state, ...fixed, step: scalarOrt(steps) });
      for (const [input, output] of tg.carried) state[input] = out[output];
      loss = (out[LOSS_OUTPUT].data as Float32Array)[0];
    };
    for (let i = 0; i < 3; i++) await run(); // warm-up
    const start = performance.now();
    let timed = 0;
    while (performance.now() - start < seconds * 1000 || timed < 5) {
      await run();
      timed++;
    }
    const elapsed = (performance.now() - start) / 1000;
    await session.release();
    const imagesPerSecond = (timed * batch) / elapsed;
    console.log(JSON.stringify({
      model: name, batch, inputSize: size, threads, executionProvider: ep,
      imagesPerSecond: Math.round(imagesPerSecond * 10) / 10,
      gflopsPerSecond: Math.round(((imagesPerSecond * flops.trainingStep) / 1e9) * 100) / 100,
      stepMs: Math.round((elapsed / timed) * 1000 * 100) / 100,
      sessionCreateMs: Math.round(sessionCreateMs * 10) / 10,
      trainingMflopPerImage: Math.round(flops.trainingStep / 1e4) / 100,
      steps: timed, finalLoss: loss,
    }));
  }
}
