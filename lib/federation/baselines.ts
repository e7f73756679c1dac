// The numbers federated runs are measured against: the zoo classifier trained on all sites' data
// pooled (centralized, which federation cannot see in practice) and on each site's data alone,
// each scored on the federation's held-out test set.
import { availableParallelism } from 'node:os';
import type { ArrayDataset } from '../data/synthetic-arrays.js';
import { FolderDataSource } from '../data/data-source.js';
import { loadSiteDataset } from '../data/load-dataset.js';
import { evaluateModel, taskOf } from '../model/evaluate.js';
import type { Model } from '../model/graph.js';
import type { Metrics } from '../model/metrics.js';
import { trainModel } from '../model/trainer.js';
import { buildZooModel } from '../model/zoo/index.js';
import { type TrainingSpec, TrainingSpecSchema } from '../schemas/training-spec.js';

export interface BaselineOptions {
  /** each site's data/ folder */
  sites: Array<{ siteId: string; dataDir: string }>;
  /** the held-out test set's data/ folder */
  testDataDir: string;
  zoo?: string;
  /** a brought model to train instead of the zoo's (its metadata holds task and loss) */
  model?: Model;
  /** the zoo model's normalization (as the federated run uses) */
  norm?: 'batch' | 'group';
  seed?: number;
  spec?: Partial<TrainingSpec>;
  log?: (message: string) => void;
  /**
   * Trainings at once (default 1), each on cores / concurrency onnxruntime threads: onnxruntime
   * runs a step off the JS thread, so two one-thread trainings use two cores better than one
   * two-thread training of these small convolutions (the same trainings; results agree up to
   * floating-point summation order).
   */
  concurrency?: number;
}

export interface Baselines {
  metric: 'accuracy' | 'dice';
  centralized: number;
  siteAlone: Record<string, number>;
  siteAloneMean: number;
  details: { centralized: Metrics; siteAlone: Record<string, Metrics> };
  trainSamples: Record<string, number>;
}

export function concatDatasets(parts: ArrayDataset[]): ArrayDataset {
  const count = parts.reduce((a, p) => a + p.count, 0);
  const cat = (pick: (p: ArrayDataset) => Float32Array) => {
    const out = new Float32Array(parts.reduce((a, p) => a + pick(p).length, 0));
    let pos = 0;
    for (const p of parts) {
      out.set(pick(p), pos);
      pos += pick(p).length;
    }
    return out;
  };
  return { images: cat((p) => p.images), labels: cat((p) => p.labels), masks: cat((p) => p.masks), imageShape: parts[0].imageShape, count };
}

export async function computeBaselines(o: BaselineOptions): Promise<Baselines> {
  const log = o.log ?? (() => {});
  const zoo = o.zoo ?? 'cnn-classifier';
  const sites = new Map<string, ArrayDataset>();
  for (const s of o.sites) sites.set(s.siteId, (await loadSiteDataset(new FolderDataSource(s.dataDir))).train);
  const test = (await loadSiteDataset(new FolderDataSource(o.testDataDir))).train;
  const inputSize = test.imageShape[1];
  const segmentation = o.model ? taskOf(o.model) === 'segmentation' : zoo === 'unet-segmenter';
  const spec = TrainingSpecSchema.parse({ loss: (o.model?.metadata['fedrad.loss'] as TrainingSpec['loss'] | undefined) ?? (segmentation ? 'bce-dice' : 'softmax-cross-entropy'), optimizer: { type: 'adam', learningRate: 2e-3 }, ...(o.spec?.localSteps === undefined ? { epochs: 5 } : {}), batchSize: 32, seed: o.seed ?? 0, ...o.spec });
  const metric = segmentation ? 'dice' : 'accuracy';
  const score = (m: Metrics) => (m.task === 'segmentation' ? m.dice : m.accuracy);
  const lanes = Math.max(1, Math.floor(o.concurrency ?? 1));
  const threads = lanes > 1 ? Math.max(1, Math.floor(availableParallelism() / lanes)) : undefined;
  const run = async (data: ArrayDataset, name: string) => {
    const model = o.model ?? buildZooModel(zoo, { seed: o.seed ?? 0, inputSize, ...(o.norm ? { norm: o.norm } : {}) });
    const r = await trainModel({ model, spec, train: data, threads });
    const m = await evaluateModel(r.trained, test, { threads });
    log(`${name}: ${data.count} training samples -> held-out ${metric} ${score(m).toFixed(4)}`);
    return m;
  };
  // The largest trainings first, each lane taking the next when it is free.
  const tasks: Array<{ name: string; id?: string; data: ArrayDataset }> = [{ name: 'centralized', data: concatDatasets([...sites.values()]) }, ...[...sites].map(([id, data]) => ({ name: `${id} alone`, id, data }))];
  const queue = [...tasks].sort((a, b) => b.data.count - a.data.count);
  const results = new Map<string, Metrics>();
  await Promise.all(Array.from({ length: lanes }, async () => {
    for (let t = queue.shift(); t; t = queue.shift()) results.set(t.name, await run(t.data, t.name));
  }));
  const centralized = results.get('centralized')!;
  const siteAloneDetails: Record<string, Metrics> = {};
  for (const t of tasks) if (t.id) siteAloneDetails[t.id] = results.get(t.name)!;
  const siteAlone = Object.fromEntries(Object.entries(siteAloneDetails).map(([id, m]) => [id, score(m)]));
  const values = Object.values(siteAlone);
  return {
    metric,
    centralized: score(centralized),
    siteAlone,
    siteAloneMean: values.reduce((a, b) => a + b, 0) / values.length,
    details: { centralized, siteAlone: siteAloneDetails },
    trainSamples: Object.fromEntries([...sites].map(([id, d]) => [id, d.count])),
  };
}
