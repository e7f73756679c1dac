// `fedrad simulate`: a whole federation on this machine with the cloud's code. Writes synthetic
// sites into local buckets, computes the centralized and site-alone baselines on the same data,
// synthesizes the CDK app, runs its state machines locally (functions in-process, training jobs as
// child processes with the container's environment), then scores every global model on the
// held-out test set and writes the report.

import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { FolderDataSource } from '../../lib/data/data-source.js';
import { loadSiteDataset } from '../../lib/data/load-dataset.js';
import { synthesizeFederation, TEST_SITE_ID } from '../../lib/data/synth.js';
import { type Baselines, computeBaselines } from '../../lib/federation/baselines.js';
import { computeBaselines3d, loadAllVolumes } from '../../lib/federation/baselines-3d.js';
import { synthesizeFederation3d } from '../../lib/data/synth-3d.js';
import { evaluateVolumes, VOLUME_SPACING_MM } from '../../lib/model/volume-trainer.js';
import type { RunSummary } from '../../lib/federation/finish-run.js';
import { loadRunReport } from '../../lib/federation/finish-run.js';
import { metricOf, renderReportHtml } from '../../lib/federation/report.js';
import type { RoundState } from '../../lib/federation/round-state.js';
import { evaluateModel } from '../../lib/model/evaluate.js';
import { decodeModel } from '../../lib/model/onnx-io.js';
import { type DeploymentConfig, DeploymentConfigSchema } from '../../lib/schemas/deployment-config.js';
import type { RunInputRaw } from '../../lib/schemas/run-input.js';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import type { BlobStore } from '../../lib/storage/blob-store.js';
import { FolderBlobStore } from '../../lib/storage/folder-store.js';
import { S3BlobStore } from '../../lib/storage/s3-store.js';
import { keys } from '../../lib/storage/keys.js';
import { type JobLauncher, runLocalWorkflow, type WorkflowEvent, WorkflowFailedError } from '../../lib/workflow/local-runner.js';
import type { SimulationSummary } from '../../lib/workflow/simulation.js';
import { synthesizeLocal } from './synth-local.js';
import { AGGREGATION_ENTRYPOINT, noopLauncher, processLauncher, withFailingSites } from './trainers.js';

export interface SimulateOptions {
  sites?: number;
  rounds?: number;
  model?: 'cnn-classifier' | 'unet-segmenter' | 'unet3d-segmenter';
  /** unet3d-segmenter: MR sequences (1-4, default 2), width (default 4), depth (default 2), volumes per site and in the test set */
  channels?: number;
  width?: number;
  depth?: number;
  minVolumes?: number;
  maxVolumes?: number;
  testVolumes?: number;
  /** the classifier's normalization: BatchNorm (default) or GroupNorm */
  norm?: 'batch' | 'group';
  strategy?: 'fedavg';
  seed?: number;
  /** site jobs at once */
  concurrency?: number;
  out?: string;
  minImages?: number;
  maxImages?: number;
  testImages?: number;
  inputSize?: number;
  /** local epochs per round (and the baselines train rounds x epochs) */
  epochs?: number;
  /** local steps per round instead of epochs (and the baselines train rounds x localSteps steps) */
  localSteps?: number;
  minSites?: number;
  trainer?: 'process' | 'noop';
  /** sites whose training jobs fail (fault injection) */
  failSites?: string[];
  /** wraps the job launcher (fault injection, poisoning) */
  wrapLauncher?: (launcher: JobLauncher, store: BlobStore) => JobLauncher;
  strategyConfig?: RunInputRaw['strategy'];
  gate?: RunInputRaw['gate'];
  /** where rounds aggregate: the function (in-process) or the CPU Batch job (a child process) */
  aggregation?: RunInputRaw['aggregation'];
  baselines?: boolean;
  runId?: string;
  /** local training overrides (the baselines use the same optimizer) */
  learningRate?: number;
  /** run against an S3-compatible endpoint (LocalStack, MinIO, s3rver) instead of the local folder */
  s3Endpoint?: string;
  onEvent?: (e: WorkflowEvent) => void;
  log?: (message: string) => void;
}

export interface SimulationResult extends SimulationSummary {
  outDir: string;
  storageRoot: string;
  modelsBucket: string;
  summary?: RunSummary;
}

const FEDERATION = 'local';

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export async function simulate(o: SimulateOptions = {}): Promise<SimulationResult> {
  const started = performance.now();
  const log = o.log ?? (() => {});
  const siteCount = o.sites ?? 4;
  const rounds = o.rounds ?? 5;
  const zoo = o.model ?? 'cnn-classifier';
  const seed = o.seed ?? 7;
  const epochs = o.epochs ?? 1;
  const learningRate = o.learningRate ?? (zoo === 'unet3d-segmenter' ? 5e-3 : 2e-3);
  const volumetric = zoo === 'unet3d-segmenter';
  // 3D defaults sized for a 2-core machine: 16^3 patches (32 mm at 2 mm), width 8, depth 2, batch 2, 40 steps a round
  const inputSize = o.inputSize ?? (volumetric ? 16 : 64);
  const model3d = { channels: o.channels ?? 2, width: o.width ?? 8, depth: o.depth ?? 2, norm: 'instance' as const };
  const volumes = { min: o.minVolumes ?? 4, max: o.maxVolumes ?? 8, test: o.testVolumes ?? 4 };
  const localSteps = o.localSteps ?? (volumetric ? 40 : undefined);
  const concurrency = o.concurrency ?? Math.max(1, Math.min(siteCount, availableParallelism()));
  const outDir = resolve(o.out ?? '.fedrad/simulate');
  const storageRoot = join(outDir, 'buckets');
  const config: DeploymentConfig = DeploymentConfigSchema.parse({
    federation: FEDERATION,
    sites: Array.from({ length: siteCount }, (_, i) => ({ id: `site-${i + 1}`, displayName: `Synthetic site ${i + 1}` })),
    trainingConcurrency: concurrency,
  });
  const deployment = synthesizeLocal(config);
  const bucketOf = new Map(deployment.sites.map((s) => [s.siteId, s.bucket]));

  // Synthetic data in the site buckets' data/ prefix; reused when the same federation is asked again.
  const dataKey = JSON.stringify(volumetric ? { siteCount, seed, volumes, channels: model3d.channels, v: '3d-1' } : { siteCount, seed, min: o.minImages ?? 100, max: o.maxImages ?? 1000, test: o.testImages ?? 400, inputSize, v: 1 });
  const marker = join(outDir, 'federation.json');
  if ((await readJson<{ key: string }>(marker))?.key !== dataKey) {
    await rm(outDir, { recursive: true, force: true });
    if (volumetric) {
      log(`writing ${siteCount} synthetic 3D sites (NIfTI) into ${storageRoot}`);
      await synthesizeFederation3d({ out: outDir, sites: siteCount, seed, channels: model3d.channels, minVolumes: volumes.min, maxVolumes: volumes.max, testVolumes: volumes.test, siteDir: (id) => join(storageRoot, bucketOf.get(id)!) });
    } else log(`writing ${siteCount} synthetic sites (DICOM) into ${storageRoot}`);
    if (!volumetric) await synthesizeFederation({ out: outDir, sites: siteCount, seed, minImages: o.minImages ?? 100, maxImages: o.maxImages ?? 1000, testImages: o.testImages ?? 400, inputSize, siteDir: (id) => join(storageRoot, bucketOf.get(id)!) });
    await writeFile(marker, JSON.stringify({ key: dataKey }));
  } else {
    // Each run is new: clear earlier runs' models and updates, keep the data.
    await rm(join(storageRoot, deployment.modelsBucket), { recursive: true, force: true });
    for (const b of bucketOf.values()) await rm(join(storageRoot, b, 'updates'), { recursive: true, force: true });
  }
  const testDataDir = join(outDir, TEST_SITE_ID, 'data');

  let baselines: Baselines | undefined;
  if (o.baselines ?? true) {
    const baselineKey = `${dataKey}|${zoo}|${o.norm ?? 'batch'}|${localSteps ? `${rounds * localSteps} steps` : rounds * epochs}|${learningRate}${volumetric ? `|${JSON.stringify(model3d)}|${inputSize}` : ''}`;
    const cached = await readJson<{ key: string; baselines: Baselines }>(join(outDir, 'baselines.json'));
    if (cached?.key === baselineKey) baselines = cached.baselines;
    else {
      log('computing baselines: centralized and each site alone');
      baselines = volumetric ? await computeBaselines3d({
        sites: deployment.sites.map((s) => ({ siteId: s.siteId, dataDir: join(storageRoot, s.bucket, 'data') })),
        testDataDir,
        zoo,
        model: { seed: 0, inputSize, ...model3d },
        spec: { localSteps: rounds * localSteps!, batchSize: 2, seed, optimizer: { type: 'adam', learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } },
        log,
      }) : await computeBaselines({
        sites: deployment.sites.map((s) => ({ siteId: s.siteId, dataDir: join(storageRoot, s.bucket, 'data') })),
        testDataDir,
        zoo,
        norm: o.norm,
        spec: { ...(o.localSteps ? { localSteps: rounds * o.localSteps } : { epochs: rounds * epochs }), optimizer: { type: 'adam', learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } },
        log,
      });
      await writeFile(join(outDir, 'baselines.json'), JSON.stringify({ key: baselineKey, baselines }));
    }
  }

  // The functions and jobs see what the stack would give them, pointed at the local buckets (a
  // folder), or at an S3-compatible endpoint holding the same buckets.
  const threads = String(Math.max(1, Math.floor(availableParallelism() / concurrency)));
  const storageEnv: Record<string, string> = o.s3Endpoint ? { AWS_ENDPOINT_URL: o.s3Endpoint } : { FEDRAD_STORAGE_ROOT: storageRoot };
  if (o.s3Endpoint) {
    delete process.env.FEDRAD_STORAGE_ROOT;
    await copyBucketsToEndpoint(storageRoot, [...bucketOf.values(), deployment.modelsBucket], new S3BlobStore({ endpoint: o.s3Endpoint }), log);
  }
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN'; // the functions' structured logs stay in the cloud
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  // Imported now, after the environment above: the functions build their logger and metrics at load.
  const handlers = {
    prepareRun: (await import('../../functions/prepare-run/handler.js')).handler,
    validateUpdate: (await import('../../functions/validate-update/handler.js')).handler,
    aggregateRound: (await import('../../functions/aggregate-round/handler.js')).handler,
    batchAggregation: (await import('../../functions/batch-aggregation/handler.js')).handler,
    finishRun: (await import('../../functions/finish-run/handler.js')).handler,
  };
  Object.assign(process.env, { ...storageEnv, FEDRAD_MODELS_BUCKET: deployment.modelsBucket, FEDRAD_SITES: JSON.stringify(deployment.sites) });
  const store: BlobStore = o.s3Endpoint ? new S3BlobStore({ endpoint: o.s3Endpoint }) : new FolderBlobStore(storageRoot);
  let launcher: JobLauncher = o.trainer === 'noop' ? noopLauncher(store) : processLauncher({ ...storageEnv, FEDRAD_THREADS: threads });
  if (o.failSites?.length) launcher = withFailingSites(launcher, o.failSites);
  if (o.wrapLauncher) launcher = o.wrapLauncher(launcher, store);
  const runId = o.runId ?? `sim-${new Date().toISOString().replace(/[^0-9]/g, '').slice(0, 14)}`;
  const input: RunInputRaw = { runId, rounds, model: { zoo, inputSize, seed: 0, ...(volumetric ? model3d : {}), ...(o.norm ? { norm: o.norm } : {}) }, training: { epochs, ...(localSteps ? { localSteps } : {}), batchSize: volumetric ? 2 : 32, seed, optimizer: { type: 'adam', learningRate } }, ...(o.minSites ? { minSites: o.minSites } : {}), ...(o.strategyConfig ? { strategy: o.strategyConfig } : {}), ...(o.gate ? { gate: o.gate } : {}), ...(o.aggregation ? { aggregation: o.aggregation } : {}) };
  let summary: RunSummary | undefined;
  let failure: { error: string; cause: string } | undefined;
  let finalRound = 0;
  const workflowStarted = performance.now();
  try {
    summary = (await runLocalWorkflow({
      definitions: deployment.definitions,
      handlers: handlers as never,
      launchJob: launcher,
      launchAggregationJob: processLauncher(storageEnv, undefined, AGGREGATION_ENTRYPOINT),
      input,
      executionName: runId,
      onEvent: (e) => {
        if (e.type === 'round-finished') finalRound = (e.output as RoundState).round;
        o.onEvent?.(e);
      },
    })) as RunSummary;
    finalRound = summary.rounds;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    failure = nestedFailure(err.error, err.causeText);
  }
  const workflowSeconds = (performance.now() - workflowStarted) / 1000;

  // Score every global model on the held-out test set (what the sites' metrics cannot show).
  const report = finalRound > 0 ? await loadRunReport(store, deployment.modelsBucket, runId, finalRound) : { runId, metric: zoo === 'unet-segmenter' || volumetric ? 'dice' : 'accuracy', rounds: [], status: 'failed' as const };
  if (volumetric) report.metric = 'dice'; // the sites report Dice only when they hold validation volumes
  const test = volumetric ? undefined : (await loadSiteDataset(new FolderDataSource(testDataDir))).train;
  const testVolumes = volumetric ? await loadAllVolumes(testDataDir, VOLUME_SPACING_MM) : undefined;
  for (const r of report.rounds) {
    const model = decodeModel(await store.get(deployment.modelsBucket, keys.globalModel(runId, r.round)));
    if (testVolumes) {
      r.testMetric = (await evaluateVolumes(model, testVolumes)).dice;
      continue;
    }
    const metrics = (await evaluateModel(model, test!)) as unknown as Record<string, number>;
    r.testMetric = metricOf(metrics)?.[1];
    if (Number.isFinite(metrics.rocAuc)) r.testRocAuc = metrics.rocAuc;
  }
  if (failure) {
    report.status = 'failed';
    report.error = `${failure.error}: ${failure.cause}`;
  }
  await mkdir(outDir, { recursive: true });
  const reportPath = join(outDir, 'report.html');
  await writeFile(reportPath, renderReportHtml(report));
  await writeFile(join(outDir, 'report.json'), `${JSON.stringify({ ...report, baselines }, null, 1)}\n`);
  return {
    runId,
    rounds: finalRound,
    sites: siteCount,
    metric: report.metric,
    federatedMetric: report.rounds.at(-1)?.testMetric ?? null,
    centralizedMetric: baselines?.centralized ?? null,
    siteAloneMeanMetric: baselines?.siteAloneMean ?? null,
    siteAloneMetric: baselines?.siteAlone ?? {},
    seconds: (performance.now() - started) / 1000,
    workflowSeconds,
    status: failure ? 'failed' : 'succeeded',
    error: failure?.error,
    cause: failure?.cause,
    report,
    reportPath,
    outDir,
    storageRoot,
    modelsBucket: deployment.modelsBucket,
    summary,
  };
}

/** Creates the buckets at the endpoint (if missing) and uploads the local buckets' site data. */
async function copyBucketsToEndpoint(root: string, buckets: string[], s3: S3BlobStore, log: (m: string) => void): Promise<void> {
  log(`copying the site data to ${s3.location}`);
  for (const bucket of buckets) {
    try {
      await s3.client.send(new CreateBucketCommand({ Bucket: bucket }));
    } catch (err) {
      const name = (err as Error).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
    }
    const local = new FolderBlobStore(root);
    for (const key of await local.list(bucket, 'data/')) await s3.put(bucket, key, await local.get(bucket, key));
  }
}

/** A failed round surfaces in the run as States.TaskFailed whose cause holds the round's own error. */
function nestedFailure(error: string, cause: string): { error: string; cause: string } {
  try {
    const inner = JSON.parse(cause) as { Error?: string; Cause?: string };
    if (inner.Error) return { error: inner.Error, cause: inner.Cause ?? '' };
  } catch {
    // not JSON: keep as is
  }
  return { error, cause };
}

