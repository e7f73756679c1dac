// A site's update and its manifest, written into the site's bucket once each: what both the 2D and
// the 3D site jobs end with.
import type { Model, TensorData } from '../model/graph.js';
import { sha256 } from '../model/onnx-io.js';
import { encodeSafetensors } from '../model/safetensors.js';
import type { TrainingJobEnv } from '../schemas/training-job.js';
import type { UpdateManifest } from '../schemas/update-manifest.js';
import { type BlobStore, ObjectExistsError, putOnce } from '../storage/blob-store.js';
import { keys } from '../storage/keys.js';
import { UpdateConflictError } from './errors.js';
import { computeUpdate } from './update.js';

type JobIds = Pick<TrainingJobEnv, 'FEDRAD_SITE_BUCKET' | 'FEDRAD_SITE_ID' | 'FEDRAD_RUN_ID' | 'FEDRAD_ROUND'>;

/** A finite loss, or null (no batch ran, or training diverged): manifests carry finite numbers only. */
export const finiteOrNull = (v: number | undefined): number | null => (v !== undefined && Number.isFinite(v) ? v : null);

/** The update (local minus global, named as the initializers, with the job's ids as metadata) and the manifest that signs it. */
export function buildUpdate(job: JobIds, global: Model, local: ReadonlyMap<string, TensorData>, facts: Omit<UpdateManifest, 'version' | 'siteId' | 'runId' | 'round' | 'updateSha256'>): { update: Uint8Array; manifest: UpdateManifest } {
  const update = encodeSafetensors(computeUpdate(global, local), { siteId: job.FEDRAD_SITE_ID, runId: job.FEDRAD_RUN_ID, round: String(job.FEDRAD_ROUND) });
  return { update, manifest: { version: 1, siteId: job.FEDRAD_SITE_ID, runId: job.FEDRAD_RUN_ID, round: job.FEDRAD_ROUND, ...facts, updateSha256: sha256(update) } };
}

/**
 * Writes a site's update and then its manifest, each once (If-None-Match: *): the manifest commits the
 * update. A retried job that trained the same bytes succeeds; one whose earlier attempt left other
 * bytes and no manifest stops with UpdateConflictError rather than replace what may be read.
 */
export async function commitUpdate(store: BlobStore, job: JobIds, update: Uint8Array, manifest: UpdateManifest, log: (m: string) => void): Promise<void> {
  const manifestKey = keys.updateManifest(job.FEDRAD_RUN_ID, job.FEDRAD_ROUND);
  const updateKey = keys.update(job.FEDRAD_RUN_ID, job.FEDRAD_ROUND);
  try {
    await putOnce(store, job.FEDRAD_SITE_BUCKET, updateKey, update, 'application/octet-stream');
  } catch (err) {
    if (!(err instanceof ObjectExistsError)) throw err;
    throw new UpdateConflictError(
      `site ${job.FEDRAD_SITE_ID}: s3://${job.FEDRAD_SITE_BUCKET}/${updateKey} already holds other bytes from an earlier attempt that wrote no manifest; updates are never overwritten. The site's operator may delete that object to let this round's job write again.`,
      { site: job.FEDRAD_SITE_ID, key: updateKey },
      { cause: err },
    );
  }
  await putOnce(store, job.FEDRAD_SITE_BUCKET, manifestKey, `${JSON.stringify(manifest, null, 1)}\n`, 'application/json');
  log(`site ${job.FEDRAD_SITE_ID}: update written (${update.length} bytes, train loss ${manifest.trainLoss?.toFixed(4) ?? 'none'})`);
}
