// Aggregate round as a CPU Batch job, for models too large for the function (the run's placement,
// lib/federation/aggregation-placement.ts). The same aggregateRound as the Lambda handler. The
// workflow stages the round's input at FEDRAD_AGGREGATION_INPUT_KEY in the models bucket; the job
// writes its result beside it (output.json): { ok: true, state } or, for a named fedrad error
// (lost quorum, privacy budget, a corrupt model), { ok: false, error, cause }, which the workflow
// raises under that name just as the function's error would be. Anything else exits 1 (the job fails).
import { aggregateRound } from '../../lib/federation/aggregate-round.js';
import { AggregateInputSchema } from '../../lib/federation/round-state.js';
import { FedradError } from '../../lib/errors.js';
import { formatIssues } from '../../lib/schemas/format.js';
import { storeFromEnv } from '../../lib/storage/store-from-env.js';

const log = (m: string) => process.stdout.write(`${new Date().toISOString()} ${m}\n`);

async function main(): Promise<number> {
  const bucket = process.env.FEDRAD_MODELS_BUCKET;
  const inputKey = process.env.FEDRAD_AGGREGATION_INPUT_KEY;
  if (!bucket || !inputKey?.endsWith('/input.json')) {
    process.stderr.write('fedrad aggregate-round: set FEDRAD_MODELS_BUCKET and FEDRAD_AGGREGATION_INPUT_KEY (runs/<runId>/aggregation/<round>/input.json)\n');
    return 2;
  }
  const outputKey = inputKey.replace(/input\.json$/, 'output.json');
  const store = storeFromEnv();
  const parsed = AggregateInputSchema.safeParse(JSON.parse(new TextDecoder().decode(await store.get(bucket, inputKey))));
  if (!parsed.success) {
    process.stderr.write(`fedrad aggregate-round: s3://${bucket}/${inputKey} is not an aggregation input: ${formatIssues(parsed.error)}\n`);
    return 2;
  }
  const started = performance.now();
  let result: Record<string, unknown>;
  try {
    const state = await aggregateRound(store, parsed.data);
    log(`round ${parsed.data.round} aggregated in ${((performance.now() - started) / 1000).toFixed(1)} s: model ${state.globalModelSha256}`);
    result = { ok: true, state };
  } catch (err) {
    if (!(err instanceof FedradError)) throw err;
    log(`round ${parsed.data.round} not aggregated: ${err.name}: ${err.message}`);
    result = { ok: false, error: err.name, cause: err.message };
  }
  // Overwritten on a re-run (the models bucket keeps every version): the latest attempt is the result.
  await store.put(bucket, outputKey, JSON.stringify(result), { contentType: 'application/json' });
  return 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`fedrad aggregate-round: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
}
