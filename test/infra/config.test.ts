import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { InvalidDeploymentConfigError, loadDeploymentConfig, parseDeploymentConfig } from '../../infra/config.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');

describe('the deployment config', () => {
  it('fills defaults and accepts the example in the repository', () => {
    const c = loadDeploymentConfig(join(ROOT, 'fedrad.config.json'));
    expect(c.sites.map((s) => s.id)).toEqual(['site-1', 'site-2', 'site-3', 'site-4']);
    expect(parseDeploymentConfig({ federation: 'x', sites: [{ id: 'a', displayName: 'A' }] }, 't').gpuInstanceTypes.length).toBeGreaterThan(1);
  });

  it.each([
    [{ federation: 'Bad Name', sites: [{ id: 'a', displayName: 'A' }] }, /federation: use 1-31 lowercase letters/],
    [{ federation: 'x', sites: [] }, /sites: Too small/],
    [{ federation: 'x', sites: [{ id: 'a', displayName: 'A' }, { id: 'a', displayName: 'B' }] }, /sites: site ids must be unique/],
    [{ federation: 'x', sites: [{ id: 'a', displayName: 'A' }], trainingConcurrency: 0 }, /trainingConcurrency: Too small/],
    [{ federation: 'x', sites: [{ id: 'a', displayName: 'A' }], gpuInstanceTypes: ['big-gpu'] }, /gpuInstanceTypes\.0: an EC2 instance type such as g5\.xlarge/],
    [{ federation: 'x', sites: [{ id: 'a', displayName: 'A' }], colour: 'red' }, /\(top level\): Unrecognized key.*colour/],
  ])('refuses %j naming the field', (raw, message) => {
    expect(() => parseDeploymentConfig(raw, 'fedrad.config.json')).toThrow(InvalidDeploymentConfigError);
    expect(() => parseDeploymentConfig(raw, 'fedrad.config.json')).toThrow(message);
  });

  it('makes `cdk synth` fail with the field when the config is bad', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedrad-config-'));
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ federation: 'x', sites: [{ id: 'a', displayName: 'A' }], maxVcpus: -1 }));
    const err = await run('npx', ['tsx', 'infra/app.ts'], { cwd: ROOT, env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ 'fedrad:config': join(dir, 'bad.json') }), CDK_OUTDIR: dir } }).catch((e) => e);
    expect(err.code).not.toBe(0);
    expect(err.stderr).toContain('maxVcpus: Too small');
  });
});
