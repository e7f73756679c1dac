// One storage contract, run against the folder adapter and against the S3 adapter talking to a real
// S3 wire protocol (s3rver on 127.0.0.1). s3rver does not enforce If-None-Match, so the S3
// adapter's conditional-write mapping is checked against an S3 412 response instead.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BlobStore, ObjectChangedError, ObjectExistsError, ObjectNotFoundError, putOnce } from '../../../lib/storage/blob-store.js';
import { FolderBlobStore } from '../../../lib/storage/folder-store.js';
import { keys } from '../../../lib/storage/keys.js';
import { S3BlobStore } from '../../../lib/storage/s3-store.js';

const BUCKET = 'fedrad-contract';

function contract(name: string, make: () => BlobStore, opts: { conditional: boolean }) {
  describe(`${name} satisfies the storage contract`, () => {
    it('puts, gets and heads bytes exactly', async () => {
      const store = make();
      const body = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256);
      await store.put(BUCKET, 'a/b/c.bin', body);
      expect(await store.get(BUCKET, 'a/b/c.bin')).toEqual(body);
      expect((await store.head(BUCKET, 'a/b/c.bin'))?.size).toBe(70_000);
      expect(await store.head(BUCKET, 'a/b/missing.bin')).toBeUndefined();
    });

    it('reads byte ranges, short at the end of the object', async () => {
      const store = make();
      await store.put(BUCKET, 'range.bin', Uint8Array.from({ length: 100 }, (_, i) => i));
      expect(Array.from(await store.getRange(BUCKET, 'range.bin', 10, 14))).toEqual([10, 11, 12, 13]);
      expect(Array.from(await store.getRange(BUCKET, 'range.bin', 98, 120))).toEqual([98, 99]);
      await expect(store.getRange(BUCKET, 'missing.bin', 0, 4)).rejects.toThrow(ObjectNotFoundError);
    });

    it('overwrites on a plain put, and names the key when it is missing', async () => {
      const store = make();
      await store.put(BUCKET, 'x.txt', 'one');
      await store.put(BUCKET, 'x.txt', 'two');
      expect(new TextDecoder().decode(await store.get(BUCKET, 'x.txt'))).toBe('two');
      await expect(store.get(BUCKET, 'nope/never.txt')).rejects.toThrow(ObjectNotFoundError);
      await expect(store.get(BUCKET, 'nope/never.txt')).rejects.toThrow(`s3://${BUCKET}/nope/never.txt does not exist`);
    });

    it('names a version on head and reads that version only: after a replacement a pinned read never returns the new bytes', async () => {
      const store = make();
      await store.put(BUCKET, 'pinned.bin', Uint8Array.from([1, 2, 3, 4]));
      const { version } = (await store.head(BUCKET, 'pinned.bin'))!;
      expect(version).toBeTruthy();
      expect(Array.from(await store.get(BUCKET, 'pinned.bin', { version }))).toEqual([1, 2, 3, 4]);
      expect(Array.from(await store.getRange(BUCKET, 'pinned.bin', 1, 3, { version }))).toEqual([2, 3]);
      await store.put(BUCKET, 'pinned.bin', Uint8Array.from([9, 9, 9, 9])); // same size, other bytes
      expect((await store.head(BUCKET, 'pinned.bin'))!.version).not.toBe(version);
      await expect(store.get(BUCKET, 'pinned.bin', { version })).rejects.toThrow(ObjectChangedError);
      // a range read at the old version fails, or (a handle still open on it, as an S3 version would) returns the old bytes
      const again = await store.getRange(BUCKET, 'pinned.bin', 0, 4, { version }).then((b) => Array.from(b), (err: Error) => err);
      if (again instanceof Error) expect(again.message).toMatch(/no longer the version that was read before/);
      else expect(again).toEqual([1, 2, 3, 4]);
    });

    it('fails a pinned read when the object is rewritten in place', async () => {
      const store = make();
      await store.put(BUCKET, 'inplace.bin', Uint8Array.from([1, 2, 3, 4]));
      const { version } = (await store.head(BUCKET, 'inplace.bin'))!;
      expect(Array.from(await store.getRange(BUCKET, 'inplace.bin', 0, 4, { version }))).toEqual([1, 2, 3, 4]);
      if (store instanceof FolderBlobStore) await writeFile(join(store.root, BUCKET, 'inplace.bin'), Uint8Array.from([7, 7, 7, 7])); // same file
      else await store.put(BUCKET, 'inplace.bin', Uint8Array.from([7, 7, 7, 7]));
      await expect(store.getRange(BUCKET, 'inplace.bin', 0, 4, { version })).rejects.toThrow(ObjectChangedError);
    });

    it('lists keys under a prefix, sorted, and nothing outside it', async () => {
      const store = make();
      const run = 'list-run';
      for (const r of [2, 0, 1]) await store.put(BUCKET, keys.globalModel(run, r), `model ${r}`);
      await store.put(BUCKET, keys.run(run), '{}');
      await store.put(BUCKET, keys.globalModel('other-run', 0), 'x');
      const listed = await store.list(BUCKET, `runs/${run}/rounds/`);
      expect(listed).toEqual([0, 1, 2].map((r) => keys.globalModel(run, r)));
      expect(await store.list(BUCKET, 'runs/none/')).toEqual([]);
    });

    if (opts.conditional) {
      it('never overwrites on a conditional put, and putOnce accepts an identical retry', async () => {
        const store = make();
        await store.put(BUCKET, 'once.txt', 'first', { ifNoneMatch: true });
        await expect(store.put(BUCKET, 'once.txt', 'second', { ifNoneMatch: true })).rejects.toThrow(ObjectExistsError);
        expect(new TextDecoder().decode(await store.get(BUCKET, 'once.txt'))).toBe('first');
        expect(await putOnce(store, BUCKET, 'once.txt', 'first')).toBe('identical');
        await expect(putOnce(store, BUCKET, 'once.txt', 'different')).rejects.toThrow(ObjectExistsError);
        expect(await putOnce(store, BUCKET, 'twice.txt', 'new')).toBe('written');
      });

      it('lets exactly one of many concurrent conditional writers win', async () => {
        const store = make();
        const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.put(BUCKET, 'race.txt', `writer ${i}`, { ifNoneMatch: true })));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      });
    }
  });
}

let folderRoot: string;
let s3Dir: string;
let server: S3rver;
let endpoint: string;

beforeAll(async () => {
  folderRoot = await mkdtemp(join(tmpdir(), 'fedrad-store-'));
  s3Dir = await mkdtemp(join(tmpdir(), 'fedrad-s3rver-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: s3Dir, configureBuckets: [{ name: BUCKET, configs: [] }] });
  const { port } = await server.run();
  endpoint = `http://127.0.0.1:${port}`;
  process.env.AWS_ACCESS_KEY_ID ??= 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'S3RVER';
});

afterAll(async () => {
  await server?.close();
  await rm(folderRoot, { recursive: true, force: true });
  await rm(s3Dir, { recursive: true, force: true });
});

contract('the folder adapter', () => new FolderBlobStore(folderRoot), { conditional: true });
contract('the S3 adapter against s3rver', () => new S3BlobStore({ endpoint, region: 'us-east-1' }), { conditional: false });

describe('the S3 adapter on a 412 Precondition Failed', () => {
  it('reports ObjectExistsError, and putOnce compares the stored bytes', async () => {
    const stored = new TextEncoder().encode('first');
    const client = {
      send: async (command: { constructor: { name: string } }) => {
        if (command.constructor.name === 'PutObjectCommand') {
          throw new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', $metadata: { httpStatusCode: 412 }, message: 'At least one of the pre-conditions you specified did not hold' });
        }
        return { Body: { transformToByteArray: async () => stored } };
      },
    } as unknown as S3Client;
    const store = new S3BlobStore({ client });
    await expect(store.put(BUCKET, 'k', 'x', { ifNoneMatch: true })).rejects.toThrow(ObjectExistsError);
    expect(await putOnce(store, BUCKET, 'k', 'first')).toBe('identical');
    await expect(putOnce(store, BUCKET, 'k', 'other')).rejects.toThrow(/already exists and is never overwritten/);
  });
});

describe('the S3 adapter on an Object Lock bucket', () => {
  it('sends the Content-MD5 such a bucket requires (S3 refuses a PUT without it)', async () => {
    const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
    const seen: Array<string | undefined> = [];
    client.middlewareStack.add((next) => async (args) => {
      seen.push((args.request as { headers: Record<string, string> }).headers['content-md5']);
      return next(args);
    }, { step: 'finalizeRequest', name: 'recordMd5' });
    const store = new S3BlobStore({ client, endpoint });
    const body = new TextEncoder().encode('model bytes');
    await store.put(BUCKET, 'locked/model.onnx', body);
    expect(seen).toEqual([createHash('md5').update(body).digest('base64')]);
    expect(await store.get(BUCKET, 'locked/model.onnx')).toEqual(body);
  });
});
