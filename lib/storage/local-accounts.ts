// Locally, a bucket that lives in another AWS account (a site training in the hospital's account):
// its own folder root, and for the central components only the prefixes that account's bucket policy
// grants them (updates/), so a central read of data/ fails as it would in AWS (AccessDenied).
import { FedradError } from '../errors.js';
import type { BlobStore, ObjectInfo, PutOptions } from './blob-store.js';
import { FolderBlobStore } from './folder-store.js';
import { BucketRoutedStore } from './routed-store.js';

export class AccessDeniedError extends FedradError {
  constructor(bucket: string, key: string) {
    super(`access denied: s3://${bucket}/${key} is in another account, whose bucket policy grants this principal only what it names`, { bucket, key });
    this.name = 'AccessDenied';
  }
}

/** A store that refuses every key outside the given prefixes. */
export class PrefixScopedStore implements BlobStore {
  constructor(private readonly inner: BlobStore, private readonly prefixes: readonly string[]) {}

  get location(): string {
    return `${this.inner.location} (only ${this.prefixes.join(', ')})`;
  }

  private check(bucket: string, key: string): void {
    if (!this.prefixes.some((p) => key.startsWith(p))) throw new AccessDeniedError(bucket, key);
  }

  async get(bucket: string, key: string): Promise<Uint8Array> {
    this.check(bucket, key);
    return this.inner.get(bucket, key);
  }

  async getRange(bucket: string, key: string, start: number, end: number): Promise<Uint8Array> {
    this.check(bucket, key);
    return this.inner.getRange(bucket, key, start, end);
  }

  async put(bucket: string, key: string, _body: Uint8Array | string, _options?: PutOptions): Promise<void> {
    // the central components never write into a site's account
    throw new AccessDeniedError(bucket, key);
  }

  async head(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    this.check(bucket, key);
    return this.inner.head(bucket, key);
  }

  async list(bucket: string, prefix: string): Promise<string[]> {
    this.check(bucket, prefix);
    return this.inner.list(bucket, prefix);
  }
}

/** FEDRAD_LOCAL_ACCOUNTS: {"<bucket>": {"root": "<folder>", "prefixes": ["updates/"]}}; no prefixes: the account's own access. */
export type LocalAccounts = Record<string, { root: string; prefixes?: string[] }>;

export function withLocalAccounts(fallback: BlobStore, accounts: LocalAccounts): BlobStore {
  const routes = new Map<string, BlobStore>(
    Object.entries(accounts).map(([bucket, a]) => {
      const own = new FolderBlobStore(a.root);
      return [bucket, a.prefixes ? new PrefixScopedStore(own, a.prefixes) : own];
    }),
  );
  return new BucketRoutedStore(routes, fallback);
}
