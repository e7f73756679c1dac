// The stack a hospital deploys in its own AWS account for a cross-account site: its KMS key, its
// bucket (data/ and updates/) and the role the federation's training job assumes to use them. The
// images never leave this account's bucket: the training job streams them into its container's
// memory under this role, and writes back only the update. The central side's gate and aggregation
// may read updates/ and nothing else: the bucket policy grants them updates/* by role ARN, and the
// key policy lets them decrypt only objects whose S3 encryption context is under updates/ (S3 Bucket
// Keys are off so each object carries its own context). The hospital can cut the federation off by
// changing this stack alone; every assumed session is in its CloudTrail, named by run, round and site.
// With compute "site-account" the training runs here as well (constructs/site-compute.ts): no role
// of the central account can then read data/, and the federation only submits jobs to this account.
import { CfnOutput, CfnParameter, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { DeploymentConfig, SiteConfig } from '../../lib/schemas/deployment-config.js';
import { accessLogBucket, denyUnencryptedUploads, denyUpdateOverwrites } from '../constructs/buckets.js';
import { grantObjectReads, grantObjectWrites } from '../constructs/object-grants.js';
import { adminOnlyKeyPolicy, breakGlassRole, protectSiteData } from '../constructs/site-protection.js';
import { keys } from '../../lib/storage/keys.js';
import { DataEvents } from '../constructs/data-events.js';
import { jobImage } from '../constructs/images.js';
import { LogKey } from '../constructs/log-key.js';
import { SiteCompute } from '../constructs/site-compute.js';
import { breakGlassRoleName, roundMachineName, roundMachineRoleName, siteAccessRoleName, siteAccountBucketName, siteJobDefinitionName, siteJobQueueName, siteJobRoleName, siteSubmitRoleName, UPDATE_OBJECTS, UPDATE_READERS, updateReaderRoleName } from '../naming.js';


export interface SiteAccountStackProps extends StackProps {
  config: DeploymentConfig;
  site: SiteConfig;
}

export class SiteAccountStack extends Stack {
  readonly key: kms.Key;
  readonly bucket: s3.Bucket;
  /** the role the central training job assumes (compute "central" only) */
  readonly role?: iam.Role;
  /** the site's own training (compute "site-account" only) */
  readonly compute?: SiteCompute;

  constructor(scope: Construct, id: string, props: SiteAccountStackProps) {
    const { config, site } = props;
    const region = site.region ?? config.region!;
    super(scope, id, { ...props, env: { account: site.account, region } });
    const central = config.centralAccount!;
    const centralRole = (name: string) => new iam.ArnPrincipal(`arn:${this.partition}:iam::${central}:role/${name}`);
    const bucketName = siteAccountBucketName(config.federation, site.id, site.account!, region);

    const accessLogs = accessLogBucket(this, 'AccessLogs');
    this.key = new kms.Key(this, 'Key', {
      alias: `alias/fedrad/${config.federation}/${site.id}`,
      description: `fedrad ${config.federation}: data and updates of ${site.displayName}`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      policy: adminOnlyKeyPolicy(this),
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      bucketName,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: false, // per-object encryption context: the key policy below tells updates/ from data/
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: `${site.id}/`,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(90), abortIncompleteMultipartUploadAfter: Duration.days(7) }],
    });
    denyUnencryptedUploads(this.bucket, this.key);
    denyUpdateOverwrites(this.bucket);
    // every read of the site's objects, by whom (the federation's sessions are named by run, round and site)
    new DataEvents(this, 'DataEvents', { trailName: `fedrad-${config.federation}-${site.id}-data-events`, buckets: [this.bucket], accessLogs, logKey: new LogKey(this, 'LogKey') });

    if (site.compute === 'site-account') {
      // The models bucket's name comes from the central stack's output (fedrad-<federation>-data).
      const modelsBucketName = new CfnParameter(this, 'FederationModelsBucket', { type: 'String', allowedPattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$', description: "the federation's models bucket (the central data stack's ModelsBucketName output)" });
      this.compute = new SiteCompute(this, 'Training', {
        siteId: site.id,
        siteBucket: this.bucket,
        modelsBucket: s3.Bucket.fromBucketName(this, 'ModelsBucket', modelsBucketName.valueAsString),
        centralAccount: central,
        centralRegion: config.region!,
        image: jobImage(config, 'training'),
        instanceTypes: config.gpuInstanceTypes,
        maxVcpus: config.maxVcpus,
        warmVcpus: config.warmVcpus,
        runnableTimeout: Duration.minutes(config.runnableTimeoutMinutes),
        jobTimeout: Duration.minutes(config.jobTimeoutMinutes),
        names: {
          jobQueue: siteJobQueueName(config.federation, site.id),
          jobDefinition: siteJobDefinitionName(config.federation, site.id),
          jobRole: siteJobRoleName(config.federation, site.id),
          submitRole: siteSubmitRoleName(config.federation, site.id),
          roundMachine: roundMachineName(config.federation),
          roundMachineRole: roundMachineRoleName(config.federation),
        },
      });
      new CfnOutput(this, 'SubmitRoleArn', { value: this.compute.submitRole.roleArn });
      new CfnOutput(this, 'SitePolicyObject', { value: `s3://${this.bucket.bucketName}/${keys.sitePolicy()}`, description: 'write the site policy (JSON) here: until it exists, every task is refused' });
    } else {
      // The training job's role here: trusted by exactly one role of the central account.
      this.role = new iam.Role(this, 'SiteAccessRole', {
        roleName: siteAccessRoleName(config.federation, site.id),
        // the job passes this external id (FEDRAD_SITE_EXTERNAL_ID): the role's name, known to both sides
        assumedBy: centralRole(siteJobRoleName(config.federation, site.id)).withConditions({ StringEquals: { 'sts:ExternalId': siteAccessRoleName(config.federation, site.id) } }),
        maxSessionDuration: Duration.hours(12),
        description: `fedrad ${config.federation}: the federation's training job for ${site.id} reads data/ and writes updates/ here`,
      });
      grantObjectReads(this.bucket, this.role, 'data/*', ...UPDATE_OBJECTS);
      grantObjectWrites(this.bucket, this.role, ...UPDATE_OBJECTS);
      new CfnOutput(this, 'SiteRoleArn', { value: this.role.roleArn });
    }

    // data/: the training role and the hospital's break-glass role only, whatever else IAM allows here
    const breakGlass = breakGlassRole(this, 'BreakGlass', breakGlassRoleName(config.federation));
    grantObjectReads(this.bucket, breakGlass, 'data/*');
    const trainingRole = this.role?.roleArn ?? this.compute!.job.role.roleArn;
    protectSiteData({ bucket: this.bucket, bucketName, key: this.key, dataRoleArns: [trainingRole], updateRoleArns: [], breakGlassRoleArn: breakGlass.roleArn, region });

    // The central gate and aggregation (function or Batch job): updates/ only, by bucket policy and by key policy.
    const readers = UPDATE_READERS.map((reader) => centralRole(updateReaderRoleName(config.federation, reader)));
    this.bucket.addToResourcePolicy(new iam.PolicyStatement({ sid: 'FederationReadsUpdatesOnly', principals: readers, actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: [this.bucket.arnForObjects('updates/*')] }));
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'FederationDecryptsUpdatesOnly',
        principals: readers,
        actions: ['kms:Decrypt'],
        resources: ['*'], // in a key policy, "*" is this key
        conditions: {
          StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` },
          // the bucket's name, not a reference to it: the bucket refers to this key already
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': `arn:${this.partition}:s3:::${bucketName}/updates/*` },
        },
      }),
    );

    new CfnOutput(this, 'SiteBucket', { value: this.bucket.bucketName, description: 'upload the site data under data/ (see README: site data)' });
    new CfnOutput(this, 'SiteKeyArn', { value: this.key.keyArn });
  }
}
