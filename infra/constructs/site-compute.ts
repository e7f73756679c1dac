// A site's training in the hospital's own AWS account (compute "site-account"): an isolated VPC
// (endpoints, flow logs), GPU Batch capacity (spot, then on-demand), the site's job definition and
// job role (its own data/ and updates/, the round's global model), and the role the central round
// machine assumes to submit, watch and stop those jobs, trusted only with the machine's ARN as the
// external id. The images are read here and never leave the account; the site policy (an object in the site's bucket, written by the hospital) is read here too.
import { Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { keys } from '../../lib/storage/keys.js';
import { isolatedNetwork } from './isolated-network.js';
import { LogKey } from './log-key.js';
import { grantObjectReads } from './object-grants.js';
import { SiteJobDefinition } from './site-job-definition.js';
import { TrainingCompute } from './training-compute.js';

export interface SiteComputeProps {
  siteId: string;
  siteBucket: s3.IBucket;
  /** the federation's models bucket (central account): the job reads the round's global model */
  modelsBucket: s3.IBucket;
  centralAccount: string;
  centralRegion: string;
  image: ecs.ContainerImage;
  instanceTypes: string[];
  maxVcpus: number;
  warmVcpus: number;
  runnableTimeout: Duration;
  jobTimeout: Duration;
  names: { jobQueue: string; jobDefinition: string; jobRole: string; submitRole: string; roundMachine: string; roundMachineRole: string };
}

export class SiteCompute extends Construct {
  readonly vpc: ec2.Vpc;
  readonly compute: TrainingCompute;
  readonly job: SiteJobDefinition;
  readonly submitRole: iam.Role;

  constructor(scope: Construct, id: string, props: SiteComputeProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const logKey = new LogKey(this, 'LogKey');
    this.vpc = isolatedNetwork(this, { logKey, services: ['EcrApi', 'EcrDocker', 'Ecs', 'EcsAgent', 'EcsTelemetry', 'Logs', 'Kms'], bucketArns: [props.siteBucket.bucketArn, props.modelsBucket.bucketArn] }).vpc;
    this.compute = new TrainingCompute(this, 'Compute', { vpc: this.vpc, instanceTypes: props.instanceTypes, maxVcpus: props.maxVcpus, warmVcpus: props.warmVcpus, runnableTimeout: props.runnableTimeout, queueName: props.names.jobQueue });
    this.job = new SiteJobDefinition(this, `Job-${props.siteId}`, {
      siteId: props.siteId,
      siteBucket: props.siteBucket,
      modelsBucket: props.modelsBucket,
      image: props.image,
      timeout: props.jobTimeout,
      logGroup: logKey.logGroup(this, 'JobLogs'),
      jobDefinitionName: props.names.jobDefinition,
      roleName: props.names.jobRole,
      // the job refuses to train unless this object holds a policy that allows the task
      environment: { FEDRAD_SITE_POLICY_KEY: keys.sitePolicy() },
    });
    grantObjectReads(props.siteBucket, this.job.role, keys.sitePolicy());
    // The models bucket's key lives in the central account; its id is not known here. Decrypt only
    // through S3 and only for that bucket (the central key policy grants this role the same).
    this.job.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [`arn:${stack.partition}:kms:${props.centralRegion}:${props.centralAccount}:key/*`],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${props.centralRegion}.amazonaws.com` }, StringLike: { 'kms:EncryptionContext:aws:s3:arn': props.modelsBucket.bucketArn } },
      }),
    );

    // The round machine's way in: this role, assumed by the central round machine's role only, and
    // only when Step Functions names that machine as the external id. Across accounts Step Functions
    // polls the job (.sync), so it needs describe, and no EventBridge rule here.
    const roundMachine = `arn:${stack.partition}:states:${props.centralRegion}:${props.centralAccount}:stateMachine:${props.names.roundMachine}`;
    this.submitRole = new iam.Role(this, 'SubmitRole', {
      roleName: props.names.submitRole,
      assumedBy: new iam.ArnPrincipal(`arn:${stack.partition}:iam::${props.centralAccount}:role/${props.names.roundMachineRole}`).withConditions({ StringEquals: { 'sts:ExternalId': roundMachine } }),
      maxSessionDuration: Duration.hours(1),
      description: `fedrad: the federation's round machine submits, watches and stops ${props.siteId}'s training jobs here`,
    });
    const jobDefinitionArn = stack.formatArn({ service: 'batch', resource: 'job-definition', resourceName: `${props.names.jobDefinition}:*` });
    this.submitRole.addToPolicy(new iam.PolicyStatement({ actions: ['batch:SubmitJob'], resources: [this.compute.queue.jobQueueArn, jobDefinitionArn] }));
    this.submitRole.addToPolicy(new iam.PolicyStatement({ actions: ['batch:TerminateJob'], resources: [stack.formatArn({ service: 'batch', resource: 'job', resourceName: '*' })] }));
    // DescribeJobs takes no resource-level permission.
    this.submitRole.addToPolicy(new iam.PolicyStatement({ actions: ['batch:DescribeJobs'], resources: ['*'] }));
  }
}
