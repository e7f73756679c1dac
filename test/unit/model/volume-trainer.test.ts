import { describe, expect, it } from 'vitest';
import { trainingStepMemory } from '../../../lib/model/memory.js';
import { checkStepMemory, trainVolumes } from '../../../lib/model/volume-trainer.js';
import { buildZooModel } from '../../../lib/model/zoo/index.js';
import { renderBrainVolume, site3dProfiles } from '../../../lib/data/synth-3d.js';
import { TrainingSpecSchema } from '../../../lib/schemas/training-spec.js';
import { Random } from '../../../lib/util/random.js';

describe('3D patch training', () => {
  const profile = site3dProfiles(1, 3)[0];
  const volumes = [1, 2, 3].map((s) => {
    const v = renderBrainVolume(new Random(s), profile, 2);
    return { data: v.image, size: profile.size, channels: 2, labels: v.labels, spacing: profile.spacing };
  });
  const spec = TrainingSpecSchema.parse({ loss: 'bce-dice', localSteps: 4, batchSize: 2, seed: 9, optimizer: { type: 'adam', learningRate: 5e-3 } });

  it('is identical when rerun with the same seed, round and site, and differs for another site', async () => {
    const model = buildZooModel('unet3d-segmenter', { seed: 1, inputSize: 8, width: 2, depth: 1, channels: 2 });
    const run = (siteId: string) => trainVolumes({ model, spec, train: volumes, round: 3, siteId, threads: 1 });
    const a = await run('site-1');
    const b = await run('site-1');
    const c = await run('site-2');
    expect(a.lossCurve).toEqual(b.lossCurve);
    expect(a.weights.get('head.weight')!.data).toEqual(b.weights.get('head.weight')!.data);
    expect(c.lossCurve).not.toEqual(a.lossCurve);
    expect(a.steps).toBe(4);
  });

  it('scores held-out volumes by sliding-window Dice and HD95 per region', async () => {
    const model = buildZooModel('unet3d-segmenter', { seed: 1, inputSize: 8, width: 2, depth: 1, channels: 2 });
    const r = await trainVolumes({ model, spec, train: volumes.slice(0, 2), validation: volumes.slice(2), round: 1, siteId: 's', threads: 1 });
    expect(r.evaluation!.perRegion).toHaveLength(2);
    expect(r.evaluation!.dice).toBeGreaterThanOrEqual(0);
    expect(r.evaluation!.dice).toBeLessThanOrEqual(1);
    expect(r.metrics).toMatchObject({ task: 'segmentation', count: 1 });
  });

  it('states memory per step growing with the patch and the width, and refuses a step that cannot fit, naming the settings', () => {
    const mem = (inputSize: number, width: number) => trainingStepMemory(buildZooModel('unet3d-segmenter', { inputSize, width, depth: 2, channels: 2 }), 2).estimateBytes;
    expect(mem(32, 8) / mem(16, 8)).toBeCloseTo(8, 0); // activations scale with the voxels
    expect(mem(16, 16)).toBeGreaterThan(1.9 * mem(16, 8));
    const model = buildZooModel('unet3d-segmenter', { inputSize: 32, width: 8, depth: 2, channels: 2 });
    expect(() => checkStepMemory(model, 2, 64 * 1024 ** 2)).toThrow(/2 patch\(es\) of 32\^3 x 2 channel\(s\) needs about 0\.\d\d GiB, more than the 0\.06 GiB available: lower training\.batchSize, model\.inputSize \(the patch edge\) or model\.width/);
    expect(checkStepMemory(model, 2, 8 * 1024 ** 3)).toBeGreaterThan(0);
  });

  it('refuses a model that does not take cubic 3D patches', async () => {
    const model = buildZooModel('unet-segmenter', { inputSize: 16, width: 2 });
    await expect(trainVolumes({ model, spec, train: volumes, round: 1, siteId: 's' })).rejects.toThrow(/takes \[N, C, p, p, p\]/);
  });
});
