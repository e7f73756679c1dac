// A BlobStore that sends each bucket to the store that may reach it: a training job whose site lives
// in another AWS account reads and writes the site's bucket with the site's role (assumed in that
// account) and the global models with its own.
import type { BlobStore, ObjectInfo, PutOptions, ReadOptions } from './blob-store.js';

export class BucketRoutedStore implements BlobStore {
  constructor(
    private readonly routes: ReadonlyMap<string, BlobStore>,
    private readonly fallback: BlobStore,
  ) {}

  get location(): string {
    return [...this.routes].map(([bucket, store]) => `${bucket} via ${store.location}`).concat(`others via ${this.fallback.location}`).join('; ');
  }

  private of(bucket: string): BlobStore {
    return this.routes.get(bucket) ?? this.fallback;
  }

  get(bucket: string, key: string, options?: ReadOptions): Promise<Uint8Array> {
    return this.of(bucket).get(bucket, key, options);
  }

  getRange(bucket: string, key: string, start: number, end: number, options?: ReadOptions): Promise<Uint8Array> {
    return this.of(bucket).getRange(bucket, key, start, end, options);
  }

  put(bucket: string, key: string, body: Uint8Array | string, options?: PutOptions): Promise<void> {
    return this.of(bucket).put(bucket, key, body, options);
  }

  head(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    return this.of(bucket).head(bucket, key);
  }

  list(bucket: string, prefix: string): Promise<string[]> {
    return this.of(bucket).list(bucket, prefix);
  }
}
