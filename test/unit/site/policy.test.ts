// The site policy: parsed strictly, and every rule refuses on its own while the rest allow;
// missing, malformed, disabled and expired policies refuse every task.
import { describe, expect, it } from 'vitest';
import { evaluateTask, parseSitePolicy, refusalReason, type SitePolicy, type TaskFacts } from '../../../lib/site/policy.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const SHA = 'a'.repeat(64);
const policy: SitePolicy = {
  version: 1,
  enabled: true,
  allowedModels: ['cnn-classifier', 'b'.repeat(64)],
  allowedStrategies: ['fedavg', 'median'],
  differentialPrivacy: { required: false },
  maxRounds: 10,
  maxLocalEpochs: 2,
  maxLocalSteps: 100,
  runIdPattern: 'study-[0-9]+',
  expires: '2027-01-01T00:00:00Z',
};
const task: TaskFacts = { runId: 'study-42', round: 0, rounds: 5, strategy: { type: 'fedavg' }, modelSha256: SHA, modelZoo: 'cnn-classifier', epochs: 1 };
const loaded = (p: SitePolicy) => parseSitePolicy(JSON.stringify(p), 'site-policy.json');
const rule = (p: SitePolicy, t: TaskFacts = task) => {
  const d = evaluateTask(loaded(p), t, NOW);
  return d.allowed ? 'allowed' : d.rule;
};

describe('site policy', () => {
  it('allows a task that every rule allows', () => {
    expect(rule(policy)).toBe('allowed');
    // a model pinned by hash, without a zoo name
    expect(rule(policy, { ...task, modelZoo: undefined, modelSha256: 'b'.repeat(64) })).toBe('allowed');
  });

  it('refuses everything when the policy is missing or malformed (fail closed)', () => {
    const missing = evaluateTask(parseSitePolicy(undefined, '/etc/fedrad/site-policy.json'), task, NOW);
    expect(missing).toMatchObject({ allowed: false, rule: 'missing' });
    expect(missing.allowed ? '' : missing.message).toMatch(/no site policy at \/etc\/fedrad\/site-policy\.json; every task is refused/);
    expect(rule({ ...policy, maxRounds: 0 })).toBe('malformed');
    expect(evaluateTask(parseSitePolicy('{"version":1,', 'p.json'), task, NOW)).toMatchObject({ rule: 'malformed', message: expect.stringMatching(/^p\.json is not valid JSON/) });
    const unknown = evaluateTask(parseSitePolicy(JSON.stringify({ ...policy, allowEverything: true }), 'p.json'), task, NOW);
    expect(unknown.allowed ? '' : unknown.message).toMatch(/allowEverything/);
    expect(rule({ ...policy, runIdPattern: '(' })).toBe('malformed');
    expect(rule({ ...policy, expires: 'next year' })).toBe('malformed');
  });

  it('refuses on the kill switch and on expiry before anything else', () => {
    expect(rule({ ...policy, enabled: false })).toBe('enabled');
    expect(rule({ ...policy, enabled: false, maxRounds: 1 })).toBe('enabled');
    expect(rule({ ...policy, expires: '2026-06-01T00:00:00Z' })).toBe('expires');
    expect(rule({ ...policy, expires: '2026-06-01T00:00:01Z' })).toBe('allowed');
  });

  it('refuses each rule on its own', () => {
    expect(rule(policy, { ...task, runId: 'study-42x' })).toBe('runIdPattern');
    expect(rule(policy, { ...task, runId: 'other' })).toBe('runIdPattern');
    expect(rule(policy, { ...task, modelZoo: 'unet-segmenter' })).toBe('allowedModels');
    expect(rule(policy, { ...task, strategy: { type: 'krum' } })).toBe('allowedStrategies');
    expect(rule(policy, { ...task, rounds: 11 })).toBe('maxRounds');
    expect(rule(policy, { ...task, rounds: 10 })).toBe('allowed');
    expect(rule(policy, { ...task, epochs: 3 })).toBe('maxLocalEpochs');
    expect(rule(policy, { ...task, epochs: 3, localSteps: 100 })).toBe('allowed');
    expect(rule(policy, { ...task, localSteps: 101 })).toBe('maxLocalSteps');
  });

  it('requires differential privacy, and a minimum noise multiplier, when the site asks for them', () => {
    const dp = { ...policy, differentialPrivacy: { required: true, minNoiseMultiplier: 1 } };
    expect(rule(dp)).toBe('differentialPrivacy');
    expect(rule(dp, { ...task, strategy: { type: 'fedavg', dp: { noiseMultiplier: 0.5 } } })).toBe('differentialPrivacy');
    expect(rule(dp, { ...task, strategy: { type: 'fedavg', dp: { noiseMultiplier: 1.1 } } })).toBe('allowed');
  });

  it('bounds and escapes task text in its messages', () => {
    const d = evaluateTask(loaded(policy), { ...task, runId: `x\n${'y'.repeat(500)}` }, NOW);
    const message = d.allowed ? '' : d.message;
    expect(message).not.toContain('\n');
    expect(message.length).toBeLessThan(250);
    expect(refusalReason('enabled')).toBe('site-policy: enabled');
  });
});
