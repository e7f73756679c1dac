// A site-account job refused by its site's policy records why under updates/; the gate turns the
// record into a failed site with the rule. The record is read as untrusted: another site's, an
// unknown rule or a malformed one is no refusal at all (the gate then reports the missing manifest).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateUpdate } from '../../../lib/federation/validate-update.js';
import { recordRefusal } from '../../../lib/site/refusal.js';
import { FolderBlobStore } from '../../../lib/storage/folder-store.js';
import { keys } from '../../../lib/storage/keys.js';

let root: string;
let store: FolderBlobStore;
const BUCKET = 'fedrad-r-site-a';
const job = { FEDRAD_SITE_BUCKET: BUCKET, FEDRAD_SITE_ID: 'site-a', FEDRAD_RUN_ID: 'run-r', FEDRAD_ROUND: 0 };
const input = { runId: 'run-r', round: 0, siteId: 'site-a', siteBucket: BUCKET, modelsBucket: 'fedrad-r-models', globalModelKey: keys.globalModel('run-r', 0), globalModelSha256: 'a'.repeat(64) };
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'fedrad-refusal-'));
  store = new FolderBlobStore(root);
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('a recorded refusal', () => {
  it('becomes a failed site with the rule, its message escaped', async () => {
    await recordRefusal(store, job, 'allowedStrategies', 'strategy "krum" is not allowed\u001b[2J; allowed: median');
    expect(await validateUpdate(store, input)).toEqual({ siteId: 'site-a', status: 'failed', error: 'site-policy: allowedStrategies', cause: 'strategy "krum" is not allowed\\u001b[2J; allowed: median' });
  });

  it.each([
    ['naming another site', JSON.stringify({ version: 1, siteId: 'site-b', rule: 'enabled', message: 'x' })],
    ['with a rule the policy does not have', JSON.stringify({ version: 1, siteId: 'site-a', rule: 'because', message: 'x' })],
    ['that is not JSON', '{"version": 1,'],
    ['with a key twice', '{"version":1,"siteId":"site-a","rule":"enabled","rule":"maxRounds","message":"x"}'],
  ])('is ignored when %s: the gate reports the missing manifest', async (_name, body) => {
    await store.put(BUCKET, keys.refusal('run-r', 1), body);
    expect(await validateUpdate(store, { ...input, round: 1 })).toMatchObject({ status: 'rejected', reasons: [{ code: 'missing-manifest' }] });
  });
});
