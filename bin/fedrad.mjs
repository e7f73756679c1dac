#!/usr/bin/env node
// The fedrad command. Runs the TypeScript sources through tsx, so there is no build step. The
// entry point wires `simulate` (CDK app + functions) into the CLI, which lives in lib/.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../lib/cli/main.ts');
const simulate = async (options) => (await import('../infra/local/simulate.ts')).simulate(options);
const trainingEntrypoint = new URL('../functions/train-site/main.ts', import.meta.url).pathname;
process.exitCode = (await main(process.argv, { simulate, trainingEntrypoint })) || process.exitCode;
