// Aggregation throughput and memory: FedAvg and trimmed mean over 8 and 32 updates of a
// 25M-parameter model, read from a folder store, each in a fresh process (peak RSS is its own).
// Prints one JSON line per run: bytes of updates consumed per second, by the strategy stage
// (reading and combining the updates) and by the whole round (also reading and hashing the global
// model, the server step and writing the next model), beside a memory-copy baseline measured in
// the same process (and a read-only pass over the same files), and peak RSS (VmHWM, the process's
// own high-water mark, start-up included) against the model.
// Usage: npm run bench:aggregate [-- --params 25000000 --counts 8,32 --strategies fedavg,trimmed-mean]
//   (--strategies also takes median, krum, multi-krum (f = 1), fedadam)
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { floatTensor, GraphBuilder, type Model, OPSET } from '../lib/model/graph.js';
import { encodeModel, sha256 } from '../lib/model/onnx-io.js';
import { encodeSafetensors } from '../lib/model/safetensors.js';
import type { UpdateManifest } from '../lib/schemas/update-manifest.js';
import { GateConfigSchema } from '../lib/schemas/strategy.js';
import { FolderBlobStore } from '../lib/storage/folder-store.js';
import { keys } from '../lib/storage/keys.js';

const { values } = parseArgs({ options: { params: { type: 'string', default: '25000000' }, counts: { type: 'string', default: '8,32' }, strategies: { type: 'string', default: 'fedavg,trimmed-mean' } } });
const params = Number(values.params);
const counts = values.counts!.split(',').map(Number);
const STRATEGIES: Record<string, Record<string, unknown>> = { fedavg: { type: 'fedavg' }, 'trimmed-mean': { type: 'trimmed-mean', beta: 0.2 }, median: { type: 'median' }, krum: { type: 'krum', f: 1 }, 'multi-krum': { type: 'multi-krum', f: 1 }, fedadam: { type: 'fedadam' } };
const strategies = values.strategies!.split(',').map((name) => {
  if (!STRATEGIES[name]) throw new Error(`--strategies: unknown '${name}'; use some of ${Object.keys(STRATEGIES).join(', ')}`);
  return STRATEGIES[name];
});
const TENSORS = 25;
const per = Math.ceil(params / TENSORS);
const root = await mkdtemp(join(tmpdir(), 'fedrad-bench-agg-'));
const store = new FolderBlobStore(root);
const runId = 'bench';
try {
  const b = new GraphBuilder(['x']);
  b.opNamed('Identity', ['x'], ['y']);
  const initializers = new Map(Array.from({ length: TENSORS }, (_, t) => [`layer${t}.weight`, floatTensor([per])]));
  const model: Model = { graph: { name: 'big', nodes: b.nodes, inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 1] }], outputs: [{ name: 'y', dtype: 'float32', shape: ['N', 1] }], initializers }, opset: OPSET, producer: 'bench', metadata: {} };
  const modelBytes = encodeModel(model);
  await store.put('fedrad-bench-models', keys.globalModel(runId, 0), modelBytes);
  const maxCount = Math.max(...counts);
  let updateBytes = 0;
  const accepted: { updateSha256: string; updateVersion?: string }[] = [];
  for (let s = 0; s < maxCount; s++) {
    const tensors = new Map([...initializers.keys()].map((name, t) => [name, floatTensor([per], new Float32Array(per).map((_, i) => Math.sin(i * 0.001 + s + t) * 0.01))]));
    const bytes = encodeSafetensors(tensors);
    updateBytes = bytes.length;
    const bucket = `fedrad-bench-site-${s}`;
    await store.put(bucket, keys.update(runId, 0), bytes);
    const manifest: Partial<UpdateManifest> = { siteId: `site-${s}`, updateSha256: sha256(bytes) };
    await store.put(bucket, keys.updateManifest(runId, 0), JSON.stringify(manifest));
    // what the gate records: aggregation reads the update pinned to this version
    accepted.push({ updateSha256: sha256(bytes), updateVersion: (await store.head(bucket, keys.update(runId, 0)))!.version });
  }
  for (const strategy of strategies) {
    for (const n of counts) {
      await rm(join(root, 'fedrad-bench-models', 'runs', runId, 'rounds', '0001'), { recursive: true, force: true });
      const sites = Array.from({ length: n }, (_, s) => ({ siteId: `site-${s}`, bucket: `fedrad-bench-site-${s}`, jobDefinitionArn: 'arn:aws:batch:us-east-1:000000000000:job-definition/x:1' }));
      const input = {
        runId, round: 0, rounds: 1, minSites: 1, modelsBucket: 'fedrad-bench-models', strategy, gate: GateConfigSchema.parse({}),
        trainingSpec: '{}', globalModelKey: keys.globalModel(runId, 0), globalModelSha256: sha256(modelBytes), sites, lastRound: null, updateBytes, tensorSizes: Object.fromEntries([...initializers.keys()].map((name) => [name, per])),
        outcomes: sites.map((s, i) => ({ siteId: s.siteId, status: 'accepted', sampleCount: 100, weight: 0, norm: 1, ...accepted[i], globalMetrics: {}, localMetrics: {} })),
      };
      const out = execFileSync(process.execPath, [...(process.env.FEDRAD_MEMTRACE ? ['--import', process.env.FEDRAD_MEMTRACE] : []), '--import', 'tsx', join(import.meta.dirname, 'aggregate-worker.ts'), root, JSON.stringify(input)], { encoding: 'utf8', maxBuffer: 1 << 20 });
      const r = JSON.parse(out.trim().split('\n').at(-1)!);
      const throughput = (n * updateBytes) / r.seconds;
      const stage = (n * updateBytes) / r.strategySeconds;
      console.log(JSON.stringify({
        strategy: strategy.type, updates: n, parameters: per * TENSORS, updateBytes, seconds: Math.round(r.seconds * 100) / 100,
        strategySeconds: Math.round(r.strategySeconds * 100) / 100, strategyBytesPerSecond: Math.round(stage), strategyRatioToCopy: Math.round((stage / r.copyBytesPerSecond) * 1000) / 1000,
        bytesPerSecond: Math.round(throughput), copyBytesPerSecond: Math.round(r.copyBytesPerSecond), ratioToCopy: Math.round((throughput / r.copyBytesPerSecond) * 1000) / 1000,
        storeReadBytesPerSecond: Math.round(r.storeReadBytesPerSecond), ratioToStoreRead: Math.round((throughput / r.storeReadBytesPerSecond) * 1000) / 1000,
        peakRssBytes: r.peakRss, peakRssOverModel: Math.round((r.peakRss / updateBytes) * 100) / 100, rssAtStartBytes: r.rssBefore,
        sampledPeakRssBytes: r.sampledPeak, sampledPeakOverModel: Math.round((r.sampledPeak / updateBytes) * 100) / 100, growthOverModel: Math.round(((r.sampledPeak - r.rssBefore) / updateBytes) * 100) / 100,
      }));
    }
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
