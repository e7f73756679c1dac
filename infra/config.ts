// Loads and validates the deployment config named in cdk.json context ("fedrad:config").
import { readFileSync } from 'node:fs';
import { FedradError } from '../lib/errors.js';
import { type DeploymentConfig, DeploymentConfigSchema } from '../lib/schemas/deployment-config.js';
import { formatIssues } from '../lib/schemas/format.js';

export class InvalidDeploymentConfigError extends FedradError {}

export function parseDeploymentConfig(raw: unknown, source: string): DeploymentConfig {
  const parsed = DeploymentConfigSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidDeploymentConfigError(`${source}: ${formatIssues(parsed.error)}`, { source });
  return parsed.data;
}

export function loadDeploymentConfig(path: string): DeploymentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new InvalidDeploymentConfigError(`cannot read the deployment config ${path}; set the "fedrad:config" context in cdk.json to its path`, { path }, { cause });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new InvalidDeploymentConfigError(`${path} is not valid JSON: ${(cause as Error).message}`, { path }, { cause });
  }
  return parseDeploymentConfig(raw, path);
}
