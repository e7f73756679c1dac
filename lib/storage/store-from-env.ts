// Builds the BlobStore a process should use from its environment: FEDRAD_STORAGE_ROOT selects the
// local folder store (simulate); otherwise S3, at AWS_ENDPOINT_URL when set (LocalStack, MinIO).
import { S3Client } from '@aws-sdk/client-s3';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { BlobStore } from './blob-store.js';
import { FolderBlobStore } from './folder-store.js';
import { type LocalAccounts, withLocalAccounts } from './local-accounts.js';
import { BucketRoutedStore } from './routed-store.js';
import { S3BlobStore } from './s3-store.js';

let cached: { signature: string; store: BlobStore } | undefined;

export function storeFromEnv(env: NodeJS.ProcessEnv = process.env): BlobStore {
  const signature = `${env.FEDRAD_STORAGE_ROOT ?? ''}|${env.AWS_ENDPOINT_URL ?? ''}|${env.FEDRAD_LOCAL_ACCOUNTS ?? ''}`;
  if (cached?.signature === signature) return cached.store;
  const base = env.FEDRAD_STORAGE_ROOT ? new FolderBlobStore(env.FEDRAD_STORAGE_ROOT) : new S3BlobStore({ endpoint: env.AWS_ENDPOINT_URL });
  // local only (`fedrad simulate`): buckets of sites in their own accounts
  const store = env.FEDRAD_LOCAL_ACCOUNTS ? withLocalAccounts(base, JSON.parse(env.FEDRAD_LOCAL_ACCOUNTS) as LocalAccounts) : base;
  cached = { signature, store };
  return store;
}

/**
 * The training job's store. A site in another AWS account (FEDRAD_SITE_ROLE_ARN set) is reached with
 * that account's role, assumed for the job (the session name says which run, round and site, for
 * the hospital's CloudTrail); the global models with the job's own role.
 */
export function trainingStoreFromEnv(env: NodeJS.ProcessEnv = process.env): BlobStore {
  const own = storeFromEnv(env);
  const roleArn = env.FEDRAD_SITE_ROLE_ARN;
  if (!roleArn || env.FEDRAD_STORAGE_ROOT || !env.FEDRAD_SITE_BUCKET) return own;
  const session = `fedrad-${env.FEDRAD_RUN_ID ?? 'run'}-${env.FEDRAD_ROUND ?? ''}-${env.FEDRAD_SITE_ID ?? ''}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  const client = new S3Client({
    region: env.FEDRAD_SITE_REGION ?? env.AWS_REGION,
    credentials: fromTemporaryCredentials({ params: { RoleArn: roleArn, RoleSessionName: session, DurationSeconds: 3600, ...(env.FEDRAD_SITE_EXTERNAL_ID ? { ExternalId: env.FEDRAD_SITE_EXTERNAL_ID } : {}) } }),
  });
  const site = new S3BlobStore({ client, endpoint: env.AWS_ENDPOINT_URL });
  return new BucketRoutedStore(new Map([[env.FEDRAD_SITE_BUCKET, site]]), own);
}
