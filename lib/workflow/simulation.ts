// What a local simulation reports: shared by the runner (infra/local) and the CLI that prints it.
import type { RunReport } from '../federation/report.js';

export interface SimulationSummary {
  runId: string;
  rounds: number;
  sites: number;
  metric: string;
  /** the final global model's metric on the held-out test set */
  federatedMetric: number | null;
  centralizedMetric: number | null;
  siteAloneMeanMetric: number | null;
  siteAloneMetric: Record<string, number>;
  seconds: number;
  /** time inside the state machines (training jobs included), without data, baselines and scoring */
  workflowSeconds: number;
  status: 'succeeded' | 'failed';
  error?: string;
  cause?: string;
  report: RunReport;
  reportPath: string;
}
