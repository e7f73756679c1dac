import { describe, expect, it } from 'vitest';
import { synthesizeLocal, synthesizeLocalAside } from '../../../infra/local/synth-local.js';
import { DeploymentConfigSchema } from '../../../lib/schemas/deployment-config.js';

describe('synthesizeLocalAside', () => {
  it('gives the same local deployment as synthesizing in this process', async () => {
    const config = DeploymentConfigSchema.parse({ federation: 'aside', sites: [1, 2].map((i) => ({ id: `site-${i}`, displayName: `Site ${i}` })), trainingConcurrency: 2 });
    const aside = await synthesizeLocalAside(config);
    const here = synthesizeLocal(config);
    expect(aside.definitions).toEqual(here.definitions);
    expect(aside.sites).toEqual(here.sites);
    expect(aside.modelsBucket).toBe('fedrad-aside-models');
    expect(Object.keys(aside.definitions.round.States ?? {}).length).toBeGreaterThan(3);
  }, 180_000);
});
