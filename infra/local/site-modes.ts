// `fedrad simulate` with sites placed as in the cloud: site-account sites keep their bucket under a
// folder of their own "account" (central components see only its updates/), on-premises sites keep
// their data in a folder of their own and run the real `fedrad site agent` process against the local
// task queues. Each site holds its own policy: an object in its bucket, or a file beside its agent.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SiteRef } from '../../lib/federation/round-state.js';
import type { SiteCompute } from '../../lib/schemas/deployment-config.js';
import type { SiteAgentConfig } from '../../lib/site/agent-config.js';
import type { SitePolicy } from '../../lib/site/policy.js';
import type { LocalAccounts } from '../../lib/storage/local-accounts.js';
import { keys } from '../../lib/storage/keys.js';
import { LOCAL_REGION } from '../../lib/workflow/resolve-template.js';

const FEDRAD_BIN = join(import.meta.dirname, '..', '..', 'bin', 'fedrad.mjs');

export interface SiteLayout {
  siteId: string;
  compute: SiteCompute;
  bucket: string;
  /** the folder synthetic data is written to (its data/ is the site's dataset) */
  siteDir: string;
  dataDir: string;
  /** site-account: the folder standing for the hospital's account (its buckets) */
  accountRoot?: string;
}

export function siteLayouts(outDir: string, storageRoot: string, sites: SiteRef[]): SiteLayout[] {
  return sites.map((s) => {
    const compute = s.compute ?? 'central';
    const accountRoot = compute === 'site-account' ? join(outDir, 'accounts', s.siteId) : undefined;
    const siteDir = compute === 'on-premises' ? join(outDir, 'on-premises', s.siteId) : join(accountRoot ?? storageRoot, s.bucket);
    return { siteId: s.siteId, compute, bucket: s.bucket, siteDir, dataDir: join(siteDir, 'data'), accountRoot };
  });
}

/** What central components may reach of the site-account buckets (updates/ only), or the site's own job (all). */
export function localAccounts(layouts: SiteLayout[], central: boolean): LocalAccounts {
  return Object.fromEntries(layouts.filter((l) => l.accountRoot).map((l) => [l.bucket, { root: l.accountRoot!, ...(central ? { prefixes: ['updates/'] } : {}) }]));
}

/** A policy that allows this simulation's runs (a site that has not said otherwise). */
export function permissivePolicy(zoo: string, rounds: number): SitePolicy {
  return {
    version: 1, enabled: true, allowedModels: [zoo],
    allowedStrategies: ['fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad', 'median', 'trimmed-mean', 'krum', 'multi-krum'],
    differentialPrivacy: { required: false }, maxRounds: rounds, runIdPattern: '.*', expires: new Date(Date.now() + 365 * 86400_000).toISOString(),
  };
}

/** Writes each placed site's policy: an object (as JSON), raw text, or null for none (fail closed). */
export async function writeSitePolicies(layouts: SiteLayout[], outDir: string, fallback: SitePolicy, given: Record<string, SitePolicy | string | null> = {}): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const l of layouts.filter((x) => x.compute !== 'central')) {
    const file = l.compute === 'site-account' ? join(l.accountRoot!, l.bucket, keys.sitePolicy()) : join(outDir, 'on-premises', `${l.siteId}-site-policy.json`);
    files.set(l.siteId, file);
    const p = l.siteId in given ? given[l.siteId] : fallback;
    await mkdir(dirname(file), { recursive: true });
    if (p === null) await rm(file, { force: true });
    else await writeFile(file, typeof p === 'string' ? p : JSON.stringify(p, null, 1));
  }
  return files;
}

/** The on-premises sites' agents: real `fedrad site agent` processes, each in its own process group. */
export class LocalAgents {
  private readonly children = new Map<string, ChildProcess>();
  private readonly configs = new Map<string, string>();

  private readonly kills: Array<{ siteId: string; round: number; afterMs?: number }>;

  /** `kills`: fault injection, an agent killed (and restarted) once it has started training that round's task */
  constructor(private readonly log: (m: string) => void, kills: Array<{ siteId: string; round: number; afterMs?: number }> = []) {
    this.kills = [...kills];
  }

  async start(layout: SiteLayout, o: { queueUrl: string; endpoint: string; storageRoot: string; policyFile: string; heartbeatSeconds: number; threads: number; outDir: string }): Promise<void> {
    const config: SiteAgentConfig = {
      siteId: layout.siteId, queueUrl: o.queueUrl, region: LOCAL_REGION, endpoint: o.endpoint, dataDir: layout.dataDir, policyFile: o.policyFile,
      heartbeatSeconds: o.heartbeatSeconds, visibilitySeconds: 10, storageRoot: o.storageRoot, threads: o.threads,
    };
    const file = join(o.outDir, 'on-premises', `${layout.siteId}-site-agent.json`);
    await writeFile(file, JSON.stringify(config, null, 1));
    this.configs.set(layout.siteId, file);
    this.spawn(layout.siteId);
  }

  private spawn(siteId: string): void {
    const env: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: LOCAL_REGION, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    delete env.FEDRAD_LOCAL_ACCOUNTS;
    const child = spawn(process.execPath, [FEDRAD_BIN, 'site', 'agent', '--site', siteId, '--config', this.configs.get(siteId)!], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => {
      const text = d.toString();
      this.log(`agent ${siteId}: ${text.trimEnd()}`);
      const i = this.kills.findIndex((k) => k.siteId === siteId && text.includes(` round ${k.round}: training`));
      if (i >= 0) setTimeout(() => this.killAndRestart(siteId), this.kills.splice(i, 1)[0].afterMs ?? 500);
    });
    child.stderr!.on('data', (d: Buffer) => this.log(`agent ${siteId}: ${d.toString().trimEnd()}`));
    this.children.set(siteId, child);
  }

  /** Kills the agent and its training process at once (as a power cut would), then starts it again (as systemd would). */
  killAndRestart(siteId: string): void {
    const child = this.children.get(siteId);
    if (child?.pid) process.kill(-child.pid, 'SIGKILL');
    this.log(`agent ${siteId}: killed; restarting`);
    this.spawn(siteId);
  }

  async stop(): Promise<void> {
    for (const child of this.children.values()) {
      if (child.exitCode !== null || !child.pid) continue;
      const exited = new Promise((r) => child.once('exit', r));
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
    }
  }
}
