// The stack a hospital deploys in its own AWS account for a cross-account site: its KMS key, its
// bucket (data/ and updates/) and the role the federation's training job assumes to use them. The
// images never leave this account's bucket: the training job streams them into its container's
// memory under this role, and writes back only the update. The central side's gate and aggregation
// may read updates/ and nothing else: the bucket policy grants them updates/* by role ARN, and the
// key policy lets them decrypt only objects whose S3 encryption context is under updates/ (S3 Bucket
// Keys are off so each object carries its own context). The hospital can cut the federation off by
// changing this stack alone; every assumed session is in its CloudTrail, named by run, round and site.
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { DeploymentConfig, SiteConfig } from '../../lib/schemas/deployment-config.js';
import { accessLogBucket, denyUnencryptedUploads, denyUpdateOverwrites } from '../constructs/buckets.js';
import { siteAccessRoleName, siteAccountBucketName, siteJobRoleName, UPDATE_READERS, updateReaderRoleName } from '../naming.js';

export interface SiteAccountStackProps extends StackProps {
  config: DeploymentConfig;
  site: SiteConfig;
}

export class SiteAccountStack extends Stack {
  readonly key: kms.Key;
  readonly bucket: s3.Bucket;
  readonly role: iam.Role;

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
    });
    denyUnencryptedUploads(this.bucket, this.key);
    denyUpdateOverwrites(this.bucket);

    // The training job's role here: trusted by exactly one role of the central account.
    this.role = new iam.Role(this, 'SiteAccessRole', {
      roleName: siteAccessRoleName(config.federation, site.id),
      assumedBy: centralRole(siteJobRoleName(config.federation, site.id)),
      maxSessionDuration: Duration.hours(12),
      description: `fedrad ${config.federation}: the federation's training job for ${site.id} reads data/ and writes updates/ here`,
    });
    this.bucket.grantRead(this.role, 'data/*');
    this.bucket.grantRead(this.role, 'updates/*');
    this.bucket.grantPut(this.role, 'updates/*');

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
    new CfnOutput(this, 'SiteRoleArn', { value: this.role.roleArn });
    new CfnOutput(this, 'SiteKeyArn', { value: this.key.keyArn });
  }
}
