// `npx cdk synth` works offline on this machine: the functions are bundled with the local esbuild,
// the training image is only staged (built at deploy time), no AWS account is asked for.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');

describe('npx cdk synth', () => {
  it('synthesizes the three stacks with bundled functions, offline', async () => {
    const out = await mkdtemp(join(tmpdir(), 'fedrad-cdk-out-'));
    try {
      const env = { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: 'fedrad-none', CDK_DISABLE_VERSION_CHECK: '1' };
      await run('npx', ['cdk', 'synth', '--quiet', '--no-notices', '-o', out], { cwd: ROOT, env, timeout: 120_000 });
      const files = await readdir(out);
      for (const stack of ['data', 'training', 'orchestration']) expect(files).toContain(`fedrad-demo-${stack}.template.json`);
      const assets = JSON.parse(await readFile(join(out, 'fedrad-demo-orchestration.assets.json'), 'utf8'));
      const bundles = Object.values(assets.files as Record<string, { source: { path: string; packaging?: string } }>).filter((a) => a.source.packaging === 'zip');
      expect(bundles.length).toBeGreaterThanOrEqual(5);
      for (const b of bundles) expect((await readdir(join(out, b.source.path))).some((f) => f.startsWith('index.'))).toBe(true);
      const training = JSON.parse(await readFile(join(out, 'fedrad-demo-training.assets.json'), 'utf8'));
      // the GPU training image and the CPU aggregation image, each from its own Dockerfile
      const dockerfiles = Object.values(training.dockerImages as Record<string, { source: { dockerFile?: string } }>).map((i) => i.source.dockerFile).sort();
      expect(dockerfiles).toEqual(['functions/aggregate-round/Dockerfile', 'functions/train-site/Dockerfile']);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
