// Sites placed as in the cloud, run locally from the same synthesized state machines: a federation
// with one site of each mode learns what the all-central one learns; a killed agent fails only its
// site (heartbeat timeout) and, restarted, trains the next round; a site policy's refusal and its
// kill switch fail only their site, with the rule in lineage; central components cannot read a
// site-account site's data/.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type SimulationResult, simulate } from '../../infra/local/simulate.js';
import { permissivePolicy } from '../../infra/local/site-modes.js';
import { LineageSchema } from '../../lib/schemas/lineage.js';
import { getJson } from '../../lib/storage/blob-store.js';
import { FolderBlobStore } from '../../lib/storage/folder-store.js';
import { keys } from '../../lib/storage/keys.js';
import { storeFromEnv } from '../../lib/storage/store-from-env.js';
import type { WorkflowEvent } from '../../lib/workflow/local-runner.js';

const dirs: string[] = [];
async function outDir() {
  const d = await mkdtemp(join(tmpdir(), 'fedrad-site-compute-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const small = { minImages: 24, maxImages: 32, testImages: 60, inputSize: 16, baselines: false, concurrency: 3 };
const lineage = async (r: SimulationResult, round: number) => LineageSchema.parse(await getJson(new FolderBlobStore(r.storageRoot), r.modelsBucket, keys.lineage(r.runId, round)));
const outcome = async (r: SimulationResult, round: number, siteId: string) => (await lineage(r, round)).sites.find((s) => s.siteId === siteId);

describe('sites in every placement', () => {
  it('completes a run with one site of each mode, matching the all-central run within 1%', async () => {
    const common = { ...small, sites: 3, rounds: 1, seed: 11, runId: 'modes' };
    const mixed = await simulate({ ...common, out: await outDir(), siteModes: ['central', 'site-account', 'on-premises'], agentHeartbeatSeconds: 30 });
    // a central component (this process runs the functions) reads the site-account site's updates/, never its data/
    const store = storeFromEnv();
    const siteAccountBucket = 'fedrad-local-site-2';
    expect((await store.list(siteAccountBucket, keys.updatesPrefix('modes', 0))).length).toBeGreaterThan(0);
    await expect(store.list(siteAccountBucket, 'data/')).rejects.toMatchObject({ name: 'AccessDenied' });
    await expect(store.get(siteAccountBucket, 'data/manifest.json')).rejects.toThrow(/access denied: s3:\/\/fedrad-local-site-2\/data\/manifest\.json is in another account/);
    const central = await simulate({ ...common, out: await outDir() });
    expect(mixed.status, mixed.cause).toBe('succeeded');
    expect(central.status).toBe('succeeded');
    expect((await lineage(mixed, 1)).sites.map((s) => `${s.siteId} ${s.status}`)).toEqual(['site-1 accepted', 'site-2 accepted', 'site-3 accepted']);
    expect(mixed.federatedMetric).not.toBeNull();
    expect(Math.abs(mixed.federatedMetric! - central.federatedMetric!)).toBeLessThanOrEqual(0.01 * Math.max(mixed.federatedMetric!, central.federatedMetric!));
    // the same updates, whatever the placement: the same sample counts reached the strategy
    const samples = async (r: SimulationResult) => (await lineage(r, 1)).sites.map((s) => (s.status === 'accepted' ? s.sampleCount : -1));
    expect(await samples(mixed)).toEqual(await samples(central));
  }, 240_000);

  it('fails only the site whose agent is killed mid-task (heartbeat timeout); restarted, it trains the next round', async () => {
    const events: WorkflowEvent[] = [];
    const r = await simulate({
      ...small, sites: 3, rounds: 2, minSites: 2, out: await outDir(), runId: 'killed', siteModes: ['central', 'central', 'on-premises'],
      agentHeartbeatSeconds: 3, agentBeatSeconds: 0.5, killAgents: [{ siteId: 'site-3', round: 0, afterMs: 300 }], onEvent: (e) => events.push(e),
    });
    expect(r.status, r.cause).toBe('succeeded');
    expect(await outcome(r, 1, 'site-3')).toEqual({ siteId: 'site-3', status: 'failed', error: 'States.HeartbeatTimeout' });
    expect((await lineage(r, 1)).sites.filter((s) => s.status === 'accepted').map((s) => s.siteId)).toEqual(['site-1', 'site-2']);
    expect(await outcome(r, 2, 'site-3')).toMatchObject({ status: 'accepted' });
    expect(events.some((e) => e.type === 'job-finished' && e.siteId === 'site-3' && e.round === 0 && !e.ok && /HeartbeatTimeout/.test(e.error ?? ''))).toBe(true);
  }, 180_000);

  it('fails only the sites whose policy refuses the task (a rule, the kill switch, no policy), with the rule in lineage', async () => {
    const events: WorkflowEvent[] = [];
    const allow = permissivePolicy('cnn-classifier', 1);
    const r = await simulate({
      ...small, sites: 5, rounds: 1, minSites: 1, out: await outDir(), runId: 'policy', siteModes: ['central', 'site-account', 'on-premises', 'on-premises', 'on-premises'],
      agentHeartbeatSeconds: 30,
      sitePolicies: {
        'site-2': { ...allow, allowedStrategies: ['median'] },
        'site-3': { ...allow, enabled: false },
        'site-4': null,
        'site-5': { ...allow, allowedModels: ['unet-segmenter'] },
      },
      onEvent: (e) => events.push(e),
    });
    expect(r.status, r.cause).toBe('succeeded');
    const sites = (await lineage(r, 1)).sites;
    expect(sites.find((s) => s.siteId === 'site-1')).toMatchObject({ status: 'accepted' });
    expect(sites.find((s) => s.siteId === 'site-3')).toEqual({ siteId: 'site-3', status: 'failed', error: 'site-policy: enabled' });
    expect(sites.find((s) => s.siteId === 'site-4')).toEqual({ siteId: 'site-4', status: 'failed', error: 'site-policy: missing' });
    expect(sites.find((s) => s.siteId === 'site-5')).toEqual({ siteId: 'site-5', status: 'failed', error: 'site-policy: allowedModels' });
    // the site-account job refuses inside the hospital's account and records why under updates/:
    // the gate turns the record into the failed site, with the rule, as the agent's failure does
    expect(sites.find((s) => s.siteId === 'site-2')).toMatchObject({ status: 'failed', error: 'site-policy: allowedStrategies' });
    const refused = sites.find((s) => s.siteId === 'site-2');
    expect(refused?.status === 'failed' && refused.cause).toMatch(/strategy "fedavg" is not allowed; allowed: median/);
    expect(events.some((e) => e.type === 'job-finished' && e.siteId === 'site-2' && e.ok)).toBe(true);
    // nothing was trained at the refusing sites
    const store = new FolderBlobStore(r.storageRoot);
    for (const site of ['site-3', 'site-4', 'site-5']) expect(await store.list(`fedrad-local-${site}`, 'updates/')).toEqual([]);
    expect(r.report.rounds[0].failed).toContainEqual({ siteId: 'site-3', error: 'site-policy: enabled' });
    expect(r.report.rounds[0].failed.length).toBe(4);
  }, 180_000);
});
