// The local BlobStore: <root>/<bucket>/<key>. Writes go to a temporary file first and are renamed
// into place (atomic); conditional writes link the file into place, which fails if the key exists.
import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { type BlobStore, ObjectExistsError, type ObjectInfo, ObjectNotFoundError, type PutOptions } from './blob-store.js';

const SAFE_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export class FolderBlobStore implements BlobStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  get location(): string {
    return `folder ${this.root}`;
  }

  private path(bucket: string, key: string): string {
    if (!SAFE_BUCKET.test(bucket)) throw new RangeError(`bucket name '${bucket}' is not a valid S3 bucket name`);
    const full = resolve(this.root, bucket, key);
    if (!full.startsWith(resolve(this.root, bucket) + sep)) throw new RangeError(`key '${key}' escapes bucket '${bucket}'`);
    return full;
  }

  async get(bucket: string, key: string): Promise<Uint8Array> {
    try {
      const buf = await readFile(this.path(bucket, key));
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength); // a view, not a copy
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ObjectNotFoundError(bucket, key, this.location, { cause: err });
      throw err;
    }
  }

  async getRange(bucket: string, key: string, start: number, end: number): Promise<Uint8Array> {
    const buf = Buffer.allocUnsafe(Math.max(0, end - start)); // filled by the read
    const n = await this.readRangeInto(bucket, key, start, buf);
    return n === buf.length ? buf : buf.subarray(0, n);
  }

  async readRangeInto(bucket: string, key: string, start: number, target: Uint8Array): Promise<number> {
    let handle;
    try {
      handle = await open(this.path(bucket, key), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ObjectNotFoundError(bucket, key, this.location, { cause: err });
      throw err;
    }
    try {
      return (await handle.read(target, 0, target.length, start)).bytesRead;
    } finally {
      await handle.close();
    }
  }

  async put(bucket: string, key: string, body: Uint8Array | string, options: PutOptions = {}): Promise<void> {
    const target = this.path(bucket, key);
    await mkdir(dirname(target), { recursive: true });
    const tmp = join(dirname(target), `.tmp-${randomUUID()}`);
    await writeFile(tmp, body);
    try {
      if (options.ifNoneMatch) {
        await link(tmp, target);
      } else {
        await rename(tmp, target);
        return;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError(bucket, key, { cause: err });
      throw err;
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }

  async head(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    try {
      const s = await stat(this.path(bucket, key));
      return s.isFile() ? { size: s.size } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async list(bucket: string, prefix: string): Promise<string[]> {
    const base = resolve(this.root, bucket);
    const out: string[] = [];
    const walk = async (dir: string) => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (e.isFile() && !e.name.startsWith('.tmp-')) {
          const key = relative(base, full).split(sep).join('/');
          if (key.startsWith(prefix)) out.push(key);
        }
      }
    };
    // Walk only the deepest folder the prefix names.
    const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    await walk(join(base, dirPart));
    return out.sort();
  }
}
