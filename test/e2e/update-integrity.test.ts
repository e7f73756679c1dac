// Validate-then-swap, through the local workflow on both aggregation paths (the function in-process,
// the CPU Batch job as a child process): a site whose update the gate accepted rewrites it before
// `Aggregate round` runs — NaN values written in place, or every value x 1e27 swapped in by rename.
// Aggregation reads only the version the gate checked: the site is dropped as `tampered` in
// lineage, the next model is finite and moved only by the honest sites, and below quorum the round
// fails without writing a model.
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { simulate } from '../../infra/local/simulate.js';
import { decodeModel } from '../../lib/model/onnx-io.js';
import { LineageSchema } from '../../lib/schemas/lineage.js';
import { getJson } from '../../lib/storage/blob-store.js';
import { FolderBlobStore } from '../../lib/storage/folder-store.js';
import { keys } from '../../lib/storage/keys.js';
import type { WorkflowEvent } from '../../lib/workflow/local-runner.js';

const dirs: string[] = [];
async function outDir() {
  const d = await mkdtemp(join(tmpdir(), 'fedrad-integrity-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const small = { sites: 3, minImages: 12, maxImages: 16, testImages: 10, inputSize: 16, baselines: false, trainer: 'noop' as const, rounds: 2 };

type Swap = 'nan-in-place' | 'scaled-by-rename';

/** The site's update file in the folder layout (buckets/<site bucket>/updates/...). */
function updatePath(out: string, siteId: string, runId: string, round: number): string {
  const root = join(out, 'buckets');
  const bucket = readdirSync(root).find((b) => b.endsWith(`-${siteId}`))!;
  return join(root, bucket, keys.update(runId, round));
}

/** Rewrites the update's values (the header stays): same size, as a hostile site would. */
function swap(path: string, how: Swap): void {
  const bytes = readFileSync(path);
  const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset + headerEnd, bytes.byteOffset + bytes.length));
  for (let i = 0; i < values.length; i++) values[i] = how === 'nan-in-place' ? Number.NaN : values[i] * 1e27;
  const out = Buffer.concat([bytes.subarray(0, headerEnd), Buffer.from(values.buffer)]);
  expect(out.length).toBe(bytes.length);
  if (how === 'nan-in-place') writeFileSync(path, out); // same file, rewritten
  else {
    writeFileSync(`${path}.swap`, out);
    renameSync(`${path}.swap`, path); // a new file in its place
  }
}

/** Swaps `siteId`'s update in round `round` as soon as the gate has accepted it. */
function swapAfterValidation(out: () => string, runId: string, siteId: string, round: number, how: Swap, seen: string[]) {
  return (e: WorkflowEvent) => {
    if (e.type === 'site-validated' && e.siteId === siteId && e.round === round && e.status === 'accepted') {
      swap(updatePath(out(), siteId, runId, round), how);
      seen.push(`${siteId}:${round}`);
    }
  };
}

describe.each(['lambda', 'batch'] as const)('an update swapped after validation, aggregated on %s', (aggregation) => {
  it.each(['nan-in-place', 'scaled-by-rename'] as const)('%s: the site is dropped as tampered and the model stays finite and bounded', async (how) => {
    const out = await outDir();
    const runId = `swap-${aggregation}-${how}`;
    const seen: string[] = [];
    const r = await simulate({ ...small, minSites: 2, out, runId, aggregation, onEvent: swapAfterValidation(() => out, runId, 'site-2', 0, how, seen) });
    expect(seen).toEqual(['site-2:0']);
    expect(r.status).toBe('succeeded');
    const store = new FolderBlobStore(r.storageRoot);
    const lineage = LineageSchema.parse(await getJson(store, r.modelsBucket, keys.lineage(runId, 1)));
    const tampered = lineage.sites.find((s) => s.siteId === 'site-2')!;
    expect(tampered).toMatchObject({ status: 'rejected', reasons: [{ code: 'tampered' }] });
    expect(tampered.status === 'rejected' && tampered.reasons[0].message).toMatch(/changed after validation|replaced after validation/);
    expect(lineage.sites.filter((s) => s.status === 'accepted').map((s) => s.siteId)).toEqual(['site-1', 'site-3']);
    expect(lineage.strategyReport?.tampered).toEqual(['site-2']);
    // the noop trainer moves every weight by a small constant per site (<= 1.7e-3): the model moved
    // by a mean of the honest steps only, every weight finite
    const before = decodeModel(await store.get(r.modelsBucket, keys.globalModel(runId, 0)));
    const after = decodeModel(await store.get(r.modelsBucket, keys.globalModel(runId, 1)));
    let moved = 0;
    for (const [name, t] of after.graph.initializers) {
      if (t.dtype !== 'float32') continue;
      const a = t.data as Float32Array;
      const b = before.graph.initializers.get(name)!.data as Float32Array;
      for (let k = 0; k < a.length; k++) {
        expect(Number.isFinite(a[k])).toBe(true);
        moved = Math.max(moved, Math.abs(a[k] - b[k]));
      }
    }
    expect(moved).toBeGreaterThan(0);
    expect(moved).toBeLessThan(2e-3);
    // the next round runs on the honest model, with every site again
    const second = LineageSchema.parse(await getJson(store, r.modelsBucket, keys.lineage(runId, 2)));
    expect(second.sites.filter((s) => s.status === 'accepted').map((s) => s.siteId)).toEqual(['site-1', 'site-2', 'site-3']);
  });

  it('below quorum after dropping the tampered site, the round fails and writes no model', async () => {
    const out = await outDir();
    const runId = `swap-quorum-${aggregation}`;
    const r = await simulate({ ...small, minSites: 3, out, runId, aggregation, onEvent: swapAfterValidation(() => out, runId, 'site-3', 0, 'scaled-by-rename', []) });
    expect(r.status).toBe('failed');
    expect(r.error).toBe('QuorumNotReachedError');
    expect(r.cause).toMatch(/2 update\(s\) accepted, fewer than minSites=3; model 0 stays current.*site-3 rejected \(tampered\)/);
    const store = new FolderBlobStore(r.storageRoot);
    expect(await store.head(r.modelsBucket, keys.globalModel(runId, 1))).toBeUndefined();
  });
});
