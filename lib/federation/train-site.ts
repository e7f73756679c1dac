// A site's training job: check the incoming global model against its hash, load the site's data
// (refusing data that changed since its manifest), evaluate the global model on the validation
// split, train locally, and write the update and its manifest into the site's own bucket, once.
import { BlobDataSource } from '../data/blob-data-source.js';
import { loadSiteDataset } from '../data/load-dataset.js';
import { evaluateModel } from '../model/evaluate.js';
import type { Metrics } from '../model/metrics.js';
import { decodeModel, sha256 } from '../model/onnx-io.js';
import { encodeSafetensors } from '../model/safetensors.js';
import { trainModel } from '../model/trainer.js';
import type { TrainingJobEnv } from '../schemas/training-job.js';
import type { UpdateManifest } from '../schemas/update-manifest.js';
import { type BlobStore, putOnce } from '../storage/blob-store.js';
import { keys } from '../storage/keys.js';
import { CorruptGlobalModelError } from './errors.js';
import { computeUpdate } from './update.js';
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

export async function runSiteTraining(job: TrainingJobEnv, store: BlobStore, log: (m: string) => void = () => {}): Promise<SiteTrainingResult> {
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
  const data = await loadSiteDataset(new BlobDataSource(store, job.FEDRAD_SITE_BUCKET));
  log(`site ${job.FEDRAD_SITE_ID}: ${data.train.count} training and ${data.validation.count} validation samples`);
  const hasValidation = data.validation.count > 0;
  const globalMetrics = hasValidation ? await evaluateModel(global, data.validation) : undefined;
  const result = await trainModel({ model: global, spec: job.FEDRAD_TRAINING_SPEC, train: data.train, validation: hasValidation ? data.validation : undefined, log });
  const update = encodeSafetensors(computeUpdate(global, result.weights), { siteId: job.FEDRAD_SITE_ID, runId: job.FEDRAD_RUN_ID, round: String(job.FEDRAD_ROUND) });
  const manifest: UpdateManifest = {
    version: 1,
    siteId: job.FEDRAD_SITE_ID,
    runId: job.FEDRAD_RUN_ID,
    round: job.FEDRAD_ROUND,
    baseModelSha256: actual,
    updateSha256: sha256(update),
    sampleCount: data.train.count,
    globalMetrics: metricsRecord(globalMetrics),
    localMetrics: metricsRecord(result.metrics),
    trainLoss: result.epochLosses.at(-1) ?? Number.NaN,
    steps: result.steps,
    executionProvider: result.executionProvider,
    seconds: (performance.now() - started) / 1000,
  };
  // The update first, the manifest last and once: the manifest commits the update. An update file
  // without a manifest is from a crashed attempt and may be replaced; the gate checks the hash.
  await store.put(job.FEDRAD_SITE_BUCKET, keys.update(job.FEDRAD_RUN_ID, job.FEDRAD_ROUND), update, { contentType: 'application/octet-stream' });
  await putOnce(store, job.FEDRAD_SITE_BUCKET, manifestKey, `${JSON.stringify(manifest, null, 1)}\n`, 'application/json');
  log(`site ${job.FEDRAD_SITE_ID}: update written (${update.length} bytes, train loss ${manifest.trainLoss.toFixed(4)})`);
  return { status: 'written', manifest };
}
