// The local BlobStore: <root>/<bucket>/<key>. Writes go to a temporary file first and are renamed
// into place (atomic); conditional writes link the file into place, which fails if the key exists.
// Reads never follow a link: a key is a regular file reached through real folders, as in S3, where
// an object is bytes and never a pointer to another (a site cannot redirect a central read).
// An object's version is the file's identity (inode, size, modification and change times, in ns):
// any write to the file or a replacement of it changes it, so a read pinned to a version either
// returns the bytes that were checked or fails.
import { constants, type BigIntStats } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { type FileHandle, link, lstat, mkdir, open, readdir, readlink, realpath, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { type BlobStore, ObjectChangedError, ObjectExistsError, type ObjectInfo, ObjectNotFoundError, ObjectRefusedError, type PutOptions, type ReadOptions } from './blob-store.js';

const versionOf = (s: BigIntStats): string => `file:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
const HAS_PROC_FD = process.platform === 'linux';

const SAFE_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export class FolderBlobStore implements BlobStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private realRootPath?: string;
  private async realRoot(): Promise<string> {
    this.realRootPath ??= await realpath(this.root);
    return this.realRootPath;
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

  /**
   * Opens a key for reading: the last component must not be a link (O_NOFOLLOW), and the file the
   * handle holds must sit at the key's own path (no linked folder on the way), checked on the open
   * handle itself so that nothing can be swapped in between the check and the read.
   */
  private async openObject(bucket: string, key: string): Promise<{ handle: FileHandle; stats: BigIntStats }> {
    const full = this.path(bucket, key);
    let handle: FileHandle;
    try {
      handle = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new ObjectNotFoundError(bucket, key, this.location, { cause: err });
      if (code === 'ELOOP') throw new ObjectRefusedError(bucket, key, 'it is a symbolic link (or a loop of links); objects are regular files', { cause: err });
      if (code === 'ENOTDIR') throw new ObjectRefusedError(bucket, key, 'a folder on its path is not a folder', { cause: err });
      throw err;
    }
    try {
      const stats = (await handle.stat({ bigint: true })) as BigIntStats;
      if (!stats.isFile()) throw new ObjectRefusedError(bucket, key, 'it is not a regular file');
      const actual = HAS_PROC_FD ? await readlink(`/proc/self/fd/${handle.fd}`) : await realpath(full);
      // the root itself may sit below a linked folder (macOS /tmp): compare below the root's real path
      if (actual !== join(await this.realRoot(), relative(this.root, full))) throw new ObjectRefusedError(bucket, key, 'a folder on its path is a symbolic link; objects are reached through real folders only');
      return { handle, stats };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  private checkVersion(bucket: string, key: string, stats: BigIntStats, options: ReadOptions): void {
    if (options.version && versionOf(stats) !== options.version) throw new ObjectChangedError(bucket, key, options.version);
  }

  async get(bucket: string, key: string, options: ReadOptions = {}): Promise<Uint8Array> {
    const { handle, stats } = await this.openObject(bucket, key);
    try {
      this.checkVersion(bucket, key, stats, options);
      const buf = await handle.readFile();
      if (options.version) this.checkVersion(bucket, key, (await handle.stat({ bigint: true })) as BigIntStats, options);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength); // a view, not a copy
    } finally {
      await handle.close();
    }
  }

  async getRange(bucket: string, key: string, start: number, end: number, options: ReadOptions = {}): Promise<Uint8Array> {
    const buf = Buffer.allocUnsafe(Math.max(0, end - start)); // filled by the read
    const n = await this.readRangeInto(bucket, key, start, buf, options);
    return n === buf.length ? buf : buf.subarray(0, n);
  }

  /**
   * Pinned reads come in long runs over the same object (a gate or an aggregation streaming an
   * update): the handle is opened and checked once per object and version, then kept; every read on
   * it is followed by a stat that still must show that version (a write changes the change time,
   * which no caller can set back), so a cached handle never serves other bytes.
   */
  private pinned = new Map<string, FileHandle>();
  private static readonly PINNED_HANDLES = 64;

  private async pinnedHandle(bucket: string, key: string, version: string): Promise<FileHandle> {
    const id = `${bucket}\0${key}\0${version}`;
    const cached = this.pinned.get(id);
    if (cached) return cached;
    const { handle, stats } = await this.openObject(bucket, key);
    if (versionOf(stats) !== version) {
      await handle.close();
      throw new ObjectChangedError(bucket, key, version);
    }
    if (this.pinned.size >= FolderBlobStore.PINNED_HANDLES) {
      const [oldest, h] = this.pinned.entries().next().value as [string, FileHandle];
      this.pinned.delete(oldest);
      await h.close().catch(() => {});
    }
    this.pinned.set(id, handle);
    return handle;
  }

  private async readPinned(bucket: string, key: string, start: number, target: Uint8Array, version: string): Promise<number> {
    const handle = await this.pinnedHandle(bucket, key, version);
    const n = (await handle.read(target, 0, target.length, start)).bytesRead;
    if (versionOf((await handle.stat({ bigint: true })) as BigIntStats) !== version) {
      this.pinned.delete(`${bucket}\0${key}\0${version}`);
      await handle.close().catch(() => {});
      throw new ObjectChangedError(bucket, key, version);
    }
    return n;
  }

  async readRangeInto(bucket: string, key: string, start: number, target: Uint8Array, options: ReadOptions = {}): Promise<number> {
    if (options.version) return this.readPinned(bucket, key, start, target, options.version);
    const { handle, stats } = await this.openObject(bucket, key);
    try {
      this.checkVersion(bucket, key, stats, options);
      const n = (await handle.read(target, 0, target.length, start)).bytesRead;
      // a write that raced this read changed the file's times: the bytes may be mixed, so they are refused
      if (options.version) this.checkVersion(bucket, key, (await handle.stat({ bigint: true })) as BigIntStats, options);
      return n;
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

  /** The object's size and version; undefined when absent; ObjectRefusedError for a link or a folder. */
  async head(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    try {
      const s = (await lstat(this.path(bucket, key), { bigint: true })) as BigIntStats;
      if (s.isDirectory()) return undefined; // a "prefix", as in S3
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    }
    const { handle, stats } = await this.openObject(bucket, key);
    await handle.close();
    return { size: Number(stats.size), version: versionOf(stats) };
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
