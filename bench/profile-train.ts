// Where a training step's time goes: runs the zoo models' training-step graphs with onnxruntime's
// profiler on and aggregates the trace by op type and by node. Prints JSON lines: one per op type
// (share of kernel time), then the top nodes, per model.
// Usage: npm run bench:profile-train [-- --models cnn-classifier --batch 32 --threads 1 --steps 10 --top 12]
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeLesionDataset } from '../lib/data/synthetic-arrays.js';
import { createSession, floatOrt, type OrtTensor, scalarOrt, toOrt } from '../lib/model/runtime.js';
import { buildTrainingGraph, initialOptimizerState } from '../lib/model/training-graph.js';
import { buildZooModel } from '../lib/model/zoo/index.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'cnn-classifier,unet-segmenter' },
    batch: { type: 'string', default: '32' },
    threads: { type: 'string', default: '1' },
    steps: { type: 'string', default: '10' },
    top: { type: 'string', default: '12' },
    'input-size': { type: 'string', default: '64' },
  },
});
const batch = Number(values.batch);
const size = Number(values['input-size']);
const threads = Number(values.threads);

interface TraceEvent { cat: string; name: string; dur: number; args?: { op_name?: string } }

for (const name of values.models!.split(',')) {
  const model = buildZooModel(name, { seed: 0, inputSize: size });
  const segmentation = model.metadata['fedrad.task'] === 'segmentation';
  const tg = buildTrainingGraph(model, { loss: segmentation ? 'bce-dice' : 'softmax-cross-entropy', optimizer: { type: 'adam', learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } });
  const prefix = join(tmpdir(), `fedrad-profile-${process.pid}-${name}`);
  const session = await createSession(tg.model, { threads, executionProvider: 'cpu', profile: prefix });
  const data = makeLesionDataset({ count: batch, size, seed: 1 });
  const state: Record<string, OrtTensor> = {};
  for (const p of [...tg.params, ...tg.buffers]) state[p] = toOrt(model.graph.initializers.get(p)!);
  for (const [k, v] of initialOptimizerState(tg, model.graph.initializers)) state[k] = toOrt(v);
  const target = segmentation ? data.masks : Float32Array.from({ length: batch * 2 }, (_, i) => (i % 2 === data.labels[Math.floor(i / 2)] ? 1 : 0));
  const fixed = { [tg.dataInput]: floatOrt([batch, 1, size, size], data.images), target: floatOrt(segmentation ? [batch, 1, size, size] : [batch, 2], target), learning_rate: scalarOrt(1e-3) };
  const steps = Number(values.steps);
  const t0 = performance.now();
  for (let s = 1; s <= steps; s++) {
    const out = await session.run({ ...state, ...fixed, step: scalarOrt(s) });
    for (const [input, output] of tg.carried) state[input] = out[output];
  }
  const wallMs = (performance.now() - t0) / steps;
  session.endProfiling();
  await session.release();
  // The trace file is named <prefix>_<timestamp>.json.
  const { readdir } = await import('node:fs/promises');
  const file = (await readdir(tmpdir())).filter((f) => f.startsWith(`fedrad-profile-${process.pid}-${name}_`)).map((f) => join(tmpdir(), f))[0];
  const events = JSON.parse(await readFile(file, 'utf8')) as TraceEvent[];
  await rm(file, { force: true });
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const total = kernels.reduce((a, e) => a + e.dur, 0);
  const byOp = new Map<string, { us: number; nodes: Set<string> }>();
  const byNode = new Map<string, { op: string; us: number }>();
  for (const e of kernels) {
    const op = e.args?.op_name ?? '?';
    const node = e.name.replace(/_kernel_time$/, '');
    const o = byOp.get(op) ?? { us: 0, nodes: new Set() };
    o.us += e.dur;
    o.nodes.add(node);
    byOp.set(op, o);
    const n = byNode.get(node) ?? { op, us: 0 };
    n.us += e.dur;
    byNode.set(node, n);
  }
  const perStep = (us: number) => Math.round((us / steps / 1000) * 100) / 100;
  console.log(JSON.stringify({ model: name, batch, threads, steps, wallMsPerStep: Math.round(wallMs * 100) / 100, runMsPerStep: perStep(runs.reduce((a, e) => a + e.dur, 0)), kernelMsPerStep: perStep(total), nodes: byNode.size }));
  for (const [op, o] of [...byOp].sort((a, b) => b[1].us - a[1].us)) {
    console.log(JSON.stringify({ model: name, opType: op, nodes: o.nodes.size, msPerStep: perStep(o.us), share: Math.round((o.us / total) * 1000) / 1000 }));
  }
  for (const [node, n] of [...byNode].sort((a, b) => b[1].us - a[1].us).slice(0, Number(values.top))) {
    console.log(JSON.stringify({ model: name, node, opType: n.op, msPerStep: perStep(n.us), share: Math.round((n.us / total) * 1000) / 1000 }));
  }
}
