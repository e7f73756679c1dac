// Who read which site object: a CloudTrail trail of S3 data events (reads and writes) on the site
// buckets of this account, its log files encrypted with a key of their own and validated (digest
// files), delivered to a versioned, access-logged bucket and to an encrypted log group. Management
// events are left to the account's own (organization) trail.
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { LogKey } from './log-key.js';

export interface DataEventsProps {
  trailName: string;
  buckets: s3.IBucket[];
  accessLogs: s3.IBucket;
  logKey: LogKey;
}

export class DataEvents extends Construct {
  readonly trail: cloudtrail.Trail;

  constructor(scope: Construct, id: string, props: DataEventsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const trailArn = stack.formatArn({ service: 'cloudtrail', resource: 'trail', resourceName: props.trailName });
    const key = new kms.Key(this, 'Key', { description: `${props.trailName}: CloudTrail data-event log files`, enableKeyRotation: true, removalPolicy: RemovalPolicy.RETAIN });
    const fromThisTrail = { StringEquals: { 'aws:SourceArn': trailArn }, StringLike: { 'kms:EncryptionContext:aws:cloudtrail:arn': stack.formatArn({ service: 'cloudtrail', region: '*', resource: 'trail', resourceName: '*' }) } };
    key.addToResourcePolicy(new iam.PolicyStatement({ sid: 'CloudTrailEncryptsThisTrail', principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')], actions: ['kms:GenerateDataKey*'], resources: ['*'], conditions: fromThisTrail }));
    key.addToResourcePolicy(new iam.PolicyStatement({ sid: 'CloudTrailDescribesTheKey', principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')], actions: ['kms:DescribeKey'], resources: ['*'], conditions: { StringEquals: { 'aws:SourceArn': trailArn } } }));
    const bucket = new s3.Bucket(this, 'Logs', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'data-events/',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.trail = new cloudtrail.Trail(this, 'Trail', {
      trailName: props.trailName,
      bucket,
      encryptionKey: key,
      enableFileValidation: true,
      includeGlobalServiceEvents: false,
      isMultiRegionTrail: false,
      managementEvents: cloudtrail.ReadWriteType.NONE,
      sendToCloudWatchLogs: true,
      cloudWatchLogGroup: props.logKey.logGroup(this, 'TrailLogs'),
    });
    // CDK's Trail grants CloudTrail the bucket without naming the trail: pin its statements to this
    // trail (confused deputy). PolicyDocument keeps its statements private; they are mutable until synth.
    const statements = (bucket.policy!.document as unknown as { statements: iam.PolicyStatement[] }).statements;
    for (const st of statements) if (st.principals.some((p) => p instanceof iam.ServicePrincipal && p.service === 'cloudtrail.amazonaws.com')) st.addCondition('StringEquals', { 'aws:SourceArn': trailArn });
    this.trail.addS3EventSelector(props.buckets.map((b) => ({ bucket: b })), { readWriteType: cloudtrail.ReadWriteType.ALL, includeManagementEvents: false });
  }
}
