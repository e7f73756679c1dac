// GPU capacity for the sites' training jobs: spot first, on-demand as the fallback, AL2023 NVIDIA
// ECS images, scaling from zero, in isolated subnets that reach AWS only through VPC endpoints.
import type { Duration } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

export interface TrainingComputeProps {
  vpc: ec2.IVpc;
  instanceTypes: string[];
  maxVcpus: number;
  /** vCPUs kept warm in the on-demand environment */
  warmVcpus: number;
  /** how long a job may block the head of the queue RUNNABLE before Batch cancels it */
  runnableTimeout: Duration;
  /** a fixed queue name, when another account addresses the queue by ARN */
  queueName?: string;
}

export class TrainingCompute extends Construct {
  readonly queue: batch.JobQueue;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: TrainingComputeProps) {
    super(scope, id);
    // HTTPS out only; the subnets are isolated: their only routes lead to the VPC endpoints (S3
    // gateway, ECR, ECS, Logs, STS, KMS), so nothing reaches the internet.
    this.securityGroup = new ec2.SecurityGroup(this, 'JobSecurityGroup', { vpc: props.vpc, description: 'fedrad training jobs (isolated subnets: VPC endpoints only)', allowAllOutbound: false });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: AWS APIs through the VPC endpoints (no other route)');
    // The GPU hosts: IMDSv2 only, one hop (containers cannot reach the host's credentials), encrypted root volume.
    const launchTemplate = new ec2.LaunchTemplate(this, 'HostTemplate', {
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(100, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }) }],
    });
    const common = {
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [this.securityGroup],
      instanceTypes: props.instanceTypes.map((t) => new ec2.InstanceType(t)),
      useOptimalInstanceClasses: false,
      images: [{ imageType: batch.EcsMachineImageType.ECS_AL2023_NVIDIA }],
      minvCpus: 0,
      maxvCpus: props.maxVcpus,
      launchTemplate,
    };
    const spot = new batch.ManagedEc2EcsComputeEnvironment(this, 'Spot', { ...common, spot: true, allocationStrategy: batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED });
    const onDemand = new batch.ManagedEc2EcsComputeEnvironment(this, 'OnDemand', { ...common, minvCpus: props.warmVcpus, spot: false, allocationStrategy: batch.AllocationStrategy.BEST_FIT_PROGRESSIVE });
    this.queue = new batch.JobQueue(this, 'Queue', {
      jobQueueName: props.queueName,
      computeEnvironments: [
        { computeEnvironment: spot, order: 1 },
        { computeEnvironment: onDemand, order: 2 },
      ],
      // A job that cannot be placed (no GPU capacity in either environment, maxvCpus too small, no
      // instance type that fits) is cancelled instead of blocking the queue: its site fails, the round
      // goes on, and the queue-blocked event has already raised the JobsStuckRunnable alarm.
      jobStateTimeLimitActions: [
        batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY,
        batch.JobStateTimeLimitActionsReason.COMPUTE_ENVIRONMENT_MAX_RESOURCE,
        batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT,
      ].map((reason) => ({ reason, maxTime: props.runnableTimeout, action: batch.JobStateTimeLimitActionsAction.CANCEL, state: batch.JobStateTimeLimitActionsState.RUNNABLE })),
    });
  }
}
