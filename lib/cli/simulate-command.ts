// `fedrad simulate`: options, progress while it runs, the summary table and the JSON line.
// The simulation itself is injected by the entry point (it wires the CDK app and the functions).
import { type Command, InvalidArgumentError, Option } from 'commander';
import { InvalidSpecError } from '../errors.js';
import { type StrategyInput, StrategySchema } from '../schemas/strategy.js';
import { describeStrategyReport } from '../federation/report.js';
import type { WorkflowEvent } from '../workflow/local-runner.js';
import { LiveRun, type LiveTerminal, stderrTerminal } from '../runs/live-run.js';
import type { SimulationSummary } from '../workflow/simulation.js';

export interface SimulateCliOptions {
  sites: number;
  rounds: number;
  model: 'cnn-classifier' | 'unet-segmenter' | 'unet3d-segmenter';
  /** an ONNX file given as --model ./my-net.onnx */
  modelFile?: string;
  task?: 'classification' | 'segmentation';
  /** unet3d-segmenter: MR sequences per volume, patch edge, network width and depth, volumes per site */
  channels?: number;
  inputSize?: number;
  width?: number;
  depth?: number;
  minVolumes?: number;
  maxVolumes?: number;
  /** the strategy with its parameters, as the run input takes it (from --strategy and --strategy-options) */
  strategyConfig?: StrategyInput;
  seed: number;
  concurrency?: number;
  out: string;
  epochs: number;
  localSteps?: number;
  minImages: number;
  maxImages: number;
  minSites?: number;
  failSites?: string[];
  /** where each site trains, by position (central, site-account, on-premises) */
  siteModes?: Array<'central' | 'site-account' | 'on-premises'>;
  s3Endpoint?: string;
  json?: boolean;
  onEvent?: (e: WorkflowEvent) => void;
  log?: (m: string) => void;
}

export type SimulateCliResult = SimulationSummary;

export type SimulateFn = (o: SimulateCliOptions) => Promise<SimulateCliResult>;

const int = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got '${v}'`);
  return n;
};

const SITE_MODES = ['central', 'site-account', 'on-premises'] as const;
/** --site-modes central,site-account,on-premises */
export function siteModes(v: string): Array<(typeof SITE_MODES)[number]> {
  const modes = v.split(',').map((m) => m.trim());
  const bad = modes.find((m) => !(SITE_MODES as readonly string[]).includes(m));
  if (bad !== undefined) throw new InvalidArgumentError(`--site-modes takes ${SITE_MODES.join(', ')} separated by commas, got ${JSON.stringify(bad.slice(0, 40))}`);
  return modes as Array<(typeof SITE_MODES)[number]>;
}

const STRATEGY_TYPES = StrategySchema.options.map((o) => o.shape.type.value);

/** --strategy and --strategy-options as one strategy, checked against the run input's schema. */
export function strategyFromCli(type: string, optionsJson: string | undefined): StrategyInput {
  let options: object = {};
  if (optionsJson !== undefined) {
    try {
      options = JSON.parse(optionsJson) as object;
    } catch (err) {
      throw new InvalidSpecError(`--strategy-options must be a JSON object such as '{"f":1}', got '${optionsJson}' (${(err as Error).message})`);
    }
    if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new InvalidSpecError(`--strategy-options must be a JSON object such as '{"f":1}', got '${optionsJson}'`);
    if ('type' in options) throw new InvalidSpecError('--strategy-options must not name the type: use --strategy');
  }
  const parsed = StrategySchema.safeParse({ ...options, type });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'options'}: ${i.message}`).join('; ');
    throw new InvalidSpecError(`--strategy ${type} --strategy-options ${optionsJson ?? '{}'}: ${problems}`);
  }
  return { ...options, type } as StrategyInput;
}

const f4 = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toFixed(4));

export function summaryTable(r: SimulateCliResult): string {
  const sites = [...new Set(r.report.rounds.flatMap((x) => Object.keys(x.siteMetrics)))].sort();
  const notes = r.report.rounds.some((x) => x.strategyReport);
  const privacy = r.report.rounds.some((x) => x.privacy);
  const head = ['round', 'accepted', 'rejected', 'failed', `test ${r.metric}`, 'test AUC', 'sites (weighted)', ...sites, ...(privacy ? ['epsilon'] : []), ...(notes ? ['strategy'] : [])];
  const rows = r.report.rounds.map((x) => [
    String(x.round), String(x.accepted.length), String(x.rejected.length), String(x.failed.length), f4(x.testMetric), f4(x.testRocAuc), f4(x.globalMetric), ...sites.map((s) => f4(x.siteMetrics[s])),
    ...(privacy ? [f4(x.privacy?.epsilon)] : []), ...(notes ? [describeStrategyReport(x.strategyReport) || '-'] : []),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) => row.map((c, i) => c.padStart(widths[i])).join('  ');
  const lines = [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)];
  if (r.report.rounds.length) lines.push('', `strategy: ${[...new Set(r.report.rounds.map((x) => x.strategy))].join(', ')}${privacy ? ` (epsilon at delta ${r.report.rounds.find((x) => x.privacy)!.privacy!.delta})` : ''}`);
  lines.push(`(sites' columns: the incoming global model on each site's validation split, as the sites reported it)`);
  lines.push(`federated ${r.metric} ${f4(r.federatedMetric)}   centralized ${f4(r.centralizedMetric)}   site-alone mean ${f4(r.siteAloneMeanMetric)} (${Object.entries(r.siteAloneMetric).map(([s, v]) => `${s} ${v.toFixed(3)}`).join(', ')})`);
  for (const a of r.report.advice ?? []) lines.push(`advice: ${a}`);
  if (r.status === 'failed') lines.push(`run FAILED: ${r.error}: ${r.cause}`);
  lines.push(`report: ${r.reportPath}   (${r.seconds.toFixed(1)} s)`);
  return lines.join('\n');
}

const ZOO = ['cnn-classifier', 'unet-segmenter', 'unet3d-segmenter'];
function modelOption(value: string): string {
  if (ZOO.includes(value) || value.endsWith('.onnx')) return value;
  throw new InvalidArgumentError(`--model takes a zoo model (${ZOO.join(', ')}) or an ONNX file ending in .onnx, got '${value.slice(0, 80)}'`);
}

export function addSimulateCommand(program: Command, simulate: SimulateFn, terminal: () => LiveTerminal = stderrTerminal): void {
  program
    .command('simulate')
    .description('run a whole federation on this machine: the same state machine, functions and training job as the cloud, on synthetic DICOM sites')
    .option('--sites <n>', 'number of sites', int('--sites', 1, 50), 4)
    .option('--rounds <n>', 'federated rounds', int('--rounds', 1, 1000), 5)
    .option('--model <zoo|file.onnx>', 'zoo model (cnn-classifier | unet-segmenter | unet3d-segmenter), or an ONNX file to federate (see docs/bring-your-own-model.md)', modelOption, 'cnn-classifier')
    .addOption(new Option('--task <task>', "a brought model's task (default: what its output shape says)").choices(['classification', 'segmentation']))
    .option('--channels <n>', 'unet3d-segmenter: MR sequences per synthetic volume (default 2)', int('--channels', 1, 4))
    .option('--patch <n>', 'unet3d-segmenter: cubic patch edge in voxels at 2 mm (default 16)', int('--patch', 8, 128))
    .option('--width <n>', 'unet3d-segmenter: channels of the first stage (default 8)', int('--width', 1, 64))
    .option('--depth <n>', 'unet3d-segmenter: down-sampling stages (default 2)', int('--depth', 1, 4))
    .option('--min-volumes <n>', 'unet3d-segmenter: volumes at the smallest site (default 4)', int('--min-volumes', 1, 10000))
    .option('--max-volumes <n>', 'unet3d-segmenter: volumes at the largest site (default 8)', int('--max-volumes', 1, 10000))
    .addOption(new Option('--strategy <name>', 'aggregation strategy').choices(STRATEGY_TYPES).default('fedavg'))
    .option('--strategy-options <json>', `the strategy's parameters as JSON, e.g. '{"f":1}' for krum, '{"beta":0.2}' for trimmed-mean, '{"clipNorm":5}' for any`)
    .option('--seed <n>', 'seed of the synthetic data', int('--seed', 0, 2 ** 31), 7)
    .option('--concurrency <n>', 'site jobs at once (default: the cores, at most the sites)', int('--concurrency', 1, 50))
    .option('--epochs <n>', 'local epochs per round', int('--epochs', 1, 100), 1)
    .option('--local-steps <n>', 'local optimizer steps per round instead of epochs (every site moves the model as far)', int('--local-steps', 1, 100000))
    .option('--min-images <n>', 'images at the smallest site', int('--min-images', 10, 100000), 100)
    .option('--max-images <n>', 'images at the largest site', int('--max-images', 10, 100000), 1000)
    .option('--min-sites <n>', 'accepted updates a round needs', int('--min-sites', 1, 50))
    .option('--fail-sites <ids>', 'comma-separated sites whose training jobs fail (fault injection)', (v: string) => v.split(',').filter(Boolean))
    .option('--site-modes <modes>', 'where each site trains, in site order: comma-separated central, site-account or on-premises (sites beyond the list: central); see docs/site-compute.md', siteModes)
    .option('--out <dir>', 'output folder (buckets, report)', '.fedrad/simulate')
    .option('--s3-endpoint <url>', 'use an S3-compatible endpoint (LocalStack, MinIO) instead of the local folder; buckets are created there')
    .option('--json', 'print one JSON object as the last line')
    .action(async ({ strategy, strategyOptions, patch, ...o }: Omit<SimulateCliOptions, 'strategyConfig'> & { strategy: string; strategyOptions?: string; patch?: number }) => {
      if (patch !== undefined) o.inputSize = patch;
      if (o.localSteps !== undefined && o.epochs !== 1) throw new InvalidSpecError('set either --epochs or --local-steps, not both');
      const strategyConfig = strategyFromCli(strategy, strategyOptions);
      if (o.model.endsWith('.onnx')) Object.assign(o, { modelFile: o.model, model: 'cnn-classifier' });
      else if (o.task) throw new InvalidSpecError('--task applies to a brought model (--model ./file.onnx); a zoo model knows its task');
      const live = new LiveRun('(starting)', Array.from({ length: o.sites }, (_, i) => `site-${i + 1}`), o.rounds, terminal(), { quiet: Boolean(o.json) });
      let result: SimulateCliResult;
      try {
        result = await simulate({ ...o, strategyConfig, onEvent: live.onEvent, log: live.log });
        live.view.runId = result.runId;
        live.stop(result.status);
      } catch (err) {
        live.stop('failed');
        throw err;
      }
      if (!o.json) process.stdout.write(`\n${summaryTable(result)}\n`);
      else {
        const { report, ...rest } = result;
        process.stdout.write(`${JSON.stringify({ ...rest, ...(report.advice ? { advice: report.advice } : {}) })}\n`);
      }
      if (result.status === 'failed') process.exitCode = 3;
    });
}
