// aggregateRound end to end over a folder store, on a model whose tensors sit at unaligned offsets
// with lengths that are not multiples of four (SIMD body and scalar tail): FedAvg sums the updates
// into the model's own bytes, and must agree with the accumulator path (FedAvgM with momentum 0 and
// server learning rate 1 is the same arithmetic) and with the sum computed here in float64.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateRound } from '../../../lib/federation/aggregate-round.js';
import type { AggregateInput } from '../../../lib/federation/round-state.js';
import { floatTensor, GraphBuilder, type Model, OPSET } from '../../../lib/model/graph.js';
import { decodeModel, encodeModel, initializerSpans, sha256 } from '../../../lib/model/onnx-io.js';
import { encodeSafetensors } from '../../../lib/model/safetensors.js';
import { GateConfigSchema } from '../../../lib/schemas/strategy.js';
import { FolderBlobStore } from '../../../lib/storage/folder-store.js';
import { keys } from '../../../lib/storage/keys.js';
import { Random } from '../../../lib/util/random.js';

const SIZES = { a: 7, b: 13, c: 1, d: 1030 };
const SITES = ['s1', 's2', 's3'];
const SAMPLES = [10, 20, 40];
let root: string;
let store: FolderBlobStore;
let model: Model;
let modelBytes: Uint8Array;
const updates = new Map<string, Record<string, Float32Array>>();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'fedrad-aggregate-round-'));
  store = new FolderBlobStore(root);
  const rng = new Random(5);
  const b = new GraphBuilder(['x']);
  b.opNamed('Identity', ['x'], ['y']);
  const initializers = new Map(Object.entries(SIZES).map(([name, n]) => [name, floatTensor([n], Float32Array.from({ length: n }, () => rng.normal()))]));
  model = { graph: { name: 'm', nodes: b.nodes, inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 1] }], outputs: [{ name: 'y', dtype: 'float32', shape: ['N', 1] }], initializers }, opset: OPSET, producer: 'test', metadata: {} };
  modelBytes = encodeModel(model);
  for (const s of SITES) {
    const u = Object.fromEntries(Object.entries(SIZES).map(([name, n]) => [name, Float32Array.from({ length: n }, () => rng.normal() * 0.1)]));
    updates.set(s, u);
    const bytes = encodeSafetensors(new Map(Object.entries(u).map(([name, v]) => [name, floatTensor([v.length], v)])));
    await store.put(`fedrad-${s}`, keys.update('r', 0), bytes);
  }
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function aggregate(runId: string, strategy: AggregateInput['strategy']): Promise<Model> {
  await store.put('fedrad-models', keys.globalModel(runId, 0), modelBytes);
  const outcomes = [];
  for (const [i, s] of SITES.entries()) {
    const bytes = await store.get(`fedrad-${s}`, keys.update('r', 0));
    if (!(await store.head(`fedrad-${s}`, keys.update(runId, 0)))) await store.put(`fedrad-${s}`, keys.update(runId, 0), bytes); // a re-run reads what is there
    const updateVersion = (await store.head(`fedrad-${s}`, keys.update(runId, 0)))!.version;
    outcomes.push({ siteId: s, status: 'accepted', sampleCount: SAMPLES[i], weight: 0, norm: 1, updateSha256: sha256(bytes), updateVersion, globalMetrics: {}, localMetrics: {} });
  }
  const input: AggregateInput = {
    runId, round: 0, rounds: 1, minSites: 1, modelsBucket: 'fedrad-models', strategy, gate: GateConfigSchema.parse({}),
    trainingSpec: '{}', globalModelKey: keys.globalModel(runId, 0), globalModelSha256: sha256(modelBytes), lastRound: null, aggregation: 'lambda',
    sites: SITES.map((s) => ({ siteId: s, bucket: `fedrad-${s}`, jobDefinitionArn: 'arn:x' })),
    outcomes,
  };
  const next = await aggregateRound(store, input);
  return decodeModel(await store.get('fedrad-models', next.globalModelKey));
}

describe('aggregateRound', () => {
  it('places tensors at unaligned offsets in this model (what the in-place sum must handle)', () => {
    const offsets = [...initializerSpans(modelBytes).values()].map((s) => s.offset % 4);
    expect(offsets.some((o) => o !== 0)).toBe(true);
  });

  it('FedAvg in place equals the float64 weighted sum and the accumulator path', async () => {
    const inPlace = await aggregate('fedavg', { type: 'fedavg' });
    const viaAccumulator = await aggregate('fedavgm', { type: 'fedavgm', serverLearningRate: 1, momentum: 0 });
    const total = SAMPLES.reduce((a, b) => a + b, 0);
    for (const [name, n] of Object.entries(SIZES)) {
      const got = inPlace.graph.initializers.get(name)!.data as Float32Array;
      const other = viaAccumulator.graph.initializers.get(name)!.data as Float32Array;
      const base = model.graph.initializers.get(name)!.data as Float32Array;
      for (let k = 0; k < n; k++) {
        const expected = base[k] + SITES.reduce((acc, s, i) => acc + (SAMPLES[i] / total) * updates.get(s)![name][k], 0);
        expect(got[k]).toBeCloseTo(expected, 5);
        expect(got[k]).toBeCloseTo(other[k], 5);
      }
      expect(got[n - 1]).not.toBe(base[n - 1]); // the tail moved too
    }
  });

  it('FedAvg with central DP in place: seeded noise, so a re-run of the round is byte-identical (not refused)', async () => {
    const strategy = { type: 'fedavg' as const, dp: { clipNorm: 0.5, noiseMultiplier: 1, delta: 1e-5 } };
    const first = await aggregate('dp', strategy);
    const again = await aggregate('dp', strategy); // writes once: a different model would be refused
    expect(encodeModel(again)).toEqual(encodeModel(first));
    const plain = (await aggregate('dp-free', { type: 'fedavg', clipNorm: 0.5 })).graph.initializers.get('d')!.data as Float32Array;
    const noisy = first.graph.initializers.get('d')!.data as Float32Array;
    const diffs = Array.from(noisy, (v, k) => v - plain[k]);
    const sd = Math.sqrt(diffs.reduce((a, v) => a + v * v, 0) / diffs.length);
    expect(sd).toBeGreaterThan(0.5 / 3 / 2); // noise of sigma * C / n = 0.167 on every value
    expect(sd).toBeLessThan(0.5 / 3 * 2);
  });
});
