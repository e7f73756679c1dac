// What both adapters read the same way from the models bucket: a run's record, its lineage and its
// global models (hash-checked against lineage).
import { sha256 } from '../model/onnx-io.js';
import { type Lineage, LineageSchema } from '../schemas/lineage.js';
import { type BlobStore, getJson, ObjectNotFoundError } from '../storage/blob-store.js';
import { keys } from '../storage/keys.js';
import { ModelHashMismatchError, RunNotFoundError } from './errors.js';

export interface RunRecord {
  runId: string;
  sites: string[];
  rounds?: number;
  strategy?: string;
  initialModelSha256?: string;
}

export async function readRunRecord(store: BlobStore, bucket: string, runId: string): Promise<RunRecord | undefined> {
  try {
    const r = await getJson<{ runId: string; sites: string[]; input?: { rounds?: number; strategy?: { type?: string } }; initialModelSha256?: string }>(store, bucket, keys.run(runId));
    return { runId: r.runId, sites: r.sites, rounds: r.input?.rounds, strategy: r.input?.strategy?.type, initialModelSha256: r.initialModelSha256 };
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
}

/** Every lineage record the run has written, in round order. */
export async function readLineages(store: BlobStore, bucket: string, runId: string): Promise<Lineage[]> {
  const prefix = `${keys.run(runId).replace(/run\.json$/, '')}rounds/`;
  const found = (await store.list(bucket, prefix)).filter((k) => k.endsWith('/lineage.json')).sort();
  const out: Lineage[] = [];
  for (const key of found) out.push(LineageSchema.parse(await getJson(store, bucket, key)));
  return out.sort((a, b) => a.round - b.round);
}

/** Global model `round`, checked against the hash its lineage (or the run record, for model 0) holds. */
export async function readModel(store: BlobStore, bucket: string, runId: string, round: number, lineages: Lineage[], record?: RunRecord): Promise<Uint8Array> {
  const expected = round === 0 ? (record?.initialModelSha256 ?? lineages.find((l) => l.parentRound === 0)?.parentSha256) : lineages.find((l) => l.round === round)?.modelSha256;
  if (!expected) {
    const have = [0, ...lineages.map((l) => l.round)].join(', ');
    throw new RunNotFoundError(`run ${runId} has no global model ${round}: its models are ${have}`, { runId, round });
  }
  const bytes = await store.get(bucket, keys.globalModel(runId, round));
  const actual = sha256(bytes);
  if (actual !== expected) throw new ModelHashMismatchError(`global model ${round} of run ${runId} has SHA-256 ${actual}, but lineage records ${expected}: the stored file was changed; do not use it`, { runId, round, expected, actual });
  return bytes;
}
