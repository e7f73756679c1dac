// The Lambda handlers with fixture events, against a folder store: run input errors name the field;
// the gate accepts a good update and rejects each kind of bad one with its reason code.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as prepare } from '../../functions/prepare-run/handler.js';
import { handler as validate } from '../../functions/validate-update/handler.js';
import type { RoundState } from '../../lib/federation/round-state.js';
import { computeUpdate, updatableInitializers } from '../../lib/federation/update.js';
import { floatTensor } from '../../lib/model/graph.js';
import { decodeModel, sha256 } from '../../lib/model/onnx-io.js';
import { encodeSafetensors } from '../../lib/model/safetensors.js';
import type { UpdateManifest } from '../../lib/schemas/update-manifest.js';
import { FolderBlobStore } from '../../lib/storage/folder-store.js';
import { keys } from '../../lib/storage/keys.js';

const SITES = [
  { siteId: 'site-a', bucket: 'fedrad-t-site-a', jobDefinitionArn: 'arn:aws:batch:us-east-1:000000000000:job-definition/a:1' },
  { siteId: 'site-b', bucket: 'fedrad-t-site-b', jobDefinitionArn: 'arn:aws:batch:us-east-1:000000000000:job-definition/b:1' },
];
let root: string;
let store: FolderBlobStore;
let state: RoundState;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'fedrad-handlers-'));
  Object.assign(process.env, { FEDRAD_STORAGE_ROOT: root, FEDRAD_MODELS_BUCKET: 'fedrad-t-models', FEDRAD_SITES: JSON.stringify(SITES) });
  store = new FolderBlobStore(root);
  const fixture = JSON.parse(await readFile(join(import.meta.dirname, '../fixtures/run-input.json'), 'utf8'));
  state = (await prepare({ input: { ...fixture, model: { zoo: 'cnn-classifier', inputSize: 16, width: 4 } }, executionName: 'exec-1' })) as RoundState;
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('prepare-run', () => {
  it('turns the documented run input into round 0, with model 0 written once', async () => {
    expect(state).toMatchObject({ runId: 'ct-lesion-2026-11', round: 0, rounds: 5, minSites: 2, sites: SITES });
    expect(JSON.parse(state.trainingSpec)).toMatchObject({ loss: 'softmax-cross-entropy', optimizer: { type: 'adam', learningRate: 0.002 } });
    expect(sha256(await store.get('fedrad-t-models', state.globalModelKey))).toBe(state.globalModelSha256);
    const again = await prepare({ input: { ...JSON.parse(await readFile(join(import.meta.dirname, '../fixtures/run-input.json'), 'utf8')), model: { zoo: 'cnn-classifier', inputSize: 16, width: 4 } }, executionName: 'exec-2' });
    expect(again).toEqual(state); // a retried or redriven step is a no-op
  });

  it.each([
    [{ rounds: 0 }, /run input is invalid: rounds: Too small: expected number to be >=1/],
    [{ strategy: { type: 'bulyan' } }, /strategy\.type: Invalid .*fedavg.*krum/],
    [{ strategy: { type: 'krum', f: 1 } }, /krum with f=1 needs at least 5 accepted updates a round \(n >= 2f \+ 3\)/],
    [{ strategy: { type: 'median', dp: { clipNorm: 1, noiseMultiplier: 1 } } }, /strategy: Unrecognized key.*dp/],
    [{ rnds: 5 }, /\(top level\): Unrecognized key.*rnds/],
    [{ model: { zoo: 'resnet50' } }, /model\.zoo: Invalid option: expected one of "cnn-classifier"\|"unet-segmenter"/],
    [{ sites: ['site-a', 'site-z'] }, /unknown sites: site-z; this deployment has site-a, site-b/],
    [{ minSites: 3 }, /minSites is 3 but the run has only 2 site\(s\); use a value from 1 to 2/],
    [{ runId: 'has spaces' }, /runId: use 1-60 letters/],
  ])('refuses %j, naming the field and what is allowed', async (input, message) => {
    const err = await prepare({ input, executionName: 'bad' }).catch((e) => e);
    expect(err.name).toBe('InvalidRunInputError');
    expect(err.message).toMatch(message);
  });
});

describe('validate-update', () => {
  const global = async () => decodeModel(await store.get('fedrad-t-models', state.globalModelKey));
  async function writeUpdate(site: string, mutate: (m: UpdateManifest, tensors: Map<string, ReturnType<typeof floatTensor>>) => void = () => {}): Promise<void> {
    const g = await global();
    const local = new Map([...updatableInitializers(g)].map(([n, t]) => [n, floatTensor(t.dims, (t.data as Float32Array).map((v) => v + 0.01))]));
    const tensors = computeUpdate(g, local) as Map<string, ReturnType<typeof floatTensor>>;
    const manifest: UpdateManifest = { version: 1, siteId: site, runId: state.runId, round: 0, baseModelSha256: state.globalModelSha256, updateSha256: '', sampleCount: 40, globalMetrics: { accuracy: 0.5 }, localMetrics: { accuracy: 0.6 }, trainLoss: 0.5, steps: 2, executionProvider: 'cpu', seconds: 1 };
    mutate(manifest, tensors);
    const bytes = encodeSafetensors(tensors);
    if (!manifest.updateSha256) manifest.updateSha256 = sha256(bytes);
    const bucket = SITES.find((s) => s.siteId === 'site-a')!.bucket;
    await store.put(bucket, keys.update(state.runId, 0), bytes);
    await store.put(bucket, keys.updateManifest(state.runId, 0), JSON.stringify(manifest));
  }
  const event = () => ({ runId: state.runId, round: 0, siteId: 'site-a', siteBucket: 'fedrad-t-site-a', modelsBucket: 'fedrad-t-models', globalModelKey: state.globalModelKey, globalModelSha256: state.globalModelSha256 });
  const codes = async () => {
    const out = (await validate(event())) as { status: string; reasons?: Array<{ code: string }> };
    return out.status === 'accepted' ? 'accepted' : out.reasons!.map((r) => r.code);
  };

  it('accepts a well-formed update', async () => {
    await writeUpdate('site-a');
    expect(await validate(event())).toMatchObject({ siteId: 'site-a', status: 'accepted', sampleCount: 40 });
  });

  it("publishes the site's training duration as a metric with a site dimension", async () => {
    const { metrics } = await import('../../functions/shared/powertools.js');
    (metrics as unknown as { disabled: boolean }).disabled = false;
    await writeUpdate('site-a', (m) => (m.seconds = 42.5));
    const emf = await captureEmf(() => validate(event()));
    expect(emf.find((o) => 'TrainingSeconds' in o), JSON.stringify(emf)).toMatchObject({ TrainingSeconds: 42.5, site: 'site-a' });
  });

  it.each([
    ['a site claiming another site', (m: UpdateManifest) => (m.siteId = 'site-b'), ['site-mismatch']],
    ['a stale base model', (m: UpdateManifest) => (m.baseModelSha256 = 'a'.repeat(64)), ['stale-base-model']],
    ['a replay from another round', (m: UpdateManifest) => (m.round = 3), ['wrong-round']],
    ['a checksum that does not match', (m: UpdateManifest) => (m.updateSha256 = 'b'.repeat(64)), ['checksum-mismatch']],
    ['no samples', (m: UpdateManifest) => (m.sampleCount = 0), ['sample-count']],
    ['a NaN', (_m: UpdateManifest, t: Map<string, ReturnType<typeof floatTensor>>) => ((t.get('head.bias')!.data as Float32Array)[1] = Number.NaN), ['non-finite']],
    ['a wrong shape', (_m: UpdateManifest, t: Map<string, ReturnType<typeof floatTensor>>) => t.set('head.bias', floatTensor([3])), ['wrong-shape']],
    ['an unknown and a missing tensor', (_m: UpdateManifest, t: Map<string, ReturnType<typeof floatTensor>>) => { t.delete('head.bias'); t.set('extra', floatTensor([1])); }, ['unknown-tensor', 'missing-tensor']],
  ])('rejects %s with its reason code', async (_name, mutate, expected) => {
    await writeUpdate('site-a', mutate as never);
    expect(await codes()).toEqual(expected);
  });

  it('rejects a missing update with a reason, not an exception', async () => {
    expect(await validate({ ...event(), round: 4 })).toMatchObject({ status: 'rejected', reasons: [{ code: 'missing-manifest' }] });
  });
});

/** The EMF documents a function printed while `run` ran. */
async function captureEmf(run: () => Promise<unknown>): Promise<Array<Record<string, unknown>>> {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    await run();
  } finally {
    process.stdout.write = write;
  }
  return lines.flatMap((l) => l.split('\n')).flatMap((l) => { try { const o = JSON.parse(l); return o?._aws?.CloudWatchMetrics ? [o] : []; } catch { return []; } });
}

describe('aggregate-round metrics', () => {
  it('publishes accepted, rejected and failed counts and the global metric as CloudWatch EMF', async () => {
    const { handler: aggregate } = await import('../../functions/aggregate-round/handler.js');
    const { metrics } = await import('../../functions/shared/powertools.js');
    metrics.setDefaultDimensions({});
    (metrics as unknown as { disabled: boolean }).disabled = false;
    const g = decodeModel(await store.get('fedrad-t-models', state.globalModelKey));
    const zero = encodeSafetensors(new Map([...updatableInitializers(g)].map(([n, t]) => [n, floatTensor(t.dims)])));
    await store.put('fedrad-t-site-b', keys.update(state.runId, 0), zero);
    const all = await captureEmf(() =>
      aggregate({
        ...state, minSites: 1,
        outcomes: [
          { siteId: 'site-a', status: 'failed', error: 'States.TaskFailed' },
          { siteId: 'site-b', status: 'accepted', sampleCount: 10, weight: 0, norm: 0, updateSha256: sha256(zero), globalMetrics: { accuracy: 0.75 }, localMetrics: {} },
        ],
      }),
    );
    const emf = all.find((o) => 'AcceptedUpdates' in o) as { _aws: { CloudWatchMetrics: Array<{ Namespace: string }> } };
    expect(emf, JSON.stringify(all)).toMatchObject({ AcceptedUpdates: 1, RejectedUpdates: 0, FailedSites: 1, Global_accuracy: 0.75 });
    expect(emf._aws.CloudWatchMetrics[0].Namespace).toBe('fedrad');
  });
});
