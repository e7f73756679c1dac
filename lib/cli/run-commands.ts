// `fedrad run start|list|status|watch|stop|report|models|download`: a researcher's runs, deployed
// (Step Functions + S3, found by federation name or state machine ARN) or local (`--local <out>` of
// `fedrad simulate`). Every command prints text, or one JSON document with --json.
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { InvalidSpecError } from '../errors.js';
import { sha256 } from '../model/onnx-io.js';
import { DeploymentConfigSchema } from '../schemas/deployment-config.js';
import { formatIssues } from '../schemas/format.js';
import type { RunInputRaw } from '../schemas/run-input.js';
import { AccessDeniedError, NoCredentialsError, RunNotFoundError, StackNotDeployedError, WrongRegionError } from '../runs/errors.js';
import { LocalRunsApi } from '../runs/local-runs.js';
import { describePlan, planRun } from '../runs/plan-run.js';
import { renderModels, renderRunFrame, renderRunList, type ModelRow } from '../runs/render-run.js';
import { type RunStatus, type RunView, selectBestModel } from '../runs/run-view.js';
import type { RunsApi } from '../runs/runs-api.js';
import { type FederationLocation, locateFederation, SfnRunsApi } from '../runs/sfn-runs.js';
import { metricOf } from '../federation/report.js';
import { strategyFromCli } from './simulate-command.js';

export interface WhereOptions {
  local?: string;
  federation?: string;
  region?: string;
  stateMachineArn?: string;
  modelsBucket?: string;
  json?: boolean;
}

export interface RunCliDeps {
  /** builds the RunsApi for the options (tests pass their own; default: local folder or AWS) */
  openRuns?: (o: WhereOptions) => Promise<{ api: RunsApi; location?: FederationLocation }>;
  write?: (text: string) => void;
  /** the terminal's width and whether it is one (watch redraws in place on a terminal) */
  terminal?: { isTTY: boolean; columns: () => number; onResize: (fn: () => void) => () => void };
  sleep?: (ms: number) => Promise<void>;
}

/** Exit codes of `run watch` and `run start --wait`: the run's own outcome. */
export const RUN_EXIT: Record<RunStatus, number> = { running: 0, succeeded: 0, failed: 3, stopped: 4, 'timed-out': 5 };

function regionOf(o: WhereOptions): string {
  const fromArn = /^arn:aws[a-z-]*:states:([a-z0-9-]+):/.exec(o.stateMachineArn ?? '')?.[1];
  const region = o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? fromArn;
  if (!region) throw new WrongRegionError('no AWS region: pass --region (e.g. eu-west-2) or set AWS_REGION', {});
  return region;
}

export async function openRuns(o: WhereOptions): Promise<{ api: RunsApi; location?: FederationLocation }> {
  if (o.local) return { api: new LocalRunsApi(o.local) };
  // The SDK warns on every CLI call that its 2027 releases need Node 22; docs/runs.md says so once.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const location = await locateFederation({ region: regionOf(o), federation: o.federation, stateMachineArn: o.stateMachineArn, modelsBucket: o.modelsBucket });
  return { api: new SfnRunsApi({ location }), location };
}

const int = (name: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer of at least ${min}, got '${v}'`);
  return n;
};

function where(cmd: Command): Command {
  return cmd
    .option('--local <out>', 'runs of `fedrad simulate --out <out>` in this folder, instead of a deployed federation')
    .option('--federation <name>', 'the deployed federation (its stacks are fedrad-<name>-*)')
    .option('--region <region>', 'AWS region (default: AWS_REGION)')
    .option('--state-machine-arn <arn>', 'the run state machine, instead of finding it by --federation')
    .option('--models-bucket <bucket>', 'the models bucket, with --state-machine-arn')
    .option('--json', 'print JSON');
}

/** Networks drop and tokens refresh: watch keeps going through these, not through what a person must fix. */
const FATAL = [NoCredentialsError, AccessDeniedError, RunNotFoundError, StackNotDeployedError, WrongRegionError];

/** Where JSON.parse stopped, without quoting the file (its message may carry a slice of it). */
const jsonErrorAt = (err: unknown) => {
  const at = /position (\d+)/.exec((err as Error).message)?.[1];
  return at ? ` (at character ${at})` : '';
};

/** A named run input from the deployment config's `presets`. */
async function presetFrom(name: string, configPath: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch {
    throw new InvalidSpecError(`--preset ${name}: cannot read the deployment config ${configPath}; name it with --config`);
  }
  const parsed = DeploymentConfigSchema.safeParse((() => {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new InvalidSpecError(`${configPath} is not valid JSON${jsonErrorAt(err)}`);
    }
  })());
  if (!parsed.success) throw new InvalidSpecError(`${configPath}: ${formatIssues(parsed.error)}`);
  const presets = parsed.data.presets ?? {};
  const preset = presets[name];
  if (!preset) throw new InvalidSpecError(`no preset '${name.slice(0, 40)}' in ${configPath}; it has ${Object.keys(presets).join(', ') || 'none (add "presets": {"<name>": {<run input>}})'}`);
  return { ...preset };
}

async function runInputFrom(o: { input?: string; preset?: string; config: string; rounds?: number; sites?: string; strategy?: string; strategyOptions?: string; runId?: string; localSteps?: number }): Promise<RunInputRaw & { runId: string }> {
  if (o.input && o.preset) throw new InvalidSpecError('use --input or --preset, not both');
  let raw: Record<string, unknown> = o.preset ? await presetFrom(o.preset, o.config) : {};
  if (o.input) {
    const text = o.input.trim().startsWith('{') ? o.input : await readFile(o.input, 'utf8');
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new InvalidSpecError(`--input must be a JSON run input (a file or '{...}'): it is not valid JSON${jsonErrorAt(err)}`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InvalidSpecError('--input must be a JSON object (the run input: see docs/run-input.md)');
  }
  if (o.rounds !== undefined) raw.rounds = o.rounds;
  if (o.sites) raw.sites = o.sites.split(',').filter(Boolean);
  if (o.strategy) raw.strategy = strategyFromCli(o.strategy, o.strategyOptions);
  if (o.localSteps !== undefined) raw.training = { ...(raw.training as object | undefined), localSteps: o.localSteps };
  const runId = o.runId ?? (raw.runId as string | undefined) ?? `run-${new Date().toISOString().replace(/[^0-9]/g, '').slice(0, 14)}`;
  return { ...(raw as RunInputRaw), runId };
}

export function addRunCommands(program: Command, deps: RunCliDeps = {}): void {
  const write = deps.write ?? ((t: string) => void process.stdout.write(t));
  const open = deps.openRuns ?? openRuns;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const terminal = deps.terminal ?? {
    isTTY: Boolean(process.stdout.isTTY),
    columns: () => process.stdout.columns ?? 120,
    onResize: (fn: () => void) => {
      process.stdout.on('resize', fn);
      return () => void process.stdout.off('resize', fn);
    },
  };
  const json = (v: unknown) => write(`${JSON.stringify(v)}\n`);

  async function watch(api: RunsApi, runId: string, o: { json?: boolean; interval: number }): Promise<RunView> {
    let view: RunView | undefined;
    let last = '';
    let trouble = '';
    const draw = () => {
      if (o.json) return;
      if (!view) return void (trouble && write(`${trouble}\n`));
      const frame = renderRunFrame(view, { width: terminal.columns() }) + (trouble ? `\n\n${trouble}` : '');
      if (terminal.isTTY) write(`\x1b[H\x1b[2J${frame}\n`);
      else if (frame !== last) write(`${frame}\n\n`);
      last = frame;
    };
    const off = terminal.onResize(draw);
    try {
      for (let failures = 0; ; ) {
        try {
          view = await api.describe(runId);
          failures = 0;
          trouble = '';
        } catch (err) {
          if (FATAL.some((E) => err instanceof E) || ++failures > 30) throw err;
          trouble = `reconnecting (${failures}): ${(err as Error).message.slice(0, 160)}`;
        }
        if (o.json && view) json(view);
        draw();
        if (view && view.status !== 'running') return view;
        await sleep(trouble ? Math.min(30_000, 1000 * 2 ** failures) : o.interval * 1000);
      }
    } finally {
      off();
    }
  }

  const run = program.command('run').description("start, watch and compare runs: a deployed federation's (--federation) or local ones (--local <out> of fedrad simulate)");

  where(run.command('start'))
    .description('check a run input against the same rules as Prepare run, show what will run, and start it')
    .option('--input <file|json>', 'the run input (JSON file or inline)')
    .option('--preset <name>', "a named run input from the deployment config's presets (flags override its fields)")
    .option('--config <file>', 'the deployment config holding the presets', 'fedrad.config.json')
    .option('--run-id <id>', 'the run id (also the execution name)')
    .option('--rounds <n>', 'rounds', int('--rounds', 1))
    .option('--sites <ids>', 'comma-separated sites taking part (default: every site)')
    .option('--strategy <name>', 'aggregation strategy')
    .option('--strategy-options <json>', "the strategy's parameters as JSON")
    .option('--local-steps <n>', 'local optimizer steps a round', int('--local-steps', 1))
    .option('--dry-run', 'check and show the plan, start nothing')
    .option('--wait', 'then watch the run until it ends (exit code: the run outcome)')
    .option('--interval <s>', 'seconds between refreshes with --wait (default 10)', int('--interval', 1))
    .action(async (o: WhereOptions & { input?: string; preset?: string; config: string; runId?: string; rounds?: number; sites?: string; strategy?: string; strategyOptions?: string; localSteps?: number; dryRun?: boolean; wait?: boolean; interval?: number; json?: boolean }) => {
      const input = await runInputFrom(o);
      // the shape is checked before any AWS call; the sites once the stack names them
      const { api, location } = await open(o);
      const deploymentSites = location?.sites ?? (input.sites as string[] | undefined);
      if (!deploymentSites) throw new InvalidSpecError('the deployment\'s sites are unknown (the stack does not list them): name them with --sites or "sites" in the run input');
      const plan = planRun(input, deploymentSites);
      if (!o.json) write(`${describePlan(plan)}\n`);
      if (o.dryRun) {
        if (o.json) json({ plan });
        return;
      }
      const started = await api.start(input);
      if (o.json) json({ plan, ...started });
      else write(`started ${started.runId}: ${started.location}\n`);
      if (o.wait) process.exitCode = RUN_EXIT[(await watch(api, started.runId, { interval: o.interval ?? 10 })).status];
    });

  where(run.command('list'))
    .description('recent runs: status, rounds done, best validation metric')
    .option('--limit <n>', 'how many', int('--limit', 1), 20)
    .action(async (o: WhereOptions & { limit: number }) => {
      const items = await (await open(o)).api.list(o.limit);
      if (o.json) json(items);
      else write(`${renderRunList(items)}\n`);
    });

  where(run.command('status <runId>'))
    .description("the run's rounds x sites, best model, and outcome")
    .action(async (runId: string, o: WhereOptions) => {
      const view = await (await open(o)).api.describe(runId);
      if (o.json) json(view);
      else write(`${renderRunFrame(view, { width: terminal.columns() })}\n`);
    });

  where(run.command('watch <runId>'))
    .description('follow a run live until it ends; exits with its outcome (0 succeeded, 3 failed, 4 stopped, 5 timed out)')
    .option('--interval <s>', 'seconds between refreshes (default 10; 2 with --local)', int('--interval', 1))
    .action(async (runId: string, o: WhereOptions & { interval?: number }) => {
      process.exitCode = RUN_EXIT[(await watch((await open(o)).api, runId, { ...o, interval: o.interval ?? (o.local ? 2 : 10) })).status];
    });

  where(run.command('stop <runId>'))
    .description('stop a running run; the reason is recorded with it')
    .requiredOption('--reason <text>', 'why (kept in the execution record)')
    .action(async (runId: string, o: WhereOptions & { reason: string }) => {
      await (await open(o)).api.stop(runId, o.reason);
      if (o.json) json({ runId, stopped: true, reason: o.reason });
      else write(`stopped ${runId}: ${o.reason}\n`);
    });

  where(run.command('report <runId>'))
    .description("save the run's HTML report (offline, one file) and print its path; --json prints the report data")
    .option('--out <file>', 'where to save it (default: <runId>-report.html)')
    .action(async (runId: string, o: WhereOptions & { out?: string }) => {
      const { api } = await open(o);
      const file = o.json ? 'report.json' : 'index.html';
      const bytes = await api.report(runId, file);
      if (!bytes) throw new RunNotFoundError(`run ${runId} has no report yet (it is written when the run finishes); \`fedrad run status ${runId}\` shows it so far`, { runId });
      if (o.json) return void write(`${JSON.stringify(JSON.parse(new TextDecoder().decode(bytes)))}\n`);
      const path = resolve(o.out ?? `${runId}-report.html`);
      await writeFile(path, bytes);
      write(`${path}\n`);
    });

  where(run.command('models <runId>'))
    .description("the run's global models: hash, the sites' weighted validation metric, and the best")
    .action(async (runId: string, o: WhereOptions) => {
      const lineages = await (await open(o)).api.lineage(runId);
      const best = selectBestModel(lineages);
      const scored = new Map(lineages.map((l) => [l.parentRound, metricOf(l.parentMetrics)]));
      const metric = lineages.some((l) => 'dice' in l.parentMetrics) ? 'dice' : 'accuracy';
      const first = lineages.find((l) => l.parentRound === 0);
      const rows: ModelRow[] = [...(first ? [{ round: 0, sha256: first.parentSha256 }] : []), ...lineages.map((l) => ({ round: l.round, sha256: l.modelSha256 }))].map((m) => {
        const s = scored.get(m.round);
        return { ...m, ...(s ? { metric: s[1] } : {}), best: best?.round === m.round };
      });
      if (o.json) json({ runId, metric, best: best ?? null, models: rows });
      else write(`${renderModels(metric, rows)}\n${best ? `best: model ${best.round} (${best.basis})` : 'best: none yet (a model is scored by the sites that train on it in the next round)'}\n`);
    });

  where(run.command('download <runId>'))
    .description('save a global model (ONNX), checked against the hash lineage records')
    .addOption(new Option('--round <n>', 'the model of this round (0: initial)').argParser(int('--round', 0)).conflicts('best'))
    .option('--best', 'the best model (see `fedrad run models`)')
    .option('--out <file>', 'where to save it (default: <runId>-model-<n>.onnx)')
    .action(async (runId: string, o: WhereOptions & { round?: number; best?: boolean; out?: string }) => {
      const { api } = await open(o);
      let round = o.round;
      if (o.best) {
        const best = selectBestModel(await api.lineage(runId));
        if (!best) throw new RunNotFoundError(`run ${runId} has no scored model yet: a model is scored by the sites that train on it in the next round; use --round`, { runId });
        round = best.round;
      }
      if (round === undefined) throw new InvalidSpecError('name the model: --round <n> or --best');
      const bytes = await api.model(runId, round);
      const path = resolve(o.out ?? `${runId}-model-${round}.onnx`);
      await writeFile(path, bytes);
      if (o.json) json({ runId, round, path, sha256: sha256(bytes), bytes: bytes.length });
      else write(`${path}  model ${round}  sha256 ${sha256(bytes)} (matches lineage)\n`);
    });
}
