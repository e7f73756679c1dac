// `fedrad simulate --s3-endpoint`: the same federation against an S3 wire protocol (s3rver on
// 127.0.0.1) instead of the local folder: buckets created there, data uploaded, jobs and functions
// reading and writing through the S3 adapter.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulate } from '../../infra/local/simulate.js';
import { sha256 } from '../../lib/model/onnx-io.js';
import { LineageSchema } from '../../lib/schemas/lineage.js';
import { getJson } from '../../lib/storage/blob-store.js';
import { keys } from '../../lib/storage/keys.js';
import { S3BlobStore } from '../../lib/storage/s3-store.js';

let server: S3rver;
let endpoint: string;
const dirs: string[] = [];

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fedrad-s3rver-e2e-'));
  dirs.push(dir);
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir });
  const { port } = await server.run();
  endpoint = `http://127.0.0.1:${port}`;
  process.env.AWS_ACCESS_KEY_ID ??= 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'S3RVER';
  process.env.AWS_REGION ??= 'us-east-1';
});

afterAll(async () => {
  await server?.close();
  delete process.env.AWS_ENDPOINT_URL;
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('a federation against an S3-compatible endpoint', () => {
  it('trains and aggregates through the S3 adapter', async () => {
    const out = await mkdtemp(join(tmpdir(), 'fedrad-s3-sim-'));
    dirs.push(out);
    const r = await simulate({ sites: 2, rounds: 1, out, minImages: 16, maxImages: 24, testImages: 10, inputSize: 16, baselines: false, concurrency: 2, runId: 's3', s3Endpoint: endpoint });
    expect(r.status, r.cause).toBe('succeeded');
    const s3 = new S3BlobStore({ endpoint });
    const lineage = LineageSchema.parse(await getJson(s3, r.modelsBucket, keys.lineage('s3', 1)));
    expect(lineage.sites.map((s) => s.status)).toEqual(['accepted', 'accepted']);
    expect(sha256(await s3.get(r.modelsBucket, keys.globalModel('s3', 1)))).toBe(lineage.modelSha256);
    expect(await s3.head('fedrad-local-site-1', keys.updateManifest('s3', 0))).toBeDefined();
    expect((await s3.list('fedrad-local-site-2', 'data/images/')).length).toBeGreaterThan(10);
  });
});
