// Where an on-premises site's agent reads its dataset: a folder, or a bucket on any S3-compatible
// endpoint inside the hospital (MinIO, a NAS's S3 gateway), with its own credentials profile. The
// agent hands it to the training job as FEDRAD_DATA_DIR or FEDRAD_DATA_S3; the job reads its data
// there and writes only its update to the federation.
import { fromIni } from '@aws-sdk/credential-providers';
import { z } from 'zod';
import { BlobDataSource } from '../data/blob-data-source.js';
import { type DataSource, FolderDataSource } from '../data/data-source.js';
import { FedradError } from '../errors.js';
import { formatIssues } from '../schemas/format.js';
import { S3BlobStore } from '../storage/s3-store.js';

export const SiteDataS3Schema = z
  .object({
    /** the hospital's S3-compatible endpoint, e.g. https://minio.trust.nhs.uk:9000 */
    endpoint: z.url(),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'),
    /** where the dataset (images and dataset manifest) lies in the bucket */
    prefix: z.string().regex(/^([^/].*\/)?$/, "empty, or ending in '/' (e.g. 'data/')").default('data/'),
    region: z.string().default('us-east-1'),
    /** a profile in the host's AWS config for this endpoint's credentials (default: the standard chain) */
    profile: z.string().optional(),
  })
  .strict();
export type SiteDataS3 = z.infer<typeof SiteDataS3Schema>;

/** The job's data source from its environment: the folder or the endpoint the agent named, else undefined (the site bucket). */
export function siteDataSourceFromEnv(env: NodeJS.ProcessEnv): DataSource | undefined {
  if (env.FEDRAD_DATA_DIR) return new FolderDataSource(env.FEDRAD_DATA_DIR);
  if (!env.FEDRAD_DATA_S3) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(env.FEDRAD_DATA_S3);
  } catch {
    throw new FedradError('FEDRAD_DATA_S3 is not JSON: it must be {"endpoint", "bucket", "prefix", "region", "profile"} (the agent config\'s dataS3)', {});
  }
  const parsed = SiteDataS3Schema.safeParse(raw);
  if (!parsed.success) throw new FedradError(`FEDRAD_DATA_S3: ${formatIssues(parsed.error)}`, {});
  const d = parsed.data;
  const store = new S3BlobStore({ endpoint: d.endpoint, region: d.region, ...(d.profile ? { credentials: fromIni({ profile: d.profile }) } : {}) });
  return new BlobDataSource(store, d.bucket, d.prefix);
}
