// `fedrad site agent`: the on-premises site agent (docs/site-compute.md). It polls the site's task
// queue over outbound HTTPS, checks each task against the site policy file, trains on the local data
// with the training entrypoint, and answers the round; SIGTERM/SIGINT stop it between tasks.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { runAgent } from '../site/agent.js';
import { InvalidAgentConfigError, loadSiteAgentConfig } from '../site/agent-config.js';
import { AwsTaskChannel } from '../site/aws-task-channel.js';
import { runTrainingProcess } from '../site/train-process.js';
import { FolderBlobStore } from '../storage/folder-store.js';
import { S3BlobStore } from '../storage/s3-store.js';

const log = (m: string) => process.stdout.write(`${new Date().toISOString()} ${m}\n`);

async function readPolicy(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function addSiteCommands(program: Command, trainingEntrypoint: string): void {
  const site = program.command('site').description("commands a hospital runs on its own machines");
  site
    .command('agent')
    .description("run the on-premises site agent: take training tasks from the site's queue, check them against the site policy, train on local data, send back the update")
    .requiredOption('--site <id>', 'the site id (as in fedrad.config.json)')
    .requiredOption('--config <file>', 'the agent config (site-agent.json)')
    .option('--max-tasks <n>', 'stop after this many tasks (default: run until stopped)', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--max-tasks must be a positive integer, got '${v}'`);
      return n;
    })
    .action(async (o: { site: string; config: string; maxTasks?: number }) => {
      const config = await loadSiteAgentConfig(o.config);
      if (config.siteId !== o.site) throw new InvalidAgentConfigError(`${o.config} is for site ${config.siteId}, not ${o.site}: pass --site ${config.siteId} or the other site's config`, { site: o.site });
      const stop = new AbortController();
      for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop.abort());
      await runAgent(
        {
          config,
          channel: new AwsTaskChannel({ queueUrl: config.queueUrl, region: config.region, endpoint: config.endpoint, visibilitySeconds: config.visibilitySeconds }),
          store: config.storageRoot ? new FolderBlobStore(config.storageRoot) : new S3BlobStore({ endpoint: process.env.AWS_ENDPOINT_URL }),
          readPolicy: () => readPolicy(config.policyFile),
          train: (env) => runTrainingProcess(trainingEntrypoint, env, log),
          log,
        },
        { signal: stop.signal, maxTasks: o.maxTasks },
      );
    });
}
