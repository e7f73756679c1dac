// A site's update and its manifest, written into the site's bucket once each: what both the 2D and
// the 3D site jobs end with.
import type { TrainingJobEnv } from '../schemas/training-job.js';
import type { UpdateManifest } from '../schemas/update-manifest.js';
import { type BlobStore, ObjectExistsError, putOnce } from '../storage/blob-store.js';
import { keys } from '../storage/keys.js';
import { UpdateConflictError } from './errors.js';

/**
 * Writes a site's update and then its manifest, each once (If-None-Match: *): the manifest commits the
 * update. A retried job that trained the same bytes succeeds; one whose earlier attempt left other
 * bytes and no manifest stops with UpdateConflictError rather than replace what may be read.
 */
export async function commitUpdate(store: BlobStore, job: Pick<TrainingJobEnv, 'FEDRAD_SITE_BUCKET' | 'FEDRAD_SITE_ID' | 'FEDRAD_RUN_ID' | 'FEDRAD_ROUND'>, update: Uint8Array, manifest: UpdateManifest, log: (m: string) => void): Promise<void> {
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
