// One site's training job: its own IAM role (read its data/, write its updates/, read global
// models) pinned by its own job definition, running the train-site container on one GPU. For a site
// in its own AWS account the role may only assume that site's role there (named in the job's
// environment), which alone reaches the site's bucket.
import { type Duration, Size, Stack } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { UPDATE_OBJECTS } from '../naming.js';
import { grantObjectReads, grantObjectWrites } from './object-grants.js';
import type { RemoteSite } from './site-storage.js';

/** The unprivileged user fedrad's containers run as (uid:gid; the images' files are world-readable). */
export const JOB_USER = '1000:1000';

export interface SiteJobDefinitionProps {
  siteId: string;
  siteBucket: s3.IBucket;
  modelsBucket: s3.IBucket;
  image: ecs.ContainerImage;
  timeout: Duration;
  logGroup: logs.ILogGroup;
  /** a site in another account; `roleName` is then the name its role there trusts */
  remote?: RemoteSite & { jobRoleName: string };
  /** fixed names, when another account addresses this job definition or its role by ARN */
  jobDefinitionName?: string;
  roleName?: string;
  /** more of the container's environment (the site policy's location, for a site-account site) */
  environment?: Record<string, string>;
}

export class SiteJobDefinition extends Construct {
  readonly role: iam.Role;
  readonly jobDefinition: batch.EcsJobDefinition;

  constructor(scope: Construct, id: string, props: SiteJobDefinitionProps) {
    super(scope, id);
    this.role = new iam.Role(this, 'JobRole', {
      roleName: props.remote?.jobRoleName ?? props.roleName,
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: `fedrad training job of site ${props.siteId}: its own data and updates only`,
    });
    // HOME on the memory-backed /tmp: the root filesystem is read-only and the user has no home in the image
    const environment: Record<string, string> = { FEDRAD_SITE_ID: props.siteId, HOME: '/tmp', ...props.environment };
    if (props.remote) {
      this.role.addToPolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [props.remote.roleArn] }));
      Object.assign(environment, { FEDRAD_SITE_ROLE_ARN: props.remote.roleArn, FEDRAD_SITE_REGION: props.remote.region, FEDRAD_SITE_EXTERNAL_ID: props.remote.externalId });
    } else {
      // its own data, and its own update of a round (the layout of lib/storage/keys.ts) and nothing else
      grantObjectReads(props.siteBucket, this.role, 'data/*', ...UPDATE_OBJECTS);
      grantObjectWrites(props.siteBucket, this.role, ...UPDATE_OBJECTS);
    }
    grantObjectReads(props.modelsBucket, this.role, 'runs/*/rounds/*/global.onnx');
    const scratch = new batch.LinuxParameters(this, 'Linux', { initProcessEnabled: true });
    scratch.addTmpfs({ containerPath: '/tmp', size: Size.gibibytes(4), mountOptions: [batch.TmpfsMountOption.NOSUID, batch.TmpfsMountOption.NODEV] });
    this.jobDefinition = new batch.EcsJobDefinition(this, 'JobDefinition', {
      jobDefinitionName: props.jobDefinitionName ?? `fedrad-${Stack.of(this).stackName}-${props.siteId}`.slice(0, 128),
      timeout: props.timeout,
      retryAttempts: 3,
      retryStrategies: [
        // Spot reclaims and host failures are retried; a failing trainer is not.
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onStatusReason: 'Host EC2*' })),
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onReason: '*' })),
      ],
      container: new batch.EcsEc2ContainerDefinition(this, 'Container', {
        image: props.image,
        cpu: 4,
        memory: Size.gibibytes(14), // fits g4dn/g5/g6.xlarge (16 GiB) with room for the ECS agent
        gpu: 1,
        jobRole: this.role,
        // not root, nothing written to the image: scratch space is a memory-backed /tmp
        readonlyRootFilesystem: true,
        user: JOB_USER,
        linuxParameters: scratch,
        logging: ecs.LogDriver.awsLogs({ streamPrefix: props.siteId, logGroup: props.logGroup }),
        environment,
      }),
    });
  }
}

