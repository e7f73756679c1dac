// Baselines for a 3D federation: the 3D model trained on patches of all sites' volumes pooled
// (centralized) and of each site's alone, each scored by sliding-window Dice on the held-out test
// volumes: the figures a federated 3D run is measured against.
import { FolderDataSource } from '../data/data-source.js';
import { loadVolumeSamples } from '../data/load-volumes.js';
import { evaluationMetrics, type SpacedVolume, trainVolumes, volumeSpacingOf } from '../model/volume-trainer.js';
import { buildZooModel, type ZooOptions } from '../model/zoo/index.js';
import { type TrainingSpec, TrainingSpecSchema } from '../schemas/training-spec.js';
import type { Baselines } from './baselines.js';
import { spacedVolumes } from './train-site-volumes.js';

export interface Baseline3dOptions {
  sites: Array<{ siteId: string; dataDir: string }>;
  testDataDir: string;
  zoo: string;
  model: ZooOptions;
  spec: Partial<TrainingSpec>;
  log?: (message: string) => void;
}

/** Every volume of a data/ folder (both splits), resampled to the model's grid. */
export async function loadAllVolumes(dataDir: string, spacing: [number, number, number]): Promise<SpacedVolume[]> {
  const l = await loadVolumeSamples(new FolderDataSource(dataDir), { spacing });
  return spacedVolumes([...l.train, ...l.validation], dataDir);
}

export async function computeBaselines3d(o: Baseline3dOptions): Promise<Baselines> {
  const log = o.log ?? (() => {});
  const spacing = volumeSpacingOf(buildZooModel(o.zoo, o.model));
  const sites = new Map<string, SpacedVolume[]>();
  for (const s of o.sites) {
    const l = await loadVolumeSamples(new FolderDataSource(s.dataDir), { spacing });
    sites.set(s.siteId, spacedVolumes(l.train, s.dataDir));
  }
  const test = await loadAllVolumes(o.testDataDir, spacing);
  const spec = TrainingSpecSchema.parse({ loss: 'bce-dice', batchSize: 2, ...o.spec });
  const run = async (train: SpacedVolume[], name: string) => {
    const r = await trainVolumes({ model: buildZooModel(o.zoo, o.model), spec, train, validation: test, round: 0, siteId: name });
    log(`${name}: ${train.length} training volumes -> held-out dice ${r.evaluation!.dice.toFixed(4)}, HD95 ${r.evaluation!.hd95?.toFixed(2) ?? 'undefined'} mm`);
    return evaluationMetrics(r.evaluation!);
  };
  const centralized = await run([...sites.values()].flat(), 'centralized');
  const siteAloneDetails: Record<string, ReturnType<typeof evaluationMetrics>> = {};
  for (const [id, v] of sites) siteAloneDetails[id] = await run(v, `${id} alone`);
  const score = (m: ReturnType<typeof evaluationMetrics>) => (m.task === 'segmentation' ? m.dice : Number.NaN);
  const siteAlone = Object.fromEntries(Object.entries(siteAloneDetails).map(([id, m]) => [id, score(m)]));
  const values = Object.values(siteAlone);
  return {
    metric: 'dice',
    centralized: score(centralized),
    siteAlone,
    siteAloneMean: values.reduce((a, b) => a + b, 0) / values.length,
    details: { centralized, siteAlone: siteAloneDetails },
    trainSamples: Object.fromEntries([...sites].map(([id, v]) => [id, v.length])),
  };
}
