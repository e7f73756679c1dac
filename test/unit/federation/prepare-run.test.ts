import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRunReport } from '../../../lib/federation/finish-run.js';
import { prepareRun } from '../../../lib/federation/prepare-run.js';
import { renderReportHtml } from '../../../lib/federation/report.js';
import { getJson } from '../../../lib/storage/blob-store.js';
import { FolderBlobStore } from '../../../lib/storage/folder-store.js';
import { keys } from '../../../lib/storage/keys.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const sites = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ siteId: id, bucket: `fedrad-${id}`, jobDefinitionArn: 'arn:x' }));
const deps = async () => {
  const root = await mkdtemp(join(tmpdir(), 'fedrad-prepare-'));
  dirs.push(root);
  return { store: new FolderBlobStore(root), modelsBucket: 'fedrad-models', sites };
};
const model = { zoo: 'cnn-classifier', inputSize: 16 };
const adviceOf = async (input: Record<string, unknown>) => {
  const d = await deps();
  await prepareRun(d, { model, minSites: 5, ...input }, 'x');
  return ((await getJson(d.store, 'fedrad-models', keys.run(String(input.runId)))) as { advice: string[] }).advice;
};

describe('prepare run', () => {
  it('advises, in the run record, fixed local steps for Krum trained by epochs; not once they are set', async () => {
    const krum = await adviceOf({ runId: 'krum-epochs', strategy: { type: 'krum', f: 1 } });
    expect(krum).toHaveLength(1);
    expect(krum[0]).toMatch(/^krum compares updates by distance.*Krum tends to keep the smallest site; set training.localSteps/);
    expect(await adviceOf({ runId: 'multi-krum-epochs', strategy: { type: 'multi-krum', f: 1 }, training: { epochs: 2 } })).toEqual([expect.stringMatching(/Multi-Krum favours the smallest sites/)]);
    expect(await adviceOf({ runId: 'krum-steps', strategy: { type: 'krum', f: 1 }, training: { localSteps: 10 } })).toEqual([]);
    expect(await adviceOf({ runId: 'fedavg', strategy: { type: 'fedavg' } })).toEqual([]);
  });

  it('carries the advice into the run report and its page', async () => {
    const d = await deps();
    await prepareRun(d, { runId: 'krum', model, minSites: 5, strategy: { type: 'krum', f: 1 } }, 'x');
    const report = await loadRunReport(d.store, 'fedrad-models', 'krum', 0);
    expect(report.advice).toEqual([expect.stringMatching(/^krum compares updates by distance/)]);
    expect(renderReportHtml(report)).toContain('<p><b>Advice:</b> krum compares updates by distance');
    await prepareRun(d, { runId: 'plain', model }, 'x');
    expect((await loadRunReport(d.store, 'fedrad-models', 'plain', 0)).advice).toBeUndefined();
  });

  it('refuses Krum that the round quorum cannot honour, naming n >= 2f + 3', async () => {
    await expect(prepareRun(await deps(), { runId: 'k', model, minSites: 4, strategy: { type: 'krum', f: 1 } }, 'x')).rejects.toThrow(/krum with f=1 needs at least 5 accepted updates a round \(n >= 2f \+ 3\): set minSites to 5/);
  });

  it('passes localSteps through to the training spec the sites receive', async () => {
    const state = await prepareRun(await deps(), { runId: 's', model, training: { localSteps: 12 } }, 'x');
    expect(JSON.parse(state.trainingSpec)).toMatchObject({ localSteps: 12, epochs: 1, loss: 'softmax-cross-entropy' });
    await expect(prepareRun(await deps(), { runId: 't', model, training: { localSteps: 12, epochs: 3 } }, 'x')).rejects.toThrow(/training.localSteps: set either epochs or localSteps/);
  });
});
