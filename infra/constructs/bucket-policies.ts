// Bucket policy statements every fedrad bucket with a customer key carries beyond TLS-only
// (enforceSSL): uploads asking for another kind of encryption, or another key, are refused.
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';

export function denyUnencryptedUploads(bucket: s3.Bucket, key: kms.IKey): void {
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
