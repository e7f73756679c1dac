// An on-premises site's dataset on an S3-compatible endpoint inside the hospital (s3rver here, on
// 127.0.0.1): the training job reads it there, exactly as from a folder; the agent passes it on.
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderDataSource } from '../../../lib/data/data-source.js';
import { loadSiteDataset } from '../../../lib/data/load-dataset.js';
import { synthesizeFederation } from '../../../lib/data/synth.js';
import { jobEnvironment } from '../../../lib/site/agent.js';
import { SiteAgentConfigSchema } from '../../../lib/site/agent-config.js';
import { siteDataSourceFromEnv } from '../../../lib/site/site-data.js';
import { S3BlobStore } from '../../../lib/storage/s3-store.js';

let server: S3rver;
let endpoint: string;
let root: string;
let siteDir: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'fedrad-site-data-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: join(root, 's3') });
  endpoint = `http://127.0.0.1:${(await server.run()).port}`;
  process.env.AWS_ACCESS_KEY_ID ??= 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'S3RVER';
  await synthesizeFederation({ out: join(root, 'fed'), sites: 1, seed: 3, minImages: 12, maxImages: 16, testImages: 4, inputSize: 16 });
  siteDir = join(root, 'fed', 'site-1', 'data');
  const store = new S3BlobStore({ endpoint });
  await store.client.send(new CreateBucketCommand({ Bucket: 'trust-pacs-export' }));
  const walk = async (dir: string): Promise<string[]> => (await Promise.all((await readdir(dir, { withFileTypes: true })).map((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)])))).flat();
  for (const file of await walk(siteDir)) await store.put('trust-pacs-export', `radiology/chest/${relative(siteDir, file)}`, await readFile(file));
});
afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

describe("a site's dataset on an S3-compatible endpoint", () => {
  it('loads in the training job exactly as the same dataset from a folder', async () => {
    const config = SiteAgentConfigSchema.parse({ siteId: 'site-1', queueUrl: 'https://sqs.eu-west-2.amazonaws.com/111111111111/q', policyFile: 'p.json', dataS3: { endpoint, bucket: 'trust-pacs-export', prefix: 'radiology/chest/' } });
    const task = { version: 1, taskToken: 't', runId: 'r', round: 0, rounds: 1, siteId: 'site-1', siteBucket: 'b', modelsBucket: 'm', globalModelKey: 'k', globalModelSha256: 'a'.repeat(64), trainingSpec: '{}', strategy: { type: 'fedavg' } } as Parameters<typeof jobEnvironment>[0];
    const env = jobEnvironment(task, config);
    expect(env.FEDRAD_DATA_DIR).toBeUndefined();
    const fromS3 = await loadSiteDataset(siteDataSourceFromEnv(env)!);
    const fromFolder = await loadSiteDataset(new FolderDataSource(siteDir));
    expect(fromS3.train.count).toBeGreaterThan(0);
    expect(fromS3.train.count).toBe(fromFolder.train.count);
    expect(fromS3.validation.count).toBe(fromFolder.validation.count);
    expect(Buffer.from(fromS3.train.images.buffer).equals(Buffer.from(fromFolder.train.images.buffer))).toBe(true);
  });

  it('needs exactly one of dataDir and dataS3, and names a bad endpoint setting', () => {
    const base = { siteId: 'site-1', queueUrl: 'https://sqs.eu-west-2.amazonaws.com/1/q', policyFile: 'p.json' };
    expect(SiteAgentConfigSchema.safeParse(base).error?.issues[0].message).toMatch(/exactly one of dataDir .* or dataS3/);
    expect(SiteAgentConfigSchema.safeParse({ ...base, dataDir: '/d', dataS3: { endpoint, bucket: 'b1b' } }).success).toBe(false);
    expect(() => siteDataSourceFromEnv({ FEDRAD_DATA_S3: JSON.stringify({ endpoint, bucket: 'B!' }) })).toThrow(/FEDRAD_DATA_S3: bucket: an S3 bucket name/);
  });
});
