// What protects one site's data, wherever its bucket lives (central account or the hospital's):
// - the key policy: administrators (the account) may manage the key but not use it; only named roles
//   may decrypt (the account root as principal, narrowed by aws:PrincipalArn, so the role's own IAM
//   policy is needed too): the site's training role and the break-glass role everything the bucket
//   holds, central update readers and the on-premises agent only objects under updates/ (the S3
//   encryption context is the object's ARN: bucket keys stay off).
// - the bucket policy: reading data/ (and listing anything but updates/) is denied to every principal
//   except the training role and the break-glass role, whatever IAM policy an administrator holds.
// The break-glass role is created here with no permissions of its own beyond reading this data: it is
// assumed with MFA, and every use is in CloudTrail (docs/compliance.md).
import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';

/** Key administration without use: no Decrypt, Encrypt, GenerateDataKey or ReEncrypt. */
export const KEY_ADMIN_ACTIONS = ['kms:Create*', 'kms:Describe*', 'kms:Enable*', 'kms:List*', 'kms:Put*', 'kms:Update*', 'kms:Revoke*', 'kms:Disable*', 'kms:Get*', 'kms:Delete*', 'kms:TagResource', 'kms:UntagResource', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion', 'kms:RotateKeyOnDemand'];

/** A key policy that lets the account administer the key and nobody use it until a statement says who. */
export function adminOnlyKeyPolicy(_scope: Stack): iam.PolicyDocument {
  return new iam.PolicyDocument({ statements: [new iam.PolicyStatement({ sid: 'AccountAdministersTheKeyButCannotUseIt', principals: [new iam.AccountRootPrincipal()], actions: KEY_ADMIN_ACTIONS, resources: ['*'] })] });
}

export interface SiteProtectionProps {
  bucket: s3.IBucket;
  /** the bucket's name as text, when known before the bucket exists (the key must not refer to the
   * bucket, which refers to the key); otherwise any bucket's updates/ (only this bucket uses this key) */
  bucketName?: string;
  key: kms.IKey;
  /** roles that read data/ and write updates/: the site's training role (none for an on-premises site) */
  dataRoleArns: string[];
  /** roles that may decrypt objects under updates/ only (central readers, an on-premises agent) */
  updateRoleArns: string[];
  /** roles that may also encrypt under updates/ (writers that are not data roles: an on-premises agent) */
  updateWriterRoleArns?: string[];
  breakGlassRoleArn: string;
  region: string;
}

const arnsCondition = (arns: string[]) => ({ ArnEquals: { 'aws:PrincipalArn': arns } });

/** The key and bucket policy statements of a site's bucket. */
export function protectSiteData(props: SiteProtectionProps): void {
  const { bucket, key } = props;
  const stack = Stack.of(bucket);
  const partition = stack.partition;
  const account = [new iam.AccountRootPrincipal()];
  const viaS3 = { StringEquals: { 'kms:ViaService': `s3.${props.region}.amazonaws.com` } };
  const allowed = [...props.dataRoleArns, props.breakGlassRoleArn];
  key.addToResourcePolicy(new iam.PolicyStatement({ sid: 'SiteRolesUseTheKeyThroughS3', principals: account, actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: ['*'], conditions: { ...arnsCondition(allowed), ...viaS3 } }));
  const updates = `arn:${partition}:s3:::${props.bucketName ?? '*'}/updates/*`;
  if (props.updateRoleArns.length) {
    key.addToResourcePolicy(new iam.PolicyStatement({ sid: 'UpdateRolesDecryptUpdatesOnly', principals: account, actions: ['kms:Decrypt'], resources: ['*'], conditions: { ...arnsCondition(props.updateRoleArns), ...viaS3, StringLike: { 'kms:EncryptionContext:aws:s3:arn': updates } } }));
  }
  if (props.updateWriterRoleArns?.length) {
    key.addToResourcePolicy(new iam.PolicyStatement({ sid: 'UpdateWritersEncryptUpdatesOnly', principals: account, actions: ['kms:GenerateDataKey'], resources: ['*'], conditions: { ...arnsCondition(props.updateWriterRoleArns), ...viaS3, StringLike: { 'kms:EncryptionContext:aws:s3:arn': updates } } }));
  }
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({ sid: 'DenyDataReadsToOtherPrincipals', effect: iam.Effect.DENY, principals: [new iam.AnyPrincipal()], actions: ['s3:GetObject*', 's3:RestoreObject'], resources: [bucket.arnForObjects('data/*')], conditions: { ArnNotEquals: { 'aws:PrincipalArn': allowed } } }),
  );
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyDataListingToOtherPrincipals',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:ListBucket', 's3:ListBucketVersions'],
      resources: [bucket.bucketArn],
      // others may list under updates/ only (a missing prefix lists everything, data/ included)
      conditions: { ArnNotEquals: { 'aws:PrincipalArn': allowed }, StringNotLike: { 's3:prefix': ['updates/*'] } },
    }),
  );
}

/** The break-glass role: assumable by the account's principals with MFA only; permissions come from protectSiteData's allowlists and this read grant. */
export function breakGlassRole(scope: import('constructs').Construct, id: string, roleName: string): iam.Role {
  return new iam.Role(scope, id, {
    roleName,
    assumedBy: new iam.AccountRootPrincipal().withConditions({ Bool: { 'aws:MultiFactorAuthPresent': 'true' } }),
    maxSessionDuration: Duration.hours(1),
    description: "fedrad break-glass: reads sites' data/ when an incident requires it (MFA; every use is in CloudTrail)",
  });
}
