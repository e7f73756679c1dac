// Training: the isolated network, GPU Batch capacity, and per site a job role and job definition
// running the train-site image (built from functions/train-site/Dockerfile at deploy time).
import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { Construct } from 'constructs';
import { join } from 'node:path';
import type { DeploymentConfig } from '../../lib/schemas/deployment-config.js';
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

const REPO_ROOT = join(import.meta.dirname, '..', '..');

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
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 }],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.ALL, destination: ec2.FlowLogDestination.toCloudWatchLogs(this.logKey.logGroup(this, 'FlowLogs')) } },
    });
    for (const [name, service] of Object.entries({
      EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
      EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
      Ecs: ec2.InterfaceVpcEndpointAwsService.ECS,
      EcsAgent: ec2.InterfaceVpcEndpointAwsService.ECS_AGENT,
      EcsTelemetry: ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY,
      Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
      Sts: ec2.InterfaceVpcEndpointAwsService.STS,
      Kms: ec2.InterfaceVpcEndpointAwsService.KMS,
      XRay: ec2.InterfaceVpcEndpointAwsService.XRAY,
      StepFunctions: ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
    })) {
      this.vpc.addInterfaceEndpoint(name, { service, subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
    }
    this.compute = new TrainingCompute(this, 'Compute', { vpc: this.vpc, instanceTypes: config.gpuInstanceTypes, maxVcpus: config.maxVcpus, warmVcpus: config.warmVcpus, runnableTimeout: Duration.minutes(config.runnableTimeoutMinutes) });
    const image = ecs.ContainerImage.fromAsset(REPO_ROOT, {
      file: 'functions/train-site/Dockerfile',
      exclude: ['node_modules', '.git', 'cdk.out', '.fedrad', 'test', 'bench', '**/*.md', '.ci'],
    });
    const logGroup = this.logKey.logGroup(this, 'JobLogs');
    this.aggregation = new AggregationCompute(this, 'Aggregation', {
      vpc: this.vpc,
      securityGroup: this.compute.securityGroup,
      image: ecs.ContainerImage.fromAsset(REPO_ROOT, { file: 'functions/aggregate-round/Dockerfile', exclude: ['node_modules', '.git', 'cdk.out', '.fedrad', 'test', 'bench', '**/*.md', '.ci'] }),
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
