// Builds the BlobStore a process should use from its environment: FEDRAD_STORAGE_ROOT selects the
// local folder store (simulate); otherwise S3, at AWS_ENDPOINT_URL when set (LocalStack, MinIO).
import type { BlobStore } from './blob-store.js';
import { FolderBlobStore } from './folder-store.js';
import { S3BlobStore } from './s3-store.js';

let cached: { signature: string; store: BlobStore } | undefined;

export function storeFromEnv(env: NodeJS.ProcessEnv = process.env): BlobStore {
  const signature = `${env.FEDRAD_STORAGE_ROOT ?? ''}|${env.AWS_ENDPOINT_URL ?? ''}`;
  if (cached?.signature === signature) return cached.store;
  const store = env.FEDRAD_STORAGE_ROOT ? new FolderBlobStore(env.FEDRAD_STORAGE_ROOT) : new S3BlobStore({ endpoint: env.AWS_ENDPOINT_URL });
  cached = { signature, store };
  return store;
}
