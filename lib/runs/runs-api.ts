// The RunsApi port: runs seen from outside. Two adapters implement it: Step Functions + S3 (a
// deployed federation) and a local folder (what `fedrad simulate` wrote). The CLI talks only to this.
import type { Lineage } from '../schemas/lineage.js';
import type { RunInputRaw } from '../schemas/run-input.js';
import type { RunListItem } from './render-run.js';
import type { RunView } from './run-view.js';

export interface StartedRun {
  runId: string;
  /** the execution ARN, or the local folder */
  location: string;
}

export interface RunsApi {
  /** where the runs are, for messages ("state machine arn:...", "folder ...") */
  readonly location: string;
  start(input: RunInputRaw & { runId: string }): Promise<StartedRun>;
  list(limit: number): Promise<RunListItem[]>;
  describe(runId: string): Promise<RunView>;
  stop(runId: string, reason: string): Promise<void>;
  /** every finished round's lineage, in order */
  lineage(runId: string): Promise<Lineage[]>;
  /** the run's report files (index.html, report.json), or undefined if the run has not written them */
  report(runId: string, file: 'index.html' | 'report.json'): Promise<Uint8Array | undefined>;
  /** global model `round` (0: the initial model) */
  model(runId: string, round: number): Promise<Uint8Array>;
}
