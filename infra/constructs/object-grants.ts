// Object-level grants on a bucket, narrower than CDK's bucket.grantRead/grantPut: reads are
// GetObject(Version) on the key pattern and ListBucket only with an s3:prefix condition (so a reader
// of updates/ cannot list data/ file names); writes are PutObject only (no DeleteObject*, no
// retention or legal-hold changes). The bucket's key, when this stack knows it, is granted the KMS
// actions S3 needs on the principal's side; the key policy decides who may use it (site-storage.ts).
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';

/** The prefix a List may ask for: the pattern up to its first wildcard, then anything. */
export const listPrefix = (pattern: string) => `${pattern.split('*')[0]}*`;

export function grantObjectReads(bucket: s3.IBucket, grantee: iam.IGrantable, ...patterns: string[]): void {
  const principal = grantee.grantPrincipal;
  principal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: patterns.map((p) => bucket.arnForObjects(p)) }));
  principal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn], conditions: { StringLike: { 's3:prefix': [...new Set(patterns.map(listPrefix))] } } }));
  bucket.encryptionKey?.grant(grantee, 'kms:Decrypt');
}

export function grantObjectWrites(bucket: s3.IBucket, grantee: iam.IGrantable, ...patterns: string[]): void {
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: patterns.map((p) => bucket.arnForObjects(p)) }));
  bucket.encryptionKey?.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
}
