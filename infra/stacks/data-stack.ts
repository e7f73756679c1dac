// Data: one bucket and key per site, the models bucket (global models, lineage, reports) and the
// access-log bucket. Stateful: construct ids never change once released.
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { DeploymentConfig } from '../../lib/schemas/deployment-config.js';
import { accessLogBucket, denyUnencryptedUploads } from '../constructs/buckets.js';
import { DataEvents } from '../constructs/data-events.js';
import { grantGlobalModelReads } from '../constructs/global-model-readers.js';
import { LogKey } from '../constructs/log-key.js';
import { SiteStorage } from '../constructs/site-storage.js';
import { breakGlassRole } from '../constructs/site-protection.js';
import { breakGlassRoleName, siteJobRoleName } from '../naming.js';

export interface DataStackProps extends StackProps {
  config: DeploymentConfig;
}

export class DataStack extends Stack {
  readonly sites: Map<string, SiteStorage>;
  readonly modelsKey: kms.Key;
  readonly modelsBucket: s3.Bucket;
  /** the only role besides a site's training role that may read its data/ (MFA, CloudTrail) */
  readonly breakGlass: iam.Role;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config } = props;
    const accessLogs = accessLogBucket(this, 'AccessLogs');
    this.breakGlass = breakGlassRole(this, 'BreakGlass', breakGlassRoleName(config.federation));
    this.sites = new Map(config.sites.map((site) => [site.id, new SiteStorage(this, `Site-${site.id}`, { site, federation: config.federation, accessLogs, centralRegion: config.region, breakGlass: this.breakGlass })]));
    this.modelsKey = new kms.Key(this, 'ModelsKey', { alias: `alias/fedrad/${config.federation}/models`, enableKeyRotation: true, removalPolicy: RemovalPolicy.RETAIN });
    this.modelsBucket = new s3.Bucket(this, 'Models', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.modelsKey,
      bucketKeyEnabled: true,
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'models/',
      removalPolicy: RemovalPolicy.RETAIN,
      // Lineage is immutable: every version (models, lineage, run records, reports) is retained in
      // governance mode; only a principal granted s3:BypassGovernanceRetention can remove one early.
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.governance(Duration.days(config.modelRetentionDays)),
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(config.modelRetentionDays + 1), abortIncompleteMultipartUploadAfter: Duration.days(7) }],
    });
    // Governance mode holds only while nobody may bypass it: no principal, administrators included.
    this.modelsBucket.addToResourcePolicy(new iam.PolicyStatement({ sid: 'DenyGovernanceBypass', effect: iam.Effect.DENY, principals: [new iam.AnyPrincipal()], actions: ['s3:BypassGovernanceRetention'], resources: [this.modelsBucket.arnForObjects('*')] }));
    denyUnencryptedUploads(this.modelsBucket, this.modelsKey);
    // who read which site object (and which model): S3 data events of every bucket held here
    const local = [...this.sites.values()].filter((s) => !s.remote).map((s) => s.bucket);
    new DataEvents(this, 'DataEvents', { trailName: `fedrad-${config.federation}-data-events`, buckets: [...local, this.modelsBucket], accessLogs, logKey: new LogKey(this, 'LogKey') });
    const siteAccount = config.sites.filter((s) => s.compute === 'site-account');
    for (const site of siteAccount) grantGlobalModelReads(this.modelsBucket, this.modelsKey, site.account!, siteJobRoleName(config.federation, site.id));
    // a hospital deploying a site-account stack passes this as its FederationModelsBucket parameter
    if (siteAccount.length) new CfnOutput(this, 'ModelsBucketName', { value: this.modelsBucket.bucketName, description: "the site-account stacks' FederationModelsBucket parameter" });
  }
}
