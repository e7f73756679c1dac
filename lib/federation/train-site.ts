// A site's training job: check the incoming global model against its hash, load the site's data
// (refusing data that changed since its manifest), evaluate the global model on the validation
// split, train locally, and write the update and its manifest into the site's own bucket, once.
import { BlobDataSource } from '../data/blob-data-source.js';
import type { DataSource } from '../data/data-source.js';
import { loadSiteDataset } from '../data/load-dataset.js';
import { evaluateModel } from '../model/evaluate.js';
import type { Metrics } from '../model/metrics.js';
import { decodeModel, sha256 } from '../model/onnx-io.js';
import { trainModel } from '../model/trainer.js';
import type { TrainingJobEnv } from '../schemas/training-job.js';
import type { UpdateManifest } from '../schemas/update-manifest.js';
import type { BlobStore } from '../storage/blob-store.js';
import { keys } from '../storage/keys.js';
import { buildUpdate, commitUpdate, finiteOrNull } from './commit-update.js';
import { CorruptGlobalModelError } from './errors.js';
import { trainSiteVolumes } from './train-site-volumes.js';

export function metricsRecord(m: Metrics | undefined): Record<string, number> {
  if (!m) return {};
  const { task: _task, ...rest } = m;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => typeof v === 'number' && Number.isFinite(v))) as Record<string, number>;
}

export interface SiteTrainingResult {
  status: 'written' | 'already-present';
  manifest?: UpdateManifest;
}

/** `data`: where the site's images are (default: the site bucket's data/; an on-premises agent's folder) */
export async function runSiteTraining(job: TrainingJobEnv, store: BlobStore, log: (m: string) => void = () => {}, data?: DataSource): Promise<SiteTrainingResult> {
  const manifestKey = keys.updateManifest(job.FEDRAD_RUN_ID, job.FEDRAD_ROUND);
  if (await store.head(job.FEDRAD_SITE_BUCKET, manifestKey)) {
    log(`an update for run ${job.FEDRAD_RUN_ID} round ${job.FEDRAD_ROUND} is already in s3://${job.FEDRAD_SITE_BUCKET}/${manifestKey}; nothing to do`);
    return { status: 'already-present' };
  }
  const started = performance.now();
  const bytes = await store.get(job.FEDRAD_MODELS_BUCKET, job.FEDRAD_GLOBAL_MODEL_KEY);
  const actual = sha256(bytes);
  if (actual !== job.FEDRAD_GLOBAL_MODEL_SHA256) {
    throw new CorruptGlobalModelError(`global model s3://${job.FEDRAD_MODELS_BUCKET}/${job.FEDRAD_GLOBAL_MODEL_KEY} has SHA-256 ${actual}, but this round's model is ${job.FEDRAD_GLOBAL_MODEL_SHA256}`, { key: job.FEDRAD_GLOBAL_MODEL_KEY });
  }
  const global = decodeModel(bytes, job.FEDRAD_GLOBAL_MODEL_KEY);
  if (global.graph.inputs[0]?.shape.length === 5) return trainSiteVolumes(job, store, global, actual, started, log);
  const dataset = await loadSiteDataset(data ?? new BlobDataSource(store, job.FEDRAD_SITE_BUCKET));
  log(`site ${job.FEDRAD_SITE_ID}: ${dataset.train.count} training and ${dataset.validation.count} validation samples`);
  const hasValidation = dataset.validation.count > 0;
  const globalMetrics = hasValidation ? await evaluateModel(global, dataset.validation) : undefined;
  const result = await trainModel({ model: global, spec: job.FEDRAD_TRAINING_SPEC, train: dataset.train, validation: hasValidation ? dataset.validation : undefined, log });
  const { update, manifest } = buildUpdate(job, global, result.weights, {
    baseModelSha256: actual,
    sampleCount: dataset.train.count,
    globalMetrics: metricsRecord(globalMetrics),
    localMetrics: metricsRecord(result.metrics),
    trainLoss: finiteOrNull(result.epochLosses.at(-1)),
    steps: result.steps,
    executionProvider: result.executionProvider,
    seconds: (performance.now() - started) / 1000,
  });

  // The update first, the manifest last: the manifest commits the update. Both are written once
  // (If-None-Match: *): a retried job that trains the same bytes succeeds, and one whose earlier
  // attempt left different bytes stops with a message rather than replacing what may be read.
  await commitUpdate(store, job, update, manifest, log);
  return { status: 'written', manifest };
}
