// Bucket pieces every fedrad account shares: the access-log bucket, and the policy statements every
// bucket with a customer key carries beyond TLS-only (enforceSSL): uploads asking for another kind
// of encryption, or another key, are refused.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

/** Where S3 server access logs go: SSE-S3 (the log delivery service cannot write with a customer key). */
export function accessLogBucket(scope: Construct, id: string): s3.Bucket {
  return new s3.Bucket(scope, id, {
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    versioned: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    // no ACLs: S3 grants the log delivery service by bucket policy (source bucket and account)
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    lifecycleRules: [{ expiration: Duration.days(400), noncurrentVersionExpiration: Duration.days(30) }],
    removalPolicy: RemovalPolicy.RETAIN,
  });
}

export function denyUnencryptedUploads(bucket: s3.IBucket, key: kms.IKey): void {
  const objects = bucket.arnForObjects('*');
  // A PUT without the header gets the bucket's default (this key); one naming SSE-S3 or another
  // key is refused.
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyUploadsNotEncryptedWithKms',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:PutObject'],
      resources: [objects],
      conditions: { StringNotEqualsIfExists: { 's3:x-amz-server-side-encryption': 'aws:kms' } },
    }),
  );
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyUploadsWithAnotherKey',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:PutObject'],
      resources: [objects],
      conditions: { StringNotEqualsIfExists: { 's3:x-amz-server-side-encryption-aws-kms-key-id': key.keyArn } },
    }),
  );
}

/**
 * Updates are written once: a PUT under updates/ without If-None-Match: * is refused, so no principal
 * (a site's own job included) can replace an update the gate may have read. Aggregation reads the
 * exact S3 version the gate checked, so even a replaced object would not reach a model; this keeps
 * the history plain as well.
 */
export function denyUpdateOverwrites(bucket: s3.IBucket): void {
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyUpdateWritesThatMayOverwrite',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:PutObject'],
      resources: [bucket.arnForObjects('updates/*')],
      conditions: { Null: { 's3:if-none-match': 'true' } },
    }),
  );
}
