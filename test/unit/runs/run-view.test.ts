// The run view and its renderings, from lineage records and events built here (pure code: no I/O).
import { describe, expect, it } from 'vitest';
import { renderRunFrame, renderRunList } from '../../../lib/runs/render-run.js';
import { applyEvent, buildRunView, clean, selectBestModel } from '../../../lib/runs/run-view.js';
import type { Lineage } from '../../../lib/schemas/lineage.js';

const lineage = (round: number, parentMetrics: Record<string, number>, sites: Lineage['sites'] = []): Lineage => ({
  version: 1, runId: 'r', round, modelSha256: `m${round}`, parentRound: round - 1, parentSha256: `m${round - 1}`, strategy: { type: 'fedavg' } as Lineage['strategy'], sites, parentMetrics, privacy: null,
});

describe('selectBestModel', () => {
  it('scores model m by round m+1, skips unscored and non-finite rounds, and breaks ties toward the later model', () => {
    expect(selectBestModel([])).toBeUndefined();
    expect(selectBestModel([lineage(1, {})])).toBeUndefined();
    const best = selectBestModel([lineage(1, { accuracy: 0.5 }), lineage(2, { accuracy: 0.7 }), lineage(3, { accuracy: Number.NaN }), lineage(4, { accuracy: 0.7 }), lineage(5, { accuracy: 0.6 })]);
    expect(best).toMatchObject({ round: 3, metric: 0.7, modelSha256: 'm3' });
    expect(selectBestModel([lineage(1, { dice: 0.4 }), lineage(2, { dice: 0.3 })])).toMatchObject({ round: 0, metric: 0.4, modelSha256: 'm0' });
  });
});

describe('applyEvent', () => {
  it('follows a site from queued to validated or failed, and never lets a late event reopen a finished round', () => {
    const view = buildRunView({ runId: 'r', source: 'aws', status: 'running', sites: ['a', 'b'] }, [lineage(1, { accuracy: 0.5 }, [{ siteId: 'a', status: 'accepted', sampleCount: 3, weight: 1, updateSha256: 'u', globalMetrics: { accuracy: 0.5 }, localMetrics: {} }, { siteId: 'b', status: 'failed', error: 'States.TaskFailed' }])]);
    applyEvent(view, { type: 'job-finished', siteId: 'a', round: 0, ok: false, error: 'late' }, 0);
    expect(view.rounds[0].sites.a.state).toBe('validated');
    applyEvent(view, { type: 'job-queued', siteId: 'a', round: 1, at: 1000 });
    applyEvent(view, { type: 'job-started', siteId: 'a', round: 1, at: 2000 });
    expect(view.rounds[1]).toMatchObject({ round: 2, done: false, sites: { a: { state: 'training', startedAt: 1000 }, b: { state: 'queued' } } });
    applyEvent(view, { type: 'job-finished', siteId: 'a', round: 1, ok: true, at: 4000 });
    applyEvent(view, { type: 'site-validated', siteId: 'a', round: 1, status: 'rejected', reasons: ['norm: too large\u001b[31m\nsecond line'], at: 5000 });
    applyEvent(view, { type: 'job-finished', siteId: 'b', round: 1, ok: false, error: 'exited with code 1' });
    expect(view.rounds[1].sites.a).toEqual({ state: 'rejected', detail: 'norm: too large [31m second line', seconds: 3 });
    expect(view.rounds[1].sites.b.state).toBe('failed');
    applyEvent(view, { type: 'round-finished', round: 2, output: { lastRound: { round: 1, modelSha256: 'm2', metrics: { accuracy: 0.9 } } }, at: 6000 });
    expect(view.rounds[1]).toMatchObject({ done: true, metric: 0.9, modelSha256: 'm2', seconds: 5 });
    expect(view.best).toMatchObject({ round: 1, metric: 0.9, modelSha256: 'm1' });
  });

  it('clean() removes control characters and bounds the length', () => {
    expect(clean('a\u0007b\r\nc')).toBe('a b c');
    expect(clean('x'.repeat(500), 20)).toHaveLength(20);
    expect(clean('x'.repeat(500), 20).endsWith('…')).toBe(true);
  });
});

describe('renderRunFrame', () => {
  it('fits the width it is given and lists why sites were rejected or failed', () => {
    const view = buildRunView({ runId: 'r', source: 'local', status: 'failed', sites: ['site-1', 'site-2'], roundsPlanned: 4, error: 'QuorumNotReachedError', cause: 'round 1' }, [
      lineage(1, { accuracy: 0.61 }, [{ siteId: 'site-1', status: 'accepted', sampleCount: 3, weight: 1, updateSha256: 'u', globalMetrics: { accuracy: 0.61 }, localMetrics: {}, trainingSeconds: 75 }, { siteId: 'site-2', status: 'rejected', reasons: [{ code: 'non-finite', message: 'NaN in head.bias' }] }]),
    ]);
    const wide = renderRunFrame(view, { width: 200 });
    expect(wide.split('\n')[0]).toBe('run r · FAILED · fedavg · rounds 1/4 · 2 sites · best model 0 (accuracy 0.6100)');
    expect(wide).toContain('validated 0.610 1m15s');
    expect(wide).toContain('round 1 site-2 rejected: non-finite: NaN in head.bias');
    expect(wide).toContain('failed: QuorumNotReachedError: round 1');
    const narrow = renderRunFrame(view, { width: 40 });
    expect(Math.max(...narrow.split('\n').map((l) => l.length))).toBe(40);
  });

  it('lists runs, or says there are none', () => {
    expect(renderRunList([])).toBe('no runs');
    expect(renderRunList([{ runId: 'r1', status: 'running', roundsDone: 2 }]).split('\n')[2]).toMatch(/^r1 +running +- +2 +-$/);
  });
});
