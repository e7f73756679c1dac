// The storage port: buckets and keys, as S3 has them. Two adapters implement it: S3 (AWS SDK v3,
// also any S3-compatible endpoint) and a local folder laid out exactly as the buckets.
import { FedradError } from '../errors.js';

export interface PutOptions {
  /** write only if no object has this key (If-None-Match: *): history is never overwritten */
  ifNoneMatch?: boolean;
  contentType?: string;
}

export interface ObjectInfo {
  size: number;
  etag?: string;
  /**
   * Names this exact content: S3's VersionId in a versioned bucket (else the ETag), a file's identity
   * (inode, size, modification and change times) in the folder store. A read given a version returns
   * those bytes or fails with ObjectChangedError: what was checked is what is read.
   */
  version?: string;
}

export interface ReadOptions {
  /** read this version only (ObjectInfo.version); fail with ObjectChangedError if it is gone or replaced */
  version?: string;
}

export interface BlobStore {
  /** where the store points, for messages */
  readonly location: string;
  get(bucket: string, key: string, options?: ReadOptions): Promise<Uint8Array>;
  /** bytes [start, end) of an object; fewer if the object is shorter */
  getRange(bucket: string, key: string, start: number, end: number, options?: ReadOptions): Promise<Uint8Array>;
  /** optional: reads bytes from `start` into `target` (no new buffer); returns how many were read */
  readRangeInto?(bucket: string, key: string, start: number, target: Uint8Array, options?: ReadOptions): Promise<number>;
  put(bucket: string, key: string, body: Uint8Array | string, options?: PutOptions): Promise<void>;
  head(bucket: string, key: string): Promise<ObjectInfo | undefined>;
  /** every key under the prefix, sorted */
  list(bucket: string, prefix: string): Promise<string[]>;
}

export class ObjectNotFoundError extends FedradError {
  constructor(bucket: string, key: string, location: string, options?: { cause?: unknown }) {
    super(`s3://${bucket}/${key} does not exist (store: ${location})`, { bucket, key }, options);
  }
}

/** The object is no longer the version that was asked for: replaced, or that version deleted. */
export class ObjectChangedError extends FedradError {
  constructor(bucket: string, key: string, version: string, options?: { cause?: unknown }) {
    super(`s3://${bucket}/${key} is no longer the version that was read before (${version.slice(0, 80)}): it was replaced or deleted`, { bucket, key, version }, options);
  }
}

/** The store will not read this key: not a regular object (a link, a folder, a loop of links). */
export class ObjectRefusedError extends FedradError {
  readonly reason: string;
  constructor(bucket: string, key: string, reason: string, options?: { cause?: unknown }) {
    super(`s3://${bucket}/${key} is refused: ${reason}`, { bucket, key }, options);
    this.reason = reason;
  }
}

/** A conditional write found the key taken. */
export class ObjectExistsError extends FedradError {
  constructor(bucket: string, key: string, options?: { cause?: unknown }) {
    super(`s3://${bucket}/${key} already exists and is never overwritten`, { bucket, key }, options);
  }
}

/** Reads a whole object into `target` (its exact size), in 16 MiB ranges: no second copy in memory. */
export async function readObjectInto(store: BlobStore, bucket: string, key: string, target: Uint8Array): Promise<void> {
  const CHUNK = 16 << 20;
  for (let start = 0; start < target.length; start += CHUNK) {
    const part = target.subarray(start, Math.min(target.length, start + CHUNK));
    const n = store.readRangeInto ? await store.readRangeInto(bucket, key, start, part) : await store.getRange(bucket, key, start, start + part.length).then((b) => (part.set(b), b.length));
    if (n !== part.length) throw new FedradError(`s3://${bucket}/${key} ended at byte ${start + n}, before the ${target.length} bytes it had when read began (changed while read?)`, { bucket, key });
  }
}

export async function getJson<T>(store: BlobStore, bucket: string, key: string): Promise<T> {
  return JSON.parse(new TextDecoder().decode(await store.get(bucket, key))) as T;
}

/**
 * Writes once. If the key exists with the same bytes (a retried step), that is success; with other
 * bytes, the first write stands and ObjectExistsError says so.
 */
export async function putOnce(store: BlobStore, bucket: string, key: string, body: Uint8Array | string, contentType?: string): Promise<'written' | 'identical'> {
  try {
    await store.put(bucket, key, body, { ifNoneMatch: true, contentType });
    return 'written';
  } catch (err) {
    if (!(err instanceof ObjectExistsError)) throw err;
    const existing = await store.get(bucket, key);
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    if (Buffer.from(existing.buffer, existing.byteOffset, existing.length).equals(bytes)) return 'identical';
    throw err;
  }
}
