import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderBlobStore } from '../../../lib/storage/folder-store.js';
import { BucketRoutedStore } from '../../../lib/storage/routed-store.js';
import { trainingStoreFromEnv } from '../../../lib/storage/store-from-env.js';
import { TrainingJobEnvSchema } from '../../../lib/schemas/training-job.js';

let rootA: string;
let rootB: string;
beforeAll(async () => {
  rootA = await mkdtemp(join(tmpdir(), 'fedrad-route-a-'));
  rootB = await mkdtemp(join(tmpdir(), 'fedrad-route-b-'));
});
afterAll(async () => {
  await rm(rootA, { recursive: true, force: true });
  await rm(rootB, { recursive: true, force: true });
});

describe('BucketRoutedStore', () => {
  it("sends the site bucket to the site's store and every other bucket to the job's own", async () => {
    const site = new FolderBlobStore(rootA);
    const own = new FolderBlobStore(rootB);
    const store = new BucketRoutedStore(new Map([['fedrad-site-x', site]]), own);
    await store.put('fedrad-site-x', 'updates/u.bin', 'update');
    await store.put('fedrad-models', 'runs/r/global.onnx', 'model');
    expect(new TextDecoder().decode(await site.get('fedrad-site-x', 'updates/u.bin'))).toBe('update');
    expect(await own.head('fedrad-site-x', 'updates/u.bin')).toBeUndefined();
    expect(new TextDecoder().decode(await own.get('fedrad-models', 'runs/r/global.onnx'))).toBe('model');
    expect(await site.head('fedrad-models', 'runs/r/global.onnx')).toBeUndefined();
    expect(new TextDecoder().decode(await store.getRange('fedrad-site-x', 'updates/u.bin', 1, 4))).toBe('pda');
    expect(await store.list('fedrad-models', 'runs/')).toEqual(['runs/r/global.onnx']);
    expect(store.location).toContain('fedrad-site-x via folder');
  });
});

describe('the training job store', () => {
  const env = { FEDRAD_RUN_ID: 'r1', FEDRAD_ROUND: '2', FEDRAD_SITE_ID: 'kings', FEDRAD_SITE_BUCKET: 'fedrad-x-kings', AWS_REGION: 'eu-west-2' };
  it("routes the site bucket through the site account's role when one is named", () => {
    const store = trainingStoreFromEnv({ ...env, FEDRAD_SITE_ROLE_ARN: 'arn:aws:iam::222222222222:role/fedrad-x-kings-site-access' });
    expect(store).toBeInstanceOf(BucketRoutedStore);
    expect(store.location).toMatch(/^fedrad-x-kings via S3; others via S3$/);
  });

  it('uses one store when the site is in the central account or the run is local', () => {
    expect(trainingStoreFromEnv(env)).not.toBeInstanceOf(BucketRoutedStore);
    expect(trainingStoreFromEnv({ ...env, FEDRAD_SITE_ROLE_ARN: 'arn:aws:iam::222222222222:role/r', FEDRAD_STORAGE_ROOT: rootA })).toBeInstanceOf(FolderBlobStore);
  });

  it('refuses a site role that is not an IAM role ARN, saying what one looks like', () => {
    const base = { ...env, FEDRAD_MODELS_BUCKET: 'fedrad-models', FEDRAD_GLOBAL_MODEL_KEY: 'k', FEDRAD_GLOBAL_MODEL_SHA256: 'a'.repeat(64), FEDRAD_TRAINING_SPEC: '{}' };
    const bad = TrainingJobEnvSchema.safeParse({ ...base, FEDRAD_SITE_ROLE_ARN: 'arn:aws:s3:::bucket' });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error)).toMatch(/IAM role ARN such as arn:aws:iam::123456789012:role\/name/);
  });
});
