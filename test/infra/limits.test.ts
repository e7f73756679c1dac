// Step Functions limits for a long run: 1,000 rounds x 50 sites stays within 25,000 history events
// per execution and the 256 KiB payload, computed from the synthesized ASL and real payloads.
import { beforeAll, describe, expect, it } from 'vitest';
import { type LocalDeployment, synthesizeLocal } from '../../infra/local/synth-local.js';
import { parseDeploymentConfig } from '../../infra/config.js';
import type { RoundState } from '../../lib/federation/round-state.js';
import { MAX_MESSAGE, MAX_REASONS } from '../../lib/federation/validate-update.js';
import type { SiteOutcome } from '../../lib/schemas/lineage.js';
import { keys } from '../../lib/storage/keys.js';
import { historyEventBound, MAX_HISTORY_EVENTS, MAX_PAYLOAD_BYTES } from '../../lib/workflow/limits.js';
import { RUN_STATES } from '../../lib/workflow/state-names.js';

const SITES = 50;
const ROUNDS = 1000;
let deployment: LocalDeployment;

beforeAll(() => {
  deployment = synthesizeLocal(parseDeploymentConfig({ federation: 'limits', sites: Array.from({ length: SITES }, (_, i) => ({ id: `hospital-${String(i + 1).padStart(2, '0')}`, displayName: `Hospital ${i + 1}` })) }, 'limits'));
});

describe('a run of 1,000 rounds x 50 sites', () => {
  it('keeps every execution history below 25,000 events, every retry counted as used', () => {
    const bound = historyEventBound(deployment.definitions, ROUNDS, SITES, { loopState: RUN_STATES.round, choiceState: RUN_STATES.nextRound });
    expect(bound.run).toBeLessThan(MAX_HISTORY_EVENTS);
    expect(bound.round).toBeLessThan(MAX_HISTORY_EVENTS);
    // and the same workflow in one execution would not fit: the child execution per round is needed
    expect(bound.round * ROUNDS).toBeGreaterThan(MAX_HISTORY_EVENTS);
  });

  it('keeps the largest payload (the Map result of 50 sites, all rejected at the cap) below 256 KiB', () => {
    const runId = 'r'.repeat(80);
    const state: RoundState = {
      runId, round: 999, rounds: ROUNDS, minSites: 26, modelsBucket: `fedrad-${'x'.repeat(40)}-models`,
      strategy: { type: 'fedadam', serverLearningRate: 0.01, beta1: 0.9, beta2: 0.99, tau: 0.001, clipNorm: 10, dp: { clipNorm: 1, noiseMultiplier: 1.1, delta: 1e-5, epsilonBudget: 8 } },
      gate: { maxUpdateBytes: 2 ** 31, maxNorm: 100, maxNormOverMedian: 3, minNormOverMedian: 0.001, allowNoProgress: false, minSamples: 1, maxSamples: 1e7 },
      trainingSpec: JSON.stringify({ loss: 'softmax-cross-entropy', optimizer: { type: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.0001 }, gradientClipNorm: 1, fedproxMu: 0.01, epochs: 1, batchSize: 32, seed: 0 }),
      globalModelKey: keys.globalModel(runId, 999), globalModelSha256: 'f'.repeat(64),
      sites: deployment.sites.map((s) => ({ ...s, bucket: `${s.bucket}-${'b'.repeat(20)}` })),
      lastRound: { round: 998, accepted: 50, rejected: 0, failed: 0, modelSha256: 'e'.repeat(64), metrics: { accuracy: 0.9, rocAuc: 0.95 } },
      aggregation: 'batch',
    };
    const rejected: SiteOutcome[] = state.sites.map((s) => ({
      siteId: s.siteId, status: 'rejected',
      reasons: [...Array.from({ length: MAX_REASONS }, () => ({ code: 'wrong-shape', message: 'm'.repeat(MAX_MESSAGE) })), { code: 'more', message: 'and 9999 more problem(s)' }],
    }));
    const accepted: SiteOutcome[] = state.sites.map((s) => ({ siteId: s.siteId, status: 'accepted', sampleCount: 100000, weight: 0.02, norm: 12.345678901234, updateSha256: 'a'.repeat(64), globalMetrics: { accuracy: 0.5, rocAuc: 0.5 }, localMetrics: { accuracy: 0.5, rocAuc: 0.5 } }));
    for (const outcomes of [rejected, accepted]) {
      const mapOutput = JSON.stringify({ ...state, outcomes });
      expect(Buffer.byteLength(mapOutput)).toBeLessThan(MAX_PAYLOAD_BYTES / 2);
    }
  });
});
