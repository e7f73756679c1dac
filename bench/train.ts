// Training-step throughput of the zoo models on onnxruntime-node (CPU here, CUDA where installed).
// Prints one JSON object per line per model and batch size.
// --vs-torch: the same networks, batch, loss and optimizer in PyTorch (bench/torch/train_server.py),
// alternating ours and PyTorch within this run at each thread count; one line per configuration
// with the median images/s of each and ratio = ours / PyTorch (and cpuRatio, by CPU time per image). Without PyTorch (Debian's
// python3-torch, or FEDRAD_TORCH_PYTHON naming a python that has torch) it prints a line saying so
// and measures ours alone.
// Usage: npm run bench:train [-- --models cnn-classifier --batches 16,32,64 --threads 2 --seconds 3]
//        npm run bench:train -- --vs-torch [--threads 1,2 --batches 32 --seconds 2 --repeats 3]
import { parseArgs } from 'node:util';
import { countFlops } from '../lib/model/flops.js';
import { createSession, defaultThreads, detectExecutionProvider, floatOrt, type OrtTensor, scalarOrt, toOrt } from '../lib/model/runtime.js';
import { buildTrainingGraph, initialOptimizerState, LOSS_OUTPUT } from '../lib/model/training-graph.js';
import { buildZooModel } from '../lib/model/zoo/index.js';
import { makeLesionDataset } from '../lib/data/synthetic-arrays.js';
import { startTorch, type TorchBench } from './torch/torch-bench.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'cnn-classifier,unet-segmenter' },
    batches: { type: 'string' },
    threads: { type: 'string' },
    seconds: { type: 'string' },
    repeats: { type: 'string', default: '3' },
    'input-size': { type: 'string', default: '64' },
    'vs-torch': { type: 'boolean', default: false },
  },
});

const vsTorch = values['vs-torch']!;
const threadCounts = values.threads ? values.threads.split(',').map(Number) : vsTorch ? [1, 2] : [defaultThreads()];
const batches = (values.batches ?? (vsTorch ? '32' : '16,32,64')).split(',').map(Number);
const seconds = Number(values.seconds ?? (vsTorch ? 2 : 3));
const size = Number(values['input-size']);
const WIDTH = 16;
const ep = await detectExecutionProvider();

interface Engine {
  time(seconds: number): Promise<{ imagesPerSecond: number; cpuMsPerImage: number; steps: number; loss: number }>;
  release(): Promise<void>;
}

/** Our training step for one zoo model, batch and thread count, with parameters carried between steps. */
async function ours(name: string, batch: number, threads: number): Promise<Engine & { sessionCreateMs: number }> {
  const model = buildZooModel(name, { seed: 0, inputSize: size, width: WIDTH });
  const segmentation = model.metadata['fedrad.task'] === 'segmentation';
  const tg = buildTrainingGraph(model, { loss: segmentation ? 'bce-dice' : 'softmax-cross-entropy', optimizer: { type: 'adam', learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } });
  const t0 = performance.now();
  const session = await createSession(tg.model, { threads, executionProvider: ep });
  const sessionCreateMs = performance.now() - t0;
  const data = makeLesionDataset({ count: batch, size, seed: 1 });
  const state: Record<string, OrtTensor> = {};
  for (const p of [...tg.params, ...tg.buffers]) state[p] = toOrt(model.graph.initializers.get(p)!);
  for (const [k, v] of initialOptimizerState(tg, model.graph.initializers)) state[k] = toOrt(v);
  const target = segmentation ? data.masks : Float32Array.from({ length: batch * 2 }, (_, i) => (i % 2 === data.labels[Math.floor(i / 2)] ? 1 : 0));
  const fixed = {
    [tg.dataInput]: floatOrt([batch, 1, size, size], data.images),
    target: floatOrt(segmentation ? [batch, 1, size, size] : [batch, 2], target),
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
  return {
    sessionCreateMs,
    async time(s: number) {
      const start = performance.now();
      const cpu0 = process.cpuUsage();
      let timed = 0;
      while (performance.now() - start < s * 1000 || timed < 3) {
        await run();
        timed++;
      }
      const cpu = process.cpuUsage(cpu0);
      return { imagesPerSecond: (timed * batch) / ((performance.now() - start) / 1000), cpuMsPerImage: (cpu.user + cpu.system) / 1000 / (timed * batch), steps: timed, loss };
    },
    release: () => session.release(),
  };
}

const round1 = (v: number) => Math.round(v * 10) / 10;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

let torch: TorchBench | undefined;
if (vsTorch) {
  const started = await startTorch();
  if ('skipped' in started) console.log(JSON.stringify({ vsTorch: 'skipped', reason: started.skipped }));
  else torch = started;
}

for (const name of values.models!.split(',')) {
  const flops = countFlops(buildZooModel(name, { seed: 0, inputSize: size, width: WIDTH }));
  for (const batch of batches) {
    for (const threads of threadCounts) {
      const mine = await ours(name, batch, threads);
      if (!torch) {
        const r = await mine.time(seconds);
        await mine.release();
        console.log(JSON.stringify({
          model: name, batch, inputSize: size, threads, executionProvider: ep,
          imagesPerSecond: round1(r.imagesPerSecond),
          gflopsPerSecond: Math.round(((r.imagesPerSecond * flops.trainingStep) / 1e9) * 100) / 100,
          stepMs: Math.round((batch / r.imagesPerSecond) * 1000 * 100) / 100,
          sessionCreateMs: round1(mine.sessionCreateMs),
          trainingMflopPerImage: Math.round(flops.trainingStep / 1e4) / 100,
          steps: r.steps, finalLoss: r.loss,
        }));
        continue;
      }
      await torch.setup({ model: name, batch, inputSize: size, width: WIDTH, threads });
      // Alternate: ours, PyTorch, ours, PyTorch, ... so both see the same load on a shared machine.
      const a: number[] = [];
      const b: number[] = [];
      const ratios: number[] = [];
      const cpuRatios: number[] = [];
      for (let i = 0; i < Number(values.repeats); i++) {
        const x = await mine.time(seconds);
        const y = await torch.time(seconds);
        a.push(x.imagesPerSecond);
        b.push(y.imagesPerSecond);
        ratios.push(x.imagesPerSecond / y.imagesPerSecond);
        cpuRatios.push(y.cpuMsPerImage / x.cpuMsPerImage);
      }
      await mine.release();
      console.log(JSON.stringify({
        model: name, batch, inputSize: size, threads,
        oursImagesPerSecond: round1(median(a)), torchImagesPerSecond: round1(median(b)),
        ratio: Math.round(median(ratios) * 1000) / 1000,
        ratios: ratios.map((r) => Math.round(r * 1000) / 1000),
        // PyTorch's CPU time per image / ours: what each engine costs in processor time, steadier
        // than wall time on a shared machine (at 2 threads it counts both engines' spin-waiting too).
        cpuRatio: Math.round(median(cpuRatios) * 1000) / 1000,
        torchVersion: torch.version,
      }));
    }
  }
}
await torch?.close();
