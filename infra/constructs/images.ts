// The container images of fedrad's jobs: built from the repository's Dockerfiles at deploy time, or,
// when the deployment config pins them ("images": reviewed images by digest, e.g. scanned and
// mirrored into the trust's own ECR), exactly those digests and nothing a tag could move.
import { join } from 'node:path';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { DeploymentConfig } from '../../lib/schemas/deployment-config.js';

const REPO_ROOT = join(import.meta.dirname, '..', '..');
const EXCLUDE = ['node_modules', '.git', 'cdk.out', '.fedrad', 'test', 'bench', '**/*.md', '.ci'];
const DOCKERFILES = { training: 'functions/train-site/Dockerfile', aggregation: 'functions/aggregate-round/Dockerfile' } as const;

export function jobImage(config: DeploymentConfig, which: keyof typeof DOCKERFILES): ecs.ContainerImage {
  const pinned = config.images?.[which];
  return pinned ? ecs.ContainerImage.fromRegistry(pinned) : ecs.ContainerImage.fromAsset(REPO_ROOT, { file: DOCKERFILES[which], exclude: EXCLUDE });
}
