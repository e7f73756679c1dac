// The fedrad deployment: data, training and orchestration stacks for one federation.
import type { App } from 'aws-cdk-lib';
import type { DeploymentConfig } from '../lib/schemas/deployment-config.js';
import { DataStack } from './stacks/data-stack.js';
import { OrchestrationStack } from './stacks/orchestration-stack.js';
import { SiteAccountStack } from './stacks/site-account-stack.js';
import { TrainingStack } from './stacks/training-stack.js';

const S3_LOGS_BY_POLICY = '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy';

export interface FedradStacks {
  data: DataStack;
  training: TrainingStack;
  orchestration: OrchestrationStack;
  /** one per site in its own AWS account, deployed there by the hospital */
  siteAccounts: Map<string, SiteAccountStack>;
}

export function buildFedrad(app: App, config: DeploymentConfig): FedradStacks {
  // S3 access logs are delivered by bucket policy (source bucket and account), not the legacy ACL
  if (app.node.tryGetContext(S3_LOGS_BY_POLICY) === undefined) app.node.setContext(S3_LOGS_BY_POLICY, true);
  const prefix = `fedrad-${config.federation}`;
  const data = new DataStack(app, `${prefix}-data`, { config, description: `fedrad ${config.federation}: site buckets and keys, models bucket` });
  const training = new TrainingStack(app, `${prefix}-training`, { config, data, description: `fedrad ${config.federation}: isolated network and GPU Batch training jobs` });
  const orchestration = new OrchestrationStack(app, `${prefix}-orchestration`, { config, data, training, description: `fedrad ${config.federation}: run and round workflows` });
  const siteAccounts = new Map(
    config.sites.filter((site) => site.account).map((site) => [site.id, new SiteAccountStack(app, `${prefix}-site-${site.id}`, { config, site, description: `fedrad ${config.federation}: ${site.displayName}'s bucket, key and the role the federation's training job assumes (deployed in the site's account)` })]),
  );
  return { data, training, orchestration, siteAccounts };
}
