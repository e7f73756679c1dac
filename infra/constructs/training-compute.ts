// GPU capacity for the sites' training jobs: spot first, on-demand as the fallback, AL2023 NVIDIA
// ECS images, scaling from zero, in isolated subnets that reach AWS only through VPC endpoints.
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

export interface TrainingComputeProps {
  vpc: ec2.IVpc;
  instanceTypes: string[];
  maxVcpus: number;
  /** vCPUs kept warm in the on-demand environment */
  warmVcpus: number;
}

export class TrainingCompute extends Construct {
  readonly queue: batch.JobQueue;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: TrainingComputeProps) {
    super(scope, id);
    // Outbound is open at the group, but the subnets are isolated: their only routes lead to the
    // VPC endpoints (S3 gateway, ECR, ECS, Logs, STS, KMS), so nothing reaches the internet.
    this.securityGroup = new ec2.SecurityGroup(this, 'JobSecurityGroup', { vpc: props.vpc, description: 'fedrad training jobs (isolated subnets: VPC endpoints only)', allowAllOutbound: true });
    const common = {
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [this.securityGroup],
      instanceTypes: props.instanceTypes.map((t) => new ec2.InstanceType(t)),
      useOptimalInstanceClasses: false,
      images: [{ imageType: batch.EcsMachineImageType.ECS_AL2023_NVIDIA }],
      minvCpus: 0,
      maxvCpus: props.maxVcpus,
    };
    const spot = new batch.ManagedEc2EcsComputeEnvironment(this, 'Spot', { ...common, spot: true, allocationStrategy: batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED });
    const onDemand = new batch.ManagedEc2EcsComputeEnvironment(this, 'OnDemand', { ...common, minvCpus: props.warmVcpus, spot: false, allocationStrategy: batch.AllocationStrategy.BEST_FIT_PROGRESSIVE });
    this.queue = new batch.JobQueue(this, 'Queue', {
      computeEnvironments: [
        { computeEnvironment: spot, order: 1 },
        { computeEnvironment: onDemand, order: 2 },
      ],
    });
  }
}
