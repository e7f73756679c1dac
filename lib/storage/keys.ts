// Every S3 key of fedrad, in one place. Models bucket: runs/<runId>/...; site buckets: data/ and
// updates/runs/<runId>/rounds/<round>/. Round r trains on model r and its aggregation writes model r+1.
import { FedradError } from '../errors.js';

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/; // execution names may be up to 80

export function checkRunId(runId: string): string {
  if (!RUN_ID.test(runId)) throw new FedradError(`run id '${runId}' is invalid: use 1-80 letters, digits, '-' or '_', starting with a letter or digit`, { runId });
  return runId;
}

function checkSha(sha: string): never {
  throw new FedradError(`'${sha.slice(0, 70)}' is not a SHA-256 (64 lowercase hex digits)`, {});
}

const pad = (round: number) => String(round).padStart(4, '0');
const runPrefix = (runId: string) => `runs/${checkRunId(runId)}/`;

export const keys = {
  // models bucket
  run: (runId: string) => `${runPrefix(runId)}run.json`,
  /** the global model of round `round` (model 0 is the initial model) */
  globalModel: (runId: string, round: number) => `${runPrefix(runId)}rounds/${pad(round)}/global.onnx`,
  /** lineage of model `round` (written by the aggregation that produced it) */
  lineage: (runId: string, round: number) => `${runPrefix(runId)}rounds/${pad(round)}/lineage.json`,
  serverState: (runId: string, round: number) => `${runPrefix(runId)}rounds/${pad(round)}/server-state.safetensors`,
  /** a round's aggregation on Batch: its input and result (round unpadded: the workflow formats these keys) */
  aggregationInput: (runId: string, round: number) => `${runPrefix(runId)}aggregation/${round}/input.json`,
  aggregationOutput: (runId: string, round: number) => `${runPrefix(runId)}aggregation/${round}/output.json`,
  /** the replay ledger: one entry per update accepted in the run, by the update's SHA-256 */
  ledgerEntry: (runId: string, updateSha256: string) => `${runPrefix(runId)}ledger/${/^[0-9a-f]{64}$/.test(updateSha256) ? updateSha256 : checkSha(updateSha256)}.json`,
  reportPrefix: (runId: string) => `${runPrefix(runId)}report/`,
  report: (runId: string, file: string) => `${runPrefix(runId)}report/${file}`,
  // site buckets
  dataPrefix: () => 'data/',
  updatesPrefix: (runId: string, round: number) => `updates/${runPrefix(runId)}rounds/${pad(round)}/`,
  update: (runId: string, round: number) => `updates/${runPrefix(runId)}rounds/${pad(round)}/update.safetensors`,
  updateManifest: (runId: string, round: number) => `updates/${runPrefix(runId)}rounds/${pad(round)}/manifest.json`,
  /** written instead of an update by a job its site's policy refused: the rule, for lineage */
  refusal: (runId: string, round: number) => `updates/${runPrefix(runId)}rounds/${pad(round)}/refusal.json`,
  /** the site policy of a site training in its own account (written by the hospital, read by its job) */
  sitePolicy: () => 'site-policy/site-policy.json',
};
