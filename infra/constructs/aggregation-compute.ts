// CPU capacity for aggregating rounds too large for the aggregate-round function (placed per run by
// lib/federation/aggregation-placement.ts): a Fargate compute environment in the isolated subnets,
// its queue, and one job definition running functions/aggregate-round/batch-main.ts (the same
// aggregateRound the function runs) under a role that may read site updates/ (never data/) and
// read and write the models bucket's runs/.
import { type Duration, Size } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { SiteStorage } from './site-storage.js';
import { grantObjectReads, grantObjectWrites } from './object-grants.js';
import { JOB_USER } from './site-job-definition.js';
import { grantUpdateReads } from './update-readers.js';

export interface AggregationComputeProps {
  vpc: ec2.IVpc;
  image: ecs.ContainerImage;
  vcpus: number;
  memoryGiB: number;
  timeout: Duration;
  modelsBucket: s3.IBucket;
  sites: Iterable<SiteStorage>;
  logGroup: logs.ILogGroup;
  /** a fixed role name when sites in other accounts trust it by ARN */
  roleName?: string;
}

export class AggregationCompute extends Construct {
  readonly queue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: AggregationComputeProps) {
    super(scope, id);
    // its own group: HTTPS out only (the isolated subnets route it to the VPC endpoints alone)
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', { vpc: props.vpc, description: 'fedrad aggregation jobs: HTTPS to the VPC endpoints', allowAllOutbound: false });
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: AWS APIs through the VPC endpoints (no other route)');
    const environment = new batch.FargateComputeEnvironment(this, 'Fargate', {
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [securityGroup],
      maxvCpus: Math.max(16, props.vcpus * 2),
    });
    this.queue = new batch.JobQueue(this, 'Queue', { computeEnvironments: [{ computeEnvironment: environment, order: 1 }] });
    this.role = new iam.Role(this, 'JobRole', {
      roleName: props.roleName,
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'fedrad aggregation on Batch: site updates/ (never data/), the models bucket runs/',
    });
    grantObjectReads(props.modelsBucket, this.role, 'runs/*');
    grantObjectWrites(props.modelsBucket, this.role, 'runs/*/aggregation/*');
    grantUpdateReads(this.role, props.sites);
    this.jobDefinition = new batch.EcsJobDefinition(this, 'JobDefinition', {
      timeout: props.timeout,
      // an aggregation is deterministic and its writes are conditional: a retry after a lost task is safe
      retryAttempts: 2,
      container: new batch.EcsFargateContainerDefinition(this, 'Container', {
        image: props.image,
        cpu: props.vcpus,
        memory: Size.gibibytes(props.memoryGiB),
        jobRole: this.role,
        assignPublicIp: false,
        fargatePlatformVersion: ecs.FargatePlatformVersion.LATEST,
        readonlyRootFilesystem: true, // it streams from and to S3; nothing is written locally
        user: JOB_USER,
        logging: ecs.LogDriver.awsLogs({ streamPrefix: 'aggregate', logGroup: props.logGroup }),
        environment: { NODE_OPTIONS: `--max-old-space-size=${Math.floor(props.memoryGiB * 1024 * 0.9)}` },
      }),
    });
  }
}
