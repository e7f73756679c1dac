// The S3 BlobStore (AWS SDK v3). Works against AWS and any S3-compatible endpoint (LocalStack,
// MinIO, s3rver): the SDK honours AWS_ENDPOINT_URL, or pass an endpoint explicitly.
import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type S3ClientConfig, S3ServiceException } from '@aws-sdk/client-s3';
import { type BlobStore, ObjectChangedError, ObjectExistsError, type ObjectInfo, ObjectNotFoundError, type PutOptions, type ReadOptions } from './blob-store.js';

/** A read pinned to a version: by VersionId in a versioned bucket, else by ETag (If-Match). */
function pinned(version: string | undefined): { VersionId?: string; IfMatch?: string } {
  if (!version) return {};
  if (version.startsWith('version:')) return { VersionId: version.slice('version:'.length) };
  if (version.startsWith('etag:')) return { IfMatch: version.slice('etag:'.length) };
  return { IfMatch: version };
}

export interface S3StoreOptions {
  endpoint?: string;
  region?: string;
  /** path-style addressing, which local S3 emulators need */
  forcePathStyle?: boolean;
  client?: S3Client;
  /** credentials for this endpoint (default: the SDK's standard chain) */
  credentials?: S3ClientConfig['credentials'];
}

export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  private readonly endpoint?: string;

  constructor(options: S3StoreOptions = {}) {
    const config: S3ClientConfig = {
      region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
      // Checksums only when the operation needs them: emulators otherwise store streamed bodies
      // with their aws-chunked framing.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(options.credentials ? { credentials: options.credentials } : {}),
    };
    if (options.endpoint) {
      config.endpoint = options.endpoint;
      config.forcePathStyle = options.forcePathStyle ?? true;
    }
    this.client = options.client ?? new S3Client(config);
    this.endpoint = options.endpoint;
  }

  get location(): string {
    return this.endpoint ? `S3 at ${this.endpoint}` : 'S3';
  }

  async get(bucket: string, key: string, options: ReadOptions = {}): Promise<Uint8Array> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...pinned(options.version) }));
      this.checkServed(out, bucket, key, options);
      return await out.Body!.transformToByteArray();
    } catch (err) {
      throw this.readError(err, bucket, key, options);
    }
  }

  async getRange(bucket: string, key: string, start: number, end: number, options: ReadOptions = {}): Promise<Uint8Array> {
    if (end <= start) return new Uint8Array(0);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}`, ...pinned(options.version) }));
      this.checkServed(out, bucket, key, options);
      return await out.Body!.transformToByteArray();
    } catch (err) {
      if ((err as S3ServiceException).$metadata?.httpStatusCode === 416) return new Uint8Array(0); // range starts past the end
      throw this.readError(err, bucket, key, options);
    }
  }

  /**
   * A pinned read checks what was served, too: an S3-compatible endpoint that ignores If-Match or
   * VersionId (s3rver does) would otherwise hand back the current bytes as if they were the pinned ones.
   */
  private checkServed(out: { ETag?: string; VersionId?: string; Body?: unknown }, bucket: string, key: string, options: ReadOptions): void {
    const v = options.version;
    if (!v) return;
    const served = v.startsWith('version:') ? (out.VersionId ? `version:${out.VersionId}` : undefined) : out.ETag ? `etag:${out.ETag}` : undefined;
    const want = v.startsWith('version:') || v.startsWith('etag:') ? v : `etag:${v}`;
    if (served !== want) {
      (out.Body as { destroy?: () => void } | undefined)?.destroy?.(); // the body is not read
      throw new ObjectChangedError(bucket, key, v);
    }
  }

  private readError(err: unknown, bucket: string, key: string, options: ReadOptions): unknown {
    if (err instanceof ObjectChangedError) return err;
    const status = (err as S3ServiceException).$metadata?.httpStatusCode;
    const name = (err as Error).name;
    // a pinned read: the version is gone (404 NoSuchVersion, or 400 for a malformed id) or the ETag moved (412)
    if (options.version && (status === 412 || name === 'NoSuchVersion' || (status === 404 && options.version.startsWith('version:')) || (status === 400 && name === 'InvalidArgument'))) return new ObjectChangedError(bucket, key, options.version, { cause: err });
    if (status === 404 || name === 'NoSuchKey') return new ObjectNotFoundError(bucket, key, this.location, { cause: err });
    return err;
  }

  async put(bucket: string, key: string, body: Uint8Array | string, options: PutOptions = {}): Promise<void> {
    try {
      // Content-MD5: S3 refuses a PUT without an integrity header into a bucket with default Object
      // Lock retention (the models bucket); it also lets S3 reject a body damaged in transit.
      const contentMd5 = createHash('md5').update(body).digest('base64');
      await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentMD5: contentMd5, ContentType: options.contentType, IfNoneMatch: options.ifNoneMatch ? '*' : undefined }));
    } catch (err) {
      const status = (err as S3ServiceException).$metadata?.httpStatusCode;
      // 412: the key exists; 409: a concurrent conditional write to the same key is in progress.
      if (options.ifNoneMatch && (status === 412 || status === 409)) throw new ObjectExistsError(bucket, key, { cause: err });
      throw err;
    }
  }

  async head(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      const version = out.VersionId && out.VersionId !== 'null' ? `version:${out.VersionId}` : out.ETag ? `etag:${out.ETag}` : undefined;
      return { size: out.ContentLength ?? 0, etag: out.ETag, version };
    } catch (err) {
      if ((err as S3ServiceException).$metadata?.httpStatusCode === 404) return undefined;
      throw err;
    }
  }

  async list(bucket: string, prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }
}
