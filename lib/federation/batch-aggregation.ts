// The two ends of a round aggregated on Batch (functions/aggregate-round/batch-main.ts runs the
// middle): stage the round's input in the models bucket for the job, and load the job's result,
// raising a named failure (lost quorum, privacy budget, ...) under its own name, as the
// aggregate-round function would have.
import { z } from 'zod';
import { FedradError } from '../errors.js';
import type { BlobStore } from '../storage/blob-store.js';
import { keys } from '../storage/keys.js';
import { type AggregateInput, type RoundState, RoundStateSchema } from './round-state.js';

export async function stageAggregation(store: BlobStore, input: AggregateInput): Promise<{ inputKey: string }> {
  const inputKey = keys.aggregationInput(input.runId, input.round);
  // A redriven round may bring different outcomes: the latest staging is the one the job reads
  // (the models bucket keeps every version).
  await store.put(input.modelsBucket, inputKey, JSON.stringify(input), { contentType: 'application/json' });
  return { inputKey };
}

const OutputSchema = z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), state: RoundStateSchema }), z.object({ ok: z.literal(false), error: z.string().min(1), cause: z.string() })]);

/** A failure the aggregation job reported, carrying the job's error name. */
export class AggregationJobFailure extends FedradError {
  constructor(name: string, message: string, context: Record<string, unknown>) {
    super(message, context);
    this.name = name;
  }
}

export async function loadAggregation(store: BlobStore, at: { runId: string; round: number; modelsBucket: string }): Promise<RoundState> {
  const key = keys.aggregationOutput(at.runId, at.round);
  const raw = JSON.parse(new TextDecoder().decode(await store.get(at.modelsBucket, key)));
  const parsed = OutputSchema.safeParse(raw);
  if (!parsed.success) throw new FedradError(`s3://${at.modelsBucket}/${key} is not an aggregation result: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { key });
  if (!parsed.data.ok) throw new AggregationJobFailure(parsed.data.error, parsed.data.cause, { runId: at.runId, round: at.round });
  return parsed.data.state;
}
