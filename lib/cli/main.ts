// The fedrad command line: one commander program; each command group lives in its own module.
import { Command, CommanderError } from 'commander';
import { FedradError } from '../errors.js';
import { addDataCommands } from './data-commands.js';
import { addModelCommands } from './model-commands.js';
import { addRunCommands, type RunCliDeps } from './run-commands.js';
import { addSimulateCommand, type SimulateFn } from './simulate-command.js';
import { addSiteCommands } from './site-commands.js';

export interface CliDeps {
  /** the local federation runner, wired by the entry point (it needs the CDK app and the functions) */
  simulate?: SimulateFn;
  /** the training entrypoint (functions/train-site/main.ts) the site agent runs */
  trainingEntrypoint?: string;
  /** `fedrad run ...`: tests inject their RunsApi and terminal */
  runs?: RunCliDeps;
}

export function buildProgram(deps: CliDeps = {}): Command {
  const program = new Command('fedrad')
    .description('Federated learning for medical imaging: train a shared model across hospital sites without moving their scans.')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError();
  addModelCommands(program);
  addDataCommands(program);
  if (deps.simulate) addSimulateCommand(program, deps.simulate);
  if (deps.trainingEntrypoint) addSiteCommands(program, deps.trainingEntrypoint);
  addRunCommands(program, deps.runs);
  return program;
}

/** Runs the CLI; returns the process exit code (errors are printed, not thrown). */
export async function main(argv: string[], deps: CliDeps = {}): Promise<number> {
  try {
    await buildProgram(deps).parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof FedradError) {
      process.stderr.write(`fedrad: ${err.message}\n`);
      return 2;
    }
    const sys = err as NodeJS.ErrnoException;
    if (sys.code && sys.path) {
      process.stderr.write(`fedrad: cannot ${sys.syscall ?? 'access'} '${sys.path}': ${sys.code === 'ENOENT' ? 'no such file or directory' : sys.message}\n`);
      return 2;
    }
    process.stderr.write(`fedrad: unexpected error: ${(err as Error).stack ?? err}\n`);
    return 1;
  }
}
