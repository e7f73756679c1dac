// The agent loop through its real AWS adapter (SQS + Step Functions clients) against the local
// runner's task queues: what the round sees for an allowed, a refused, a misaddressed, a failing and
// a timed-out task. Training is injected here (the e2e runs the real entrypoint).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeModel, sha256 } from '../../../lib/model/onnx-io.js';
import { buildZooModel } from '../../../lib/model/zoo/index.js';
import { type AgentDeps, handleMessage, runAgent } from '../../../lib/site/agent.js';
import type { SiteAgentConfig } from '../../../lib/site/agent-config.js';
import { AwsTaskChannel } from '../../../lib/site/aws-task-channel.js';
import { formatError } from '../../../lib/site/format-error.js';
import type { SitePolicy } from '../../../lib/site/policy.js';
import { FolderBlobStore } from '../../../lib/storage/folder-store.js';
import { LocalTaskQueues } from '../../../lib/workflow/local-task-queues.js';

Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });

const policy: SitePolicy = { version: 1, enabled: true, allowedModels: ['cnn-classifier'], allowedStrategies: ['fedavg'], differentialPrivacy: { required: false }, maxRounds: 5, runIdPattern: 'study-.*', expires: '2099-01-01T00:00:00Z' };
let root: string;
let queues: LocalTaskQueues;
let store: FolderBlobStore;
let modelSha: string;
let queueUrl: string;
let queueCount = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'fedrad-agent-'));
  store = new FolderBlobStore(root);
  const bytes = encodeModel(buildZooModel('cnn-classifier', { zoo: 'cnn-classifier', inputSize: 16, seed: 0 } as never));
  modelSha = sha256(bytes);
  await store.put('models', 'runs/study-1/rounds/0000/global.onnx', bytes);
  queues = new LocalTaskQueues();
  await queues.start();
  queueUrl = queues.queueUrl('site-a-tasks');
});
afterAll(async () => {
  await queues.stop();
  await rm(root, { recursive: true, force: true });
});

const task = (over: Record<string, unknown> = {}) => ({
  version: 1, runId: 'study-1', round: 0, rounds: 3, siteId: 'site-a', siteBucket: 'site-a', modelsBucket: 'models', globalModelKey: 'runs/study-1/rounds/0000/global.onnx',
  globalModelSha256: modelSha, trainingSpec: JSON.stringify({ epochs: 1 }), strategy: { type: 'fedavg' }, ...over,
});

/** An agent on a queue of its own (tasks left by one test never reach another). */
function deps(over: Partial<AgentDeps> = {}, text: string | null = JSON.stringify(policy), trainMs = 0): AgentDeps & { logs: string[]; trained: Array<Record<string, string>> } {
  queueUrl = queues.queueUrl(`site-a-${++queueCount}`);
  const logs: string[] = [];
  const trained: Array<Record<string, string>> = [];
  const config: SiteAgentConfig = { siteId: 'site-a', queueUrl, endpoint: queues.endpoint, region: 'us-east-1', dataDir: '/srv/site-a/data', policyFile: '/etc/fedrad/site-policy.json', heartbeatSeconds: 0.1, visibilitySeconds: 10 };
  return {
    config,
    channel: new AwsTaskChannel({ queueUrl, endpoint: queues.endpoint, region: 'us-east-1', visibilitySeconds: 10 }),
    store,
    readPolicy: async () => text ?? undefined,
    train: async (env) => {
      trained.push(env);
      await new Promise((r) => setTimeout(r, trainMs));
    },
    log: (m) => logs.push(m),
    logs,
    trained,
    ...over,
  };
}

/** Sends a task as the round would and lets one agent iteration answer it. */
async function roundTrip(d: AgentDeps, body: Record<string, unknown>, heartbeatSeconds = 30): Promise<{ ok: boolean; value: unknown }> {
  const answer = queues.sendAndWait(d.channel.location, body, { heartbeatSeconds }).then((value) => ({ ok: true, value }), (err: Error) => ({ ok: false, value: { name: err.name, message: err.message } }));
  await runAgent(d, { maxTasks: 1, waitSeconds: 2 });
  return answer;
}

describe('site agent', () => {
  it('trains an allowed task on local data, beating while it trains, and answers with the token', async () => {
    // training takes 2.5 s, the round waits 1 s between heartbeats: only beating keeps the task alive
    const d = deps({}, JSON.stringify(policy), 2500);
    const r = await roundTrip(d, task(), 1);
    expect(r).toEqual({ ok: true, value: { siteId: 'site-a', runId: 'study-1', round: 0 } });
    expect(d.trained).toHaveLength(1);
    expect(d.trained[0]).toMatchObject({ FEDRAD_SITE_ID: 'site-a', FEDRAD_ROUND: '0', FEDRAD_DATA_DIR: '/srv/site-a/data', FEDRAD_GLOBAL_MODEL_SHA256: modelSha });
  });

  it('refuses what its policy refuses, and everything without a policy or with the kill switch off', async () => {
    expect(await roundTrip(deps(), task({ strategy: { type: 'krum' } }))).toMatchObject({ ok: false, value: { name: 'site-policy: allowedStrategies' } });
    expect(await roundTrip(deps(), task({ runId: 'other-1' }))).toMatchObject({ ok: false, value: { name: 'site-policy: runIdPattern' } });
    expect(await roundTrip(deps({}, null), task())).toMatchObject({ ok: false, value: { name: 'site-policy: missing', message: expect.stringMatching(/no site policy at \/etc\/fedrad\/site-policy\.json/) } });
    expect(await roundTrip(deps({}, '{"version": 1'), task())).toMatchObject({ ok: false, value: { name: 'site-policy: malformed' } });
    const off = deps({}, JSON.stringify({ ...policy, enabled: false }));
    expect(await roundTrip(off, task())).toMatchObject({ ok: false, value: { name: 'site-policy: enabled' } });
    expect(off.trained).toEqual([]);
  });

  it('fails tasks for another site, malformed tasks and failed training, and drops messages it cannot answer', async () => {
    expect(await roundTrip(deps(), task({ siteId: 'site-b' }))).toMatchObject({ ok: false, value: { name: 'site-agent: wrong site' } });
    expect(await roundTrip(deps(), task({ round: 'first' }))).toMatchObject({ ok: false, value: { name: 'site-agent: malformed task', message: expect.stringContaining('round') } });
    const failing = deps({ train: async () => Promise.reject(new Error('out of GPU memory')) });
    expect(await roundTrip(failing, task())).toEqual({ ok: false, value: { name: 'SiteTrainingFailed', message: 'out of GPU memory' } });
    // no token: nothing to answer; the message is removed
    const channel = new AwsTaskChannel({ queueUrl: queues.queueUrl('junk'), endpoint: queues.endpoint, region: 'us-east-1', visibilitySeconds: 10 });
    const d = deps({ channel });
    (queues as unknown as { push(url: string, body: string): void }).push(queues.queueUrl('junk'), '{"hello":1}');
    await runAgent(d, { maxTasks: 1, waitSeconds: 2 });
    expect(d.logs).toContain('discarding a message without a task token');
    expect(await channel.receive(0)).toBeUndefined();
  });

  it('drops a task the round no longer waits for (heartbeat timeout), without training it', async () => {
    const d = deps();
    const answer = queues.sendAndWait(queueUrl, task(), { heartbeatSeconds: 0.2 }).catch((e: Error) => e.name);
    await new Promise((r) => setTimeout(r, 400));
    expect(await answer).toBe('States.HeartbeatTimeout');
    const message = await d.channel.receive(1);
    expect(message).toBeDefined();
    expect(await handleMessage(d, message!)).toBe('gone');
    expect(d.trained).toEqual([]);
    expect(await d.channel.receive(0)).toBeUndefined();
  });

  it('formats any thrown value as one bounded line', () => {
    expect(formatError(new TypeError('bad\nthing'))).toBe('TypeError: bad thing');
    expect(formatError({ code: 1 })).toBe('{"code":1}');
    expect(formatError('x'.repeat(900)).length).toBe(500);
    expect(formatError(undefined)).toBe('unknown error');
  });
});
