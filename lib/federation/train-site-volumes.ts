// A site's training job for a 3D model: the site's NIfTI/DICOM volumes (loadVolumeSamples: RAS,
// resampled to the model's voxel spacing), patch training seeded by run, round and site, sliding-
// window validation of the global and the local model; then the update and its manifest, as the
// 2D job writes them (train-site.ts decides which job runs from the model's input rank).
import { BlobDataSource } from '../data/blob-data-source.js';
import { type LoadedVolumes, loadVolumeSamples } from '../data/load-volumes.js';
import { spacingOf } from '../data/volume.js';
import { DatasetError } from '../errors.js';
import type { Model } from '../model/graph.js';
import { evaluateVolumes, type SpacedVolume, trainVolumes, type VolumeEvaluation, volumeSpacingOf } from '../model/volume-trainer.js';
import type { TrainingJobEnv } from '../schemas/training-job.js';
import type { UpdateManifest } from '../schemas/update-manifest.js';
import type { BlobStore } from '../storage/blob-store.js';
import { buildUpdate, commitUpdate, finiteOrNull } from './commit-update.js';

/** A loaded sample as the patch trainer takes it: voxels, label map, spacing. */
export function spacedVolumes(samples: LoadedVolumes['train'], location: string): SpacedVolume[] {
  return samples.map((s) => {
    if (!s.mask) throw new DatasetError(`${location}: volume ${s.id} has no mask; 3D segmentation training needs a label map for every volume`, { volume: s.id });
    return { data: s.image.data, size: s.image.size, channels: s.image.channels, labels: s.mask.data, spacing: spacingOf(s.image.affine) };
  });
}

function record(e: VolumeEvaluation | undefined): Record<string, number> {
  if (!e) return {};
  const out: Record<string, number> = { dice: e.dice, count: e.count };
  if (e.hd95 !== null) out.hd95 = e.hd95;
  e.perRegion.forEach((r, i) => {
    out[`dice_region${i}`] = r.dice;
    if (r.hd95 !== null) out[`hd95_region${i}`] = r.hd95;
  });
  return out;
}

export async function trainSiteVolumes(job: TrainingJobEnv, store: BlobStore, global: Model, globalSha: string, started: number, log: (m: string) => void): Promise<{ status: 'written'; manifest: UpdateManifest }> {
  const source = new BlobDataSource(store, job.FEDRAD_SITE_BUCKET);
  const data = await loadVolumeSamples(source, { spacing: volumeSpacingOf(global) });
  const train = spacedVolumes(data.train, source.location);
  const validation = spacedVolumes(data.validation, source.location);
  log(`site ${job.FEDRAD_SITE_ID}: ${train.length} training and ${validation.length} validation volumes`);
  const globalEval = validation.length ? await evaluateVolumes(global, validation) : undefined;
  const result = await trainVolumes({ model: global, spec: job.FEDRAD_TRAINING_SPEC, train, validation, round: job.FEDRAD_ROUND, siteId: job.FEDRAD_SITE_ID, log });
  const { update, manifest } = buildUpdate(job, global, result.weights, {
    baseModelSha256: globalSha,
    sampleCount: train.length,
    globalMetrics: record(globalEval),
    localMetrics: record(result.evaluation),
    trainLoss: finiteOrNull(result.epochLosses.at(-1)),
    steps: result.steps,
    executionProvider: result.executionProvider,
    seconds: (performance.now() - started) / 1000,
  });

  await commitUpdate(store, job, update, manifest, log);
  return { status: 'written', manifest };
}
