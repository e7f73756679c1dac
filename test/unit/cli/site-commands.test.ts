// `fedrad site agent` and `fedrad simulate --site-modes` refuse bad input before anything runs,
// naming what is wrong and what would be right.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { siteModes } from '../../../lib/cli/simulate-command.js';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../../bin/fedrad.mjs');
const fails = (args: string[]) => run('node', [BIN, ...args]).then(() => { throw new Error(`fedrad ${args.join(' ')} succeeded`); }, (e: { code: number; stderr: string }) => e);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedrad-site-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fedrad site agent', () => {
  it('refuses a missing, malformed or mismatched config with the file and the field', async () => {
    const missing = await fails(['site', 'agent', '--site', 'leeds', '--config', join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/fedrad: cannot read the site agent config .*nope\.json: ENOENT/);
    const file = join(dir, 'site-agent.json');
    await writeFile(file, JSON.stringify({ siteId: 'leeds', queueUrl: 'not a url', dataDir: '/srv/data', policyFile: '/etc/p.json', extra: 1 }));
    const bad = await fails(['site', 'agent', '--site', 'leeds', '--config', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/site-agent\.json: .*queueUrl: Invalid URL/);
    expect(bad.stderr).toMatch(/extra/);
    await writeFile(file, JSON.stringify({ siteId: 'leeds', queueUrl: 'https://sqs.eu-west-2.amazonaws.com/111111111111/q', dataDir: '/srv/data', policyFile: '/etc/p.json' }));
    const other = await fails(['site', 'agent', '--site', 'kings', '--config', file]);
    expect(other.stderr).toContain('is for site leeds, not kings: pass --site leeds');
    expect(other.stderr).not.toMatch(/undefined|\[object Object\]|at .*\.ts:\d+/);
  }, 60_000);
});

describe('fedrad simulate --site-modes', () => {
  it('takes central, site-account and on-premises in site order', () => {
    expect(siteModes('central,site-account,on-premises')).toEqual(['central', 'site-account', 'on-premises']);
    expect(() => siteModes('central,cloud')).toThrow('--site-modes takes central, site-account, on-premises separated by commas, got "cloud"');
  });

  it('refuses more modes than sites', async () => {
    const r = await fails(['simulate', '--sites', '2', '--site-modes', 'central,central,on-premises', '--out', join(dir, 'sim')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('3 site modes given for 2 sites: give at most one mode per site');
  }, 60_000);
});
