// The RunsApi over a local folder written by `fedrad simulate --out <dir>`: the buckets it keeps
// (<dir>/buckets, laid out as S3) and its execution records (<dir>/runs/<runId>/).
import { appendFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Lineage } from '../schemas/lineage.js';
import { FolderBlobStore } from '../storage/folder-store.js';
import { checkRunId, keys } from '../storage/keys.js';
import { RunNotFoundError, UnsupportedRunOperationError } from './errors.js';
import type { RunListItem } from './render-run.js';
import { buildRunView, type RunEvent, type RunStatus, type RunView, selectBestModel } from './run-view.js';
import type { RunsApi, StartedRun } from './runs-api.js';
import { readLineages, readModel, readRunRecord } from './stored-run.js';

/** The execution record simulate keeps beside the buckets (Step Functions keeps this for the cloud). */
export interface LocalExecution {
  runId: string;
  status: RunStatus;
  startedAt: string;
  stoppedAt?: string;
  pid: number;
  roundsPlanned: number;
  sites: string[];
  strategy: string;
  modelsBucket: string;
  error?: string;
  cause?: string;
}

const runDir = (out: string, runId: string) => join(out, 'runs', checkRunId(runId));

/** Writes the execution record and the event log as a local run goes (used by simulate). */
export class LocalRunRecorder {
  private constructor(private readonly dir: string, private exec: LocalExecution) {}

  static async begin(out: string, exec: Omit<LocalExecution, 'status' | 'startedAt' | 'pid'>): Promise<LocalRunRecorder> {
    const dir = runDir(resolve(out), exec.runId);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'events.jsonl'), '');
    const r = new LocalRunRecorder(dir, { ...exec, status: 'running', startedAt: new Date().toISOString(), pid: process.pid });
    await r.save();
    return r;
  }

  private save(): Promise<void> {
    return writeFile(join(this.dir, 'execution.json'), `${JSON.stringify(this.exec, null, 1)}\n`);
  }

  /** appends one event (synchronous order is kept by chaining) */
  private chain: Promise<void> = Promise.resolve();
  record(e: RunEvent): void {
    // the log keeps what the view folds, not the states' whole payloads
    const at = e.at ?? Date.now();
    let slim: RunEvent;
    if (e.type === 'run-prepared') {
      const o = e.output as { runId?: string; rounds?: number; sites?: Array<{ siteId: string }> };
      slim = { type: e.type, at, output: { runId: o.runId, rounds: o.rounds, sites: o.sites?.map((s) => ({ siteId: s.siteId })) } };
    } else if (e.type === 'round-finished') slim = { type: e.type, round: e.round, at, output: { lastRound: (e.output as { lastRound?: unknown }).lastRound ?? null } };
    else slim = { ...e, at };
    this.chain = this.chain.then(() => appendFile(join(this.dir, 'events.jsonl'), `${JSON.stringify(slim)}\n`));
  }

  async end(status: RunStatus, failure?: { error: string; cause: string }): Promise<void> {
    await this.chain;
    this.exec = { ...this.exec, status, stoppedAt: new Date().toISOString(), ...(failure ? { error: failure.error, cause: failure.cause } : {}) };
    await this.save();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readJsonFile<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export class LocalRunsApi implements RunsApi {
  readonly out: string;
  private readonly store: FolderBlobStore;

  constructor(out: string) {
    this.out = resolve(out);
    this.store = new FolderBlobStore(join(this.out, 'buckets'));
  }

  get location(): string {
    return `local folder ${this.out}`;
  }

  private async execution(runId: string): Promise<LocalExecution> {
    const exec = await readJsonFile<LocalExecution>(join(runDir(this.out, runId), 'execution.json'));
    if (!exec) {
      const known = (await this.list(20)).map((r) => r.runId);
      throw new RunNotFoundError(`no run '${runId}' in ${this.location}${known.length ? `; it has ${known.join(', ')}` : '; run `fedrad simulate --out <dir>` first'}`, { runId });
    }
    const stop = await readJsonFile<{ reason: string; at: string }>(join(runDir(this.out, runId), 'stop.json'));
    if (exec.status === 'running' && stop) return { ...exec, status: 'stopped', stoppedAt: stop.at, error: 'stopped', cause: stop.reason };
    if (exec.status === 'running' && !alive(exec.pid)) return { ...exec, status: 'failed', error: 'process ended', cause: `the simulate process (pid ${exec.pid}) ended without recording a result` };
    return exec;
  }

  async start(): Promise<StartedRun> {
    throw new UnsupportedRunOperationError('a local run starts with `fedrad simulate --out <dir>`; `fedrad run start` starts runs of a deployed federation (--federation or --state-machine-arn)');
  }

  async list(limit: number): Promise<RunListItem[]> {
    let ids: string[];
    try {
      ids = await readdir(join(this.out, 'runs'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const items: RunListItem[] = [];
    for (const id of ids) {
      const exec = await readJsonFile<LocalExecution>(join(this.out, 'runs', id, 'execution.json'));
      if (!exec) continue;
      const lineages = await readLineages(this.store, exec.modelsBucket, id).catch(() => [] as Lineage[]);
      const best = selectBestModel(lineages);
      items.push({ runId: id, status: (await this.execution(id)).status, startedAt: exec.startedAt, roundsDone: lineages.length, ...(best ? { bestMetric: best.metric } : {}) });
    }
    return items.sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? '')).slice(0, limit);
  }

  async describe(runId: string): Promise<RunView> {
    const exec = await this.execution(runId);
    const lineages = await readLineages(this.store, exec.modelsBucket, runId);
    const text = await readFile(join(runDir(this.out, runId), 'events.jsonl'), 'utf8').catch(() => '');
    const events = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as RunEvent);
    return buildRunView(
      { runId, source: 'local', status: exec.status, roundsPlanned: exec.roundsPlanned, sites: exec.sites, strategy: exec.strategy, startedAt: exec.startedAt, stoppedAt: exec.stoppedAt, error: exec.error, cause: exec.cause },
      lineages,
      events,
    );
  }

  async stop(runId: string, reason: string): Promise<void> {
    const exec = await this.execution(runId);
    if (exec.status !== 'running') throw new UnsupportedRunOperationError(`run ${runId} is not running (it ${exec.status === 'stopped' ? 'was stopped' : exec.status})`, { runId });
    await writeFile(join(runDir(this.out, runId), 'stop.json'), `${JSON.stringify({ reason, at: new Date().toISOString() })}\n`);
    process.kill(exec.pid, 'SIGTERM');
  }

  async lineage(runId: string): Promise<Lineage[]> {
    return readLineages(this.store, (await this.execution(runId)).modelsBucket, runId);
  }

  async report(runId: string, file: 'index.html' | 'report.json'): Promise<Uint8Array | undefined> {
    const exec = await this.execution(runId);
    // simulate's own report adds the held-out test scores and baselines to finish-run's
    const local = await readFile(join(runDir(this.out, runId), file)).catch(() => undefined);
    if (local) return local;
    return (await this.store.head(exec.modelsBucket, keys.report(runId, file))) ? this.store.get(exec.modelsBucket, keys.report(runId, file)) : undefined;
  }

  async model(runId: string, round: number): Promise<Uint8Array> {
    const exec = await this.execution(runId);
    return readModel(this.store, exec.modelsBucket, runId, round, await readLineages(this.store, exec.modelsBucket, runId), await readRunRecord(this.store, exec.modelsBucket, runId));
  }
}
