// One site's storage: its own KMS key (rotation on) and bucket (versioned, TLS only, public access
// blocked, access-logged). data/ holds the site's images; updates/ what its training job writes.
import { RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { SiteConfig } from '../../lib/schemas/deployment-config.js';

export interface SiteStorageProps {
  site: SiteConfig;
  federation: string;
  accessLogs: s3.IBucket;
}

export class SiteStorage extends Construct {
  readonly key: kms.Key;
  readonly bucket: s3.IBucket;

  constructor(scope: Construct, id: string, props: SiteStorageProps) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      alias: `alias/fedrad/${props.federation}/${props.site.id}`,
      description: `fedrad ${props.federation}: data and updates of ${props.site.displayName}`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.bucket = props.site.existingBucket
      ? s3.Bucket.fromBucketAttributes(this, 'Bucket', { bucketName: props.site.existingBucket, encryptionKey: this.key })
      : new s3.Bucket(this, 'Bucket', {
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
  }
}
