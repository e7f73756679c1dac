// `fedrad simulate`: a whole federation on this machine with the cloud's code. Writes synthetic
// sites into local buckets, computes the centralized and site-alone baselines on the same data,
// synthesizes the CDK app, runs its state machines locally (functions in-process, training jobs as
// child processes with the container's environment), then scores every global model on the
// held-out test set and writes the report.

import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
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
import { decodeModel, sha256 } from '../../lib/model/onnx-io.js';
import { prepareBroughtModel } from '../../lib/federation/run-model.js';
import { InvalidSpecError } from '../../lib/errors.js';
import { type DeploymentConfig, DeploymentConfigSchema } from '../../lib/schemas/deployment-config.js';
import type { RunInputRaw } from '../../lib/schemas/run-input.js';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import type { BlobStore } from '../../lib/storage/blob-store.js';
import { FolderBlobStore } from '../../lib/storage/folder-store.js';
import { S3BlobStore } from '../../lib/storage/s3-store.js';
import { keys } from '../../lib/storage/keys.js';
import { type JobLauncher, runLocalWorkflow, type WorkflowEvent, WorkflowFailedError } from '../../lib/workflow/local-runner.js';
import type { SimulationSummary } from '../../lib/workflow/simulation.js';
import type { SiteCompute } from '../../lib/schemas/deployment-config.js';
import type { SitePolicy } from '../../lib/site/policy.js';
import { withLocalAccounts } from '../../lib/storage/local-accounts.js';
import { LocalTaskQueues } from '../../lib/workflow/local-task-queues.js';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../../lib/workflow/resolve-template.js';
import { LocalAgents, localAccounts, permissivePolicy, siteLayouts, writeSitePolicies } from './site-modes.js';
import { synthesizeLocalAside } from './synth-local.js';
import { AGGREGATION_ENTRYPOINT, noopLauncher, pooledProcessLauncher, processLauncher, withFailingSites, withSiteAccountJobs } from './trainers.js';
import { LocalRunRecorder } from '../../lib/runs/local-runs.js';
import { planRun } from '../../lib/runs/plan-run.js';

export interface SimulateOptions {
  sites?: number;
  rounds?: number;
  model?: 'cnn-classifier' | 'unet-segmenter' | 'unet3d-segmenter';
  /** an ONNX model file to federate instead of a zoo model (uploaded to the models bucket as the run's model) */
  modelFile?: string;
  /** the brought model's task (default: what its output shape says) */
  task?: 'classification' | 'segmentation';
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
  /** where each site trains, by position (sites beyond the list train centrally) */
  siteModes?: SiteCompute[];
  /** site policies of placed sites by site id: a policy, raw file text, or null for none (default: one that allows the run) */
  sitePolicies?: Record<string, SitePolicy | string | null>;
  /** HeartbeatSeconds of the agents' task state (default 60), and the agents' beat interval */
  agentHeartbeatSeconds?: number;
  agentBeatSeconds?: number;
  /** fault injection: kill an on-premises site's agent (and its training) `afterMs` after it starts training a round's task, then restart it */
  killAgents?: Array<{ siteId: string; round: number; afterMs?: number }>;
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
  // A brought model fixes the input size; its task decides the metric and the baselines' loss.
  const brought = o.modelFile ? await readBroughtModel(o.modelFile, o.task) : undefined;
  // 3D defaults sized for a 2-core machine: 16^3 patches (32 mm at 2 mm), width 8, depth 2, batch 2, 40 steps a round
  const inputSize = brought?.inputSize ?? o.inputSize ?? (volumetric ? 16 : 64);
  const model3d = { channels: o.channels ?? 2, width: o.width ?? 8, depth: o.depth ?? 2, norm: 'instance' as const };
  const volumes = { min: o.minVolumes ?? 4, max: o.maxVolumes ?? 8, test: o.testVolumes ?? 4 };
  const localSteps = o.localSteps ?? (volumetric ? 40 : undefined);
  const concurrency = o.concurrency ?? Math.max(1, Math.min(siteCount, availableParallelism()));
  const outDir = resolve(o.out ?? '.fedrad/simulate');
  const storageRoot = join(outDir, 'buckets');
  const modes = o.siteModes ?? [];
  if (modes.length > siteCount) throw new InvalidSpecError(`${modes.length} site modes given for ${siteCount} sites: give at most one mode per site`);
  const config: DeploymentConfig = DeploymentConfigSchema.parse({
    federation: FEDERATION,
    sites: Array.from({ length: siteCount }, (_, i) => ({ id: `site-${i + 1}`, displayName: `Synthetic site ${i + 1}`, compute: modes[i] ?? 'central', ...(modes[i] === 'site-account' ? { account: `1${String(i + 1).padStart(11, '0')}` } : {}) })),
    ...(modes.includes('site-account') ? { centralAccount: LOCAL_ACCOUNT, region: LOCAL_REGION } : {}),
    agentHeartbeatSeconds: o.agentHeartbeatSeconds ?? 60,
    trainingConcurrency: concurrency,
  });
  const runId = o.runId ?? `sim-${new Date().toISOString().replace(/[^0-9]/g, '').slice(0, 14)}`;
  const model: RunInputRaw['model'] = brought ? { onnx: { key: brought.key, sha256: brought.sha256 }, ...(o.task ? { task: o.task } : {}) } : { zoo, inputSize, seed: 0, ...(volumetric ? model3d : {}), ...(o.norm ? { norm: o.norm } : {}) };
  const input: RunInputRaw = { runId, rounds, model, training: { epochs, ...(localSteps ? { localSteps } : {}), batchSize: volumetric ? 2 : 32, seed, optimizer: { type: 'adam', learningRate } }, ...(o.minSites ? { minSites: o.minSites } : {}), ...(o.strategyConfig ? { strategy: o.strategyConfig } : {}), ...(o.gate ? { gate: o.gate } : {}), ...(o.aggregation ? { aggregation: o.aggregation } : {}) };
  // Refuse a run Prepare run would refuse before spending minutes on data and baselines.
  const plan = planRun(input, config.sites.map((s) => s.id), brought ? { bytes: brought.bytes.length } : undefined);
  // The CDK app synthesizes in a child process (the site layouts need its bucket names).
  const deployment = await synthesizeLocalAside(config);
  const bucketOf = new Map(deployment.sites.map((s) => [s.siteId, s.bucket]));
  const layouts = siteLayouts(outDir, storageRoot, deployment.sites);
  const layoutOf = new Map(layouts.map((l) => [l.siteId, l]));

  // Synthetic data in the site buckets' data/ prefix; reused when the same federation is asked again.
  const dataKey = JSON.stringify(volumetric ? { siteCount, seed, volumes, channels: model3d.channels, v: '3d-1', ...(modes.length ? { modes } : {}) } : { siteCount, seed, min: o.minImages ?? 100, max: o.maxImages ?? 1000, test: o.testImages ?? 400, inputSize, v: 1, ...(modes.length ? { modes } : {}) });
  const marker = join(outDir, 'federation.json');
  if ((await readJson<{ key: string }>(marker))?.key !== dataKey) {
    await rm(outDir, { recursive: true, force: true });
    if (volumetric) {
      log(`writing ${siteCount} synthetic 3D sites (NIfTI) into ${storageRoot}`);
      await synthesizeFederation3d({ out: outDir, sites: siteCount, seed, channels: model3d.channels, minVolumes: volumes.min, maxVolumes: volumes.max, testVolumes: volumes.test, siteDir: (id) => layoutOf.get(id)!.siteDir });
    } else {
      log(`writing ${siteCount} synthetic sites (DICOM) into ${storageRoot}`);
      await synthesizeFederation({ out: outDir, sites: siteCount, seed, minImages: o.minImages ?? 100, maxImages: o.maxImages ?? 1000, testImages: o.testImages ?? 400, inputSize, siteDir: (id) => layoutOf.get(id)!.siteDir });
    }
    await writeFile(marker, JSON.stringify({ key: dataKey }));
  } else {
    // Each run is new: clear earlier runs' models, updates and records, keep the data.
    await rm(join(storageRoot, deployment.modelsBucket), { recursive: true, force: true });
    await rm(join(outDir, 'runs'), { recursive: true, force: true });
    for (const l of layouts) await rm(join(l.accountRoot ?? storageRoot, l.bucket, 'updates'), { recursive: true, force: true });
  }
  const testDataDir = join(outDir, TEST_SITE_ID, 'data');
  // The execution record `fedrad run ... --local` reads (Step Functions keeps it in the cloud).
  const recorder = await LocalRunRecorder.begin(outDir, { runId, roundsPlanned: rounds, sites: plan.sites, strategy: plan.strategy.type, modelsBucket: deployment.modelsBucket });

  let baselines: Baselines | undefined;
  if (o.baselines ?? true) {
    const baselineKey = `${dataKey}|${brought?.sha256 ?? zoo}|${o.norm ?? 'batch'}|${localSteps ? `${rounds * localSteps} steps` : rounds * epochs}|${learningRate}${volumetric ? `|${JSON.stringify(model3d)}|${inputSize}` : ''}`;
    const cached = await readJson<{ key: string; baselines: Baselines }>(join(outDir, 'baselines.json'));
    if (cached?.key === baselineKey) baselines = cached.baselines;
    else {
      log('computing baselines: centralized and each site alone');
      baselines = volumetric ? await computeBaselines3d({
        sites: layouts.map((l) => ({ siteId: l.siteId, dataDir: l.dataDir })),
        testDataDir,
        zoo,
        model: { seed: 0, inputSize, ...model3d },
        spec: { localSteps: rounds * localSteps!, batchSize: 2, seed, optimizer: { type: 'adam', learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } },
        log,
      }) : await computeBaselines({
        sites: layouts.map((l) => ({ siteId: l.siteId, dataDir: l.dataDir })),
        testDataDir,
        zoo,
        ...(brought ? { model: brought.model } : {}),
        norm: o.norm,
        spec: { ...(o.localSteps ? { localSteps: rounds * o.localSteps } : { epochs: rounds * epochs }), optimizer: { type: 'adam', learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } },
        log,
        concurrency,
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
  // Sites in their own "accounts": the central functions reach only their updates/.
  const accounts = localAccounts(layouts, true);
  if (Object.keys(accounts).length && o.s3Endpoint) throw new InvalidSpecError('site-account sites simulate their accounts as local folders: drop --s3-endpoint, or use central and on-premises sites only');
  if (Object.keys(accounts).length) process.env.FEDRAD_LOCAL_ACCOUNTS = JSON.stringify(accounts);
  else delete process.env.FEDRAD_LOCAL_ACCOUNTS;
  // On-premises sites: local task queues for the round's callbacks, and one agent process per site.
  const queues = layouts.some((l) => l.compute === 'on-premises') ? new LocalTaskQueues() : undefined;
  if (queues) {
    await queues.start();
    for (const s of deployment.sites.filter((x) => x.compute === 'on-premises')) s.queueUrl = queues.queueUrl(`fedrad-${FEDERATION}-${s.siteId}-tasks`);
  }
  Object.assign(process.env, { ...storageEnv, FEDRAD_MODELS_BUCKET: deployment.modelsBucket, FEDRAD_SITES: JSON.stringify(deployment.sites) });
  const centralStore: BlobStore = o.s3Endpoint ? new S3BlobStore({ endpoint: o.s3Endpoint }) : new FolderBlobStore(storageRoot);
  // what a site's own job may reach: everything of its own account
  const store: BlobStore = Object.keys(accounts).length ? withLocalAccounts(centralStore, localAccounts(layouts, false)) : centralStore;
  const policies = await writeSitePolicies(layouts, outDir, permissivePolicy(zoo, rounds), o.sitePolicies);
  // Training jobs on warm runner processes, one per concurrent job (no process start per job).
  const pool = o.trainer === 'noop' ? undefined : pooledProcessLauncher({ ...storageEnv, FEDRAD_THREADS: threads }, concurrency);
  let launcher: JobLauncher = pool ? pool.launch : noopLauncher(store);
  // a site-account job runs under its hospital's job definition: its account's buckets, its policy
  launcher = withSiteAccountJobs(launcher, localAccounts(layouts, false));
  const agents = new LocalAgents(log, o.killAgents);
  for (const l of layouts.filter((x) => x.compute === 'on-premises')) {
    await agents.start(l, { queueUrl: deployment.sites.find((s) => s.siteId === l.siteId)!.queueUrl!, endpoint: queues!.endpoint, storageRoot, policyFile: policies.get(l.siteId)!, heartbeatSeconds: o.agentBeatSeconds ?? Math.min(5, config.agentHeartbeatSeconds / 4), threads: Number(threads), outDir });
  }
  if (o.failSites?.length) launcher = withFailingSites(launcher, o.failSites);
  if (o.wrapLauncher) launcher = o.wrapLauncher(launcher, store);
  if (brought) await store.put(deployment.modelsBucket, brought.key, brought.bytes);
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
      agentTasks: queues,
      input,
      executionName: runId,
      onEvent: (e) => {
        recorder.record(e);
        if (e.type === 'round-finished') finalRound = (e.output as RoundState).round;
        o.onEvent?.(e);
      },
    })) as RunSummary;
    finalRound = summary.rounds;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) {
      await recorder.end('failed', { error: (err as Error).name, cause: (err as Error).message });
      throw err;
    }
    failure = nestedFailure(err.error, err.causeText);
  } finally {
    await agents.stop();
    await queues?.stop();
    pool?.close();
  }
  const workflowSeconds = (performance.now() - workflowStarted) / 1000;

  // Score every global model on the held-out test set (what the sites' metrics cannot show).
  const report = finalRound > 0 ? await loadRunReport(store, deployment.modelsBucket, runId, finalRound) : { runId, metric: (brought ? brought.task === 'segmentation' : zoo === 'unet-segmenter' || volumetric) ? 'dice' : 'accuracy', rounds: [], status: 'failed' as const };
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
  if (baselines) report.baselines = { centralized: baselines.centralized, siteAloneMean: baselines.siteAloneMean, siteAlone: baselines.siteAlone };
  if (failure) {
    report.status = 'failed';
    report.error = `${failure.error}: ${failure.cause}`;
  }
  await mkdir(outDir, { recursive: true });
  const reportPath = join(outDir, 'report.html');
  await writeFile(reportPath, renderReportHtml(report));
  await writeFile(join(outDir, 'report.json'), `${JSON.stringify({ ...report, baselines }, null, 1)}\n`);
  await writeFile(join(outDir, 'runs', runId, 'index.html'), renderReportHtml(report));
  await writeFile(join(outDir, 'runs', runId, 'report.json'), `${JSON.stringify({ ...report, baselines }, null, 1)}\n`);
  await recorder.end(failure ? 'failed' : 'succeeded', failure);
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

/** The brought model file: its bytes, hash, object key, input size and task. */
async function readBroughtModel(file: string, task?: 'classification' | 'segmentation') {
  const bytes = new Uint8Array(await readFile(file));
  const { model } = prepareBroughtModel(bytes, file, { task });
  const size = model.graph.inputs[0]?.shape.at(-1);
  if (typeof size !== 'number' || model.graph.inputs[0].shape.length !== 4) {
    throw new InvalidSpecError(`${file}: simulate's synthetic sites hold 2-D single-channel images, so the model's input must be [N, 1, H, W] with a fixed square size; it is [${model.graph.inputs[0]?.shape.join(', ')}]`, { file });
  }
  return { bytes, sha256: sha256(bytes), key: `models/${basename(file).replace(/[^A-Za-z0-9._-]/g, '_')}`, inputSize: size, task: model.metadata['fedrad.task'] as 'classification' | 'segmentation', model };
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

