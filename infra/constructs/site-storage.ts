// One site's storage: its own KMS key (rotation on) and bucket (versioned, TLS only, KMS-only
// uploads, public access blocked, access-logged). data/ holds the site's images; updates/ what its
// training job writes. A site in its own AWS account keeps both there (infra/stacks/site-account-
// stack.ts): this construct then only names that bucket and the role its job assumes.
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { SiteConfig } from '../../lib/schemas/deployment-config.js';
import { siteAccessRoleName, siteAccountBucketName, siteAgentRoleName, siteJobRoleName, UPDATE_READERS, updateReaderRoleName } from '../naming.js';
import { denyUnencryptedUploads, denyUpdateOverwrites } from './buckets.js';
import { grantObjectReads } from './object-grants.js';
import { adminOnlyKeyPolicy, protectSiteData } from './site-protection.js';

export interface SiteStorageProps {
  site: SiteConfig;
  federation: string;
  accessLogs: s3.IBucket;
  /** the federation's region (config.region): a site stack's region unless the site names its own */
  centralRegion?: string;
  /** the break-glass role, which alone besides the site's training role may read data/ */
  breakGlass: iam.IRole;
}

/** Where a site in another account keeps its data, and the role its training job assumes there. */
export interface RemoteSite {
  account: string;
  region: string;
  roleArn: string;
  /** what that role's trust requires as sts:ExternalId */
  externalId: string;
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
      this.remote = { account: props.site.account, region, roleArn: Stack.of(this).formatArn({ service: 'iam', region: '', account: props.site.account, resource: 'role', resourceName: siteAccessRoleName(props.federation, props.site.id) }), externalId: siteAccessRoleName(props.federation, props.site.id) };
      this.bucket = s3.Bucket.fromBucketName(this, 'Bucket', siteAccountBucketName(props.federation, props.site.id, props.site.account, region));
      return;
    }
    const stack = Stack.of(this);
    this.key = new kms.Key(this, 'Key', {
      alias: `alias/fedrad/${props.federation}/${props.site.id}`,
      description: `fedrad ${props.federation}: data and updates of ${props.site.displayName}`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      policy: adminOnlyKeyPolicy(stack),
    });
    const role = (name: string) => stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: name });
    const onPremises = props.site.compute === 'on-premises';
    const agent = onPremises ? [role(siteAgentRoleName(props.federation, props.site.id))] : [];
    const protection = {
      key: this.key,
      dataRoleArns: onPremises ? [] : [role(siteJobRoleName(props.federation, props.site.id))],
      updateRoleArns: [...UPDATE_READERS.map((r) => role(updateReaderRoleName(props.federation, r))), ...agent],
      updateWriterRoleArns: agent,
      breakGlassRoleArn: props.breakGlass.roleArn,
      region: stack.region,
    };
    if (props.site.existingBucket) {
      // The hospital's bucket: it gets the same policy (replacing any it had: docs/compliance.md), and
      // must use this key without bucket keys for the updates/-only decrypt to hold.
      const existing = s3.Bucket.fromBucketAttributes(this, 'Bucket', { bucketName: props.site.existingBucket, encryptionKey: this.key });
      const policy = new s3.BucketPolicy(this, 'Policy', { bucket: existing });
      (existing as { policy?: s3.BucketPolicy }).policy = policy; // addToResourcePolicy now adds here
      policy.document.addStatements(new iam.PolicyStatement({ sid: 'DenyInsecureTransport', effect: iam.Effect.DENY, principals: [new iam.AnyPrincipal()], actions: ['s3:*'], resources: [existing.bucketArn, existing.arnForObjects('*')], conditions: { Bool: { 'aws:SecureTransport': 'false' } } }));
      denyUnencryptedUploads(existing, this.key);
      denyUpdateOverwrites(existing);
      protectSiteData({ ...protection, bucket: existing, bucketName: props.site.existingBucket });
      grantObjectReads(existing, props.breakGlass, 'data/*');
      this.bucket = existing;
      return;
    }
    const bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: false, // per-object encryption context: the key policy tells updates/ from data/
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: `${props.site.id}/`,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(90), abortIncompleteMultipartUploadAfter: Duration.days(7) }],
    });
    denyUnencryptedUploads(bucket, this.key);
    denyUpdateOverwrites(bucket);
    protectSiteData({ ...protection, bucket });
    grantObjectReads(bucket, props.breakGlass, 'data/*');
    this.bucket = bucket;
  }
}
