// Training-step throughput and memory of the 3D zoo models on onnxruntime-node: voxels/s, GFLOP/s
// (multiply-adds of the convolutions, lib/model/flops.ts) and memory per step (lib/model/memory.ts's
// estimate from the shapes, beside the measured growth of resident memory) at each patch
// size and width. The 2D U-Net runs in the same process for the GFLOP/s comparison, and the same
// 3D network in PyTorch (bench/torch/unet3d.py; Debian's python3-torch, FEDRAD_PYTHON names the
// interpreter, default /usr/bin/python3) right after each configuration, with the ratio printed.
// Usage: npm run bench:train3d [-- --patches 16,32 --widths 8 --depth 2 --channels 2 --batch 2 --threads 2 --seconds 3]
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { countFlops } from '../lib/model/flops.js';
import { trainingStepMemory } from '../lib/model/memory.js';
import { createSession, defaultThreads, detectExecutionProvider, floatOrt, type OrtTensor, scalarOrt, toOrt } from '../lib/model/runtime.js';
import { buildTrainingGraph, initialOptimizerState, LOSS_OUTPUT } from '../lib/model/training-graph.js';
import { buildZooModel } from '../lib/model/zoo/index.js';
import { Random } from '../lib/util/random.js';

const { values } = parseArgs({
  options: {
    patches: { type: 'string', default: '16,32' },
    widths: { type: 'string', default: '8' },
    depth: { type: 'string', default: '2' },
    channels: { type: 'string', default: '2' },
    batch: { type: 'string', default: '2' },
    threads: { type: 'string' },
    seconds: { type: 'string', default: '3' },
    'with-2d': { type: 'boolean', default: true },
  },
});
const threads = values.threads ? Number(values.threads) : defaultThreads();
const ep = await detectExecutionProvider();
const batch = Number(values.batch);
const MiB = 1024 * 1024;

async function measure(name: string, opts: Record<string, number | string>, inputShape: number[], targetShape: number[]) {
  const model = buildZooModel(name, opts);
  const tg = buildTrainingGraph(model, { loss: 'bce-dice', optimizer: { type: 'adam', learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } });
  const flops = countFlops(model);
  const mem = trainingStepMemory(model, inputShape[0]);
  const rssBefore = process.memoryUsage().rss;
  const session = await createSession(tg.model, { threads, executionProvider: ep });
  const rng = new Random(1);
  const state: Record<string, OrtTensor> = {};
  for (const p of [...tg.params, ...tg.buffers]) state[p] = toOrt(model.graph.initializers.get(p)!);
  for (const [k, v] of initialOptimizerState(tg, model.graph.initializers)) state[k] = toOrt(v);
  const n = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const fixed = {
    [tg.dataInput]: floatOrt(inputShape, Float32Array.from({ length: n(inputShape) }, () => rng.normal())),
    target: floatOrt(targetShape, Float32Array.from({ length: n(targetShape) }, () => (rng.next() < 0.1 ? 1 : 0))),
    learning_rate: scalarOrt(1e-3),
  };
  let steps = 0;
  let peak = process.memoryUsage().rss;
  const run = async () => {
    steps++;
    const out = await session.run({ ...state, ...fixed, step: scalarOrt(steps) });
    for (const [input, output] of tg.carried) state[input] = out[output];
    peak = Math.max(peak, process.memoryUsage().rss);
    return (out[LOSS_OUTPUT].data as Float32Array)[0];
  };
  for (let i = 0; i < 2; i++) await run();
  const start = performance.now();
  let timed = 0;
  let loss = 0;
  while (performance.now() - start < Number(values.seconds) * 1000 || timed < 3) {
    loss = await run();
    timed++;
  }
  const elapsed = (performance.now() - start) / 1000;
  await session.release();
  const samplesPerSecond = (timed * inputShape[0]) / elapsed;
  const voxels = n(inputShape.slice(2));
  console.log(JSON.stringify({
    model: name, ...opts, batch: inputShape[0], threads, executionProvider: ep,
    voxelsPerSecond: Math.round(samplesPerSecond * voxels),
    gflopsPerSecond: Math.round(((samplesPerSecond * flops.trainingStep) / 1e9) * 100) / 100,
    stepMs: Math.round((elapsed / timed) * 1000 * 10) / 10,
    trainingGflopPerSample: Math.round(flops.trainingStep / 1e7) / 100,
    memoryPerStepMiB: { activations: Math.round(mem.activationBytes / MiB), parametersAndAdam: Math.round((mem.parameterBytes / MiB) * 10) / 10, estimate: Math.round(mem.estimateBytes / MiB), measuredRssGrowth: Math.round((peak - rssBefore) / MiB) },
    steps: timed, finalLoss: loss, loadAverage: (await import('node:os')).loadavg()[0],
  }));
  return (elapsed / timed) * 1000;
}

/** The same network and step in PyTorch; undefined (with a line saying why) when it cannot run. */
function torchStep(patch: number, width: number, depth: number, ours: number): void {
  const python = process.env.FEDRAD_PYTHON ?? '/usr/bin/python3';
  const r = spawnSync(python, [new URL('./torch/unet3d.py', import.meta.url).pathname, ...[patch, width, depth, Number(values.channels), batch, threads, Number(values.seconds)].map(String)], { encoding: 'utf8' });
  if (r.status !== 0) {
    const why = (r.error?.message ?? r.stderr.trim().split('\n').at(-1) ?? 'no output').slice(0, 200);
    console.log(JSON.stringify({ reference: 'pytorch', skipped: `${python} could not run the PyTorch U-Net (${why}); install Debian's python3-torch or set FEDRAD_PYTHON` }));
    return;
  }
  const t = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { torch: string; stepMs: number; steps: number };
  console.log(JSON.stringify({ reference: 'pytorch', torch: t.torch, patch, width, depth, batch, threads, stepMs: t.stepMs, steps: t.steps, oursStepMs: Math.round(ours * 10) / 10, pytorchOverOursStepTime: Math.round((t.stepMs / ours) * 100) / 100 }));
}

const channels = Number(values.channels);
const depth = Number(values.depth);
for (const width of values.widths!.split(',').map(Number)) {
  for (const patch of values.patches!.split(',').map(Number)) {
    const ours = await measure('unet3d-segmenter', { seed: 0, inputSize: patch, width, depth, channels, norm: 'instance' } as never, [batch, channels, patch, patch, patch], [batch, 2, patch, patch, patch]);
    torchStep(patch, width, depth, ours);
  }
}
if (values['with-2d']) await measure('unet-segmenter', { seed: 0, inputSize: 64, width: 16 } as never, [16, 1, 64, 64], [16, 1, 64, 64]);
