// Training: the isolated network, GPU Batch capacity, and per site a job role and job definition
// running the train-site image (built from functions/train-site/Dockerfile at deploy time).
import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import type { DeploymentConfig } from '../../lib/schemas/deployment-config.js';
import { jobImage } from '../constructs/images.js';
import { isolatedNetwork } from '../constructs/isolated-network.js';
import { LogKey } from '../constructs/log-key.js';
import { SiteJobDefinition } from '../constructs/site-job-definition.js';
import { TrainingCompute } from '../constructs/training-compute.js';
import { siteJobRoleName, updateReaderRoleName } from '../naming.js';
import { AggregationCompute } from '../constructs/aggregation-compute.js';
import type { DataStack } from './data-stack.js';

export interface TrainingStackProps extends StackProps {
  config: DeploymentConfig;
  data: DataStack;
}


export class TrainingStack extends Stack {
  readonly compute: TrainingCompute;
  readonly jobs: Map<string, SiteJobDefinition>;
  readonly vpc: ec2.Vpc;
  readonly logKey: LogKey;
  readonly aggregation: AggregationCompute;

  constructor(scope: Construct, id: string, props: TrainingStackProps) {
    super(scope, id, props);
    const { config, data } = props;
    this.logKey = new LogKey(this, 'LogKey');
    // the functions' and jobs' network: every bucket of the federation, nothing else (isolated-network.ts)
    const buckets = [...[...data.sites.values()].map((s) => s.bucket.bucketArn), data.modelsBucket.bucketArn];
    this.vpc = isolatedNetwork(this, { logKey: this.logKey, services: ['EcrApi', 'EcrDocker', 'Ecs', 'EcsAgent', 'EcsTelemetry', 'Logs', 'Sts', 'Kms', 'XRay', 'StepFunctions'], bucketArns: buckets }).vpc;
    this.compute = new TrainingCompute(this, 'Compute', { vpc: this.vpc, instanceTypes: config.gpuInstanceTypes, maxVcpus: config.maxVcpus, warmVcpus: config.warmVcpus, runnableTimeout: Duration.minutes(config.runnableTimeoutMinutes) });
    const image = jobImage(config, 'training');
    const logGroup = this.logKey.logGroup(this, 'JobLogs');
    this.aggregation = new AggregationCompute(this, 'Aggregation', {
      vpc: this.vpc,
      image: jobImage(config, 'aggregation'),
      vcpus: config.aggregationVcpus,
      memoryGiB: config.aggregationMemoryGiB,
      timeout: Duration.hours(6),
      modelsBucket: data.modelsBucket,
      sites: data.sites.values(),
      logGroup,
      roleName: updateReaderRoleName(config.federation, 'aggregate-job'), // site keys name it
    });
    this.jobs = new Map(
      // sites training in their own account or on their own machine have no job here
      config.sites.filter((site) => site.compute === 'central').map((site) => {
        const storage = data.sites.get(site.id)!;
        const remote = storage.remote ? { ...storage.remote, jobRoleName: siteJobRoleName(config.federation, site.id) } : undefined;
        return [site.id, new SiteJobDefinition(this, `Job-${site.id}`, { siteId: site.id, siteBucket: storage.bucket, modelsBucket: data.modelsBucket, image, timeout: Duration.minutes(config.jobTimeoutMinutes), logGroup, remote, roleName: siteJobRoleName(config.federation, site.id) })];
      }),
    );
  }
}
