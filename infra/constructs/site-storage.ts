// One site's storage: its own KMS key (rotation on) and bucket (versioned, TLS only, KMS-only
// uploads, public access blocked, access-logged). data/ holds the site's images; updates/ what its
// training job writes. A site in its own AWS account keeps both there (infra/stacks/site-account-
// stack.ts): this construct then only names that bucket and the role its job assumes.
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { SiteConfig } from '../../lib/schemas/deployment-config.js';
import { siteAccessRoleName, siteAccountBucketName } from '../naming.js';
import { denyUnencryptedUploads, denyUpdateOverwrites } from './buckets.js';

export interface SiteStorageProps {
  site: SiteConfig;
  federation: string;
  accessLogs: s3.IBucket;
  /** the federation's region (config.region): a site stack's region unless the site names its own */
  centralRegion?: string;
}

/** Where a site in another account keeps its data, and the role its training job assumes there. */
export interface RemoteSite {
  account: string;
  region: string;
  roleArn: string;
}

export class SiteStorage extends Construct {
  /** undefined for a site in its own account (the key lives there) */
  readonly key?: kms.Key;
  readonly bucket: s3.IBucket;
  readonly remote?: RemoteSite;

  constructor(scope: Construct, id: string, props: SiteStorageProps) {
    super(scope, id);
    if (props.site.account) {
      const region = props.site.region ?? props.centralRegion!; // the config requires region with cross-account sites
      this.remote = { account: props.site.account, region, roleArn: Stack.of(this).formatArn({ service: 'iam', region: '', account: props.site.account, resource: 'role', resourceName: siteAccessRoleName(props.federation, props.site.id) }) };
      this.bucket = s3.Bucket.fromBucketName(this, 'Bucket', siteAccountBucketName(props.federation, props.site.id, props.site.account, region));
      return;
    }
    this.key = new kms.Key(this, 'Key', {
      alias: `alias/fedrad/${props.federation}/${props.site.id}`,
      description: `fedrad ${props.federation}: data and updates of ${props.site.displayName}`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    if (props.site.existingBucket) {
      this.bucket = s3.Bucket.fromBucketAttributes(this, 'Bucket', { bucketName: props.site.existingBucket, encryptionKey: this.key });
      return;
    }
    const bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: `${props.site.id}/`,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    denyUnencryptedUploads(bucket, this.key);
    denyUpdateOverwrites(bucket);
    this.bucket = bucket;
  }
}
