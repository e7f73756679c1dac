// A site's dataset read from its bucket's data/ prefix through the storage port.
import type { BlobStore } from '../storage/blob-store.js';
import type { DataSource } from './data-source.js';

export class BlobDataSource implements DataSource {
  constructor(
    private readonly store: BlobStore,
    private readonly bucket: string,
    private readonly prefix = 'data/',
  ) {}

  get location(): string {
    return `s3://${this.bucket}/${this.prefix} (${this.store.location})`;
  }

  async list(): Promise<string[]> {
    return (await this.store.list(this.bucket, this.prefix)).map((k) => k.slice(this.prefix.length));
  }

  read(path: string): Promise<Uint8Array> {
    return this.store.get(this.bucket, this.prefix + path);
  }
}
