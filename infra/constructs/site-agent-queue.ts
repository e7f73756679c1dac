// An on-premises site's way in (compute "on-premises"), in the central account: the queue its
// agent long-polls for training tasks (the round machine sends them with a task token), and the
// role the agent acts as. The role may only take tasks from this queue, answer them (states:SendTask*),
// read the round's global model and put its own updates/; the hospital's machine gets it through IAM
// Roles Anywhere with a certificate from the trust's own CA, and needs no inbound connection.
import { CfnOutput, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { UPDATE_OBJECTS } from '../naming.js';
import { grantObjectReads, grantObjectWrites } from './object-grants.js';

export interface SiteAgentQueueProps {
  siteId: string;
  siteBucket: s3.IBucket;
  modelsBucket: s3.IBucket;
  key: kms.IKey;
  roleName: string;
  /** only certificates under this IAM Roles Anywhere trust anchor (the hospital's CA) */
  trustAnchorArn?: string;
  /** how long an unanswered task stays hidden from other receivers (the agent extends it while training) */
  visibilityTimeout: Duration;
}

export class SiteAgentQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetters: sqs.Queue;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: SiteAgentQueueProps) {
    super(scope, id);
    // A task the agent cannot parse three times goes aside; the round still ends on the task's heartbeat.
    this.deadLetters = new sqs.Queue(this, 'DeadLetters', { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: props.key, enforceSSL: true, retentionPeriod: Duration.days(14), removalPolicy: RemovalPolicy.DESTROY });
    this.queue = new sqs.Queue(this, 'Tasks', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout,
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: 3 },
      removalPolicy: RemovalPolicy.DESTROY, // tasks are transient: a lost task fails its site on the heartbeat
    });
    // IAM Roles Anywhere: the certificate's subject CN must name this site's agent (and its CA be the trust anchor, when named).
    const conditions = { StringEquals: { 'aws:PrincipalTag/x509Subject/CN': `fedrad-agent-${props.siteId}` }, ...(props.trustAnchorArn ? { ArnEquals: { 'aws:SourceArn': props.trustAnchorArn } } : {}) };
    this.role = new iam.Role(this, 'AgentRole', {
      roleName: props.roleName,
      assumedBy: new iam.ServicePrincipal('rolesanywhere.amazonaws.com').withConditions(conditions),
      maxSessionDuration: Duration.hours(12),
      description: `fedrad: the on-premises agent of ${props.siteId} (its queue, task answers, its updates/)`,
    });
    (this.role.assumeRolePolicy as iam.PolicyDocument).addStatements(
      new iam.PolicyStatement({ principals: [new iam.ServicePrincipal('rolesanywhere.amazonaws.com')], actions: ['sts:TagSession', 'sts:SetSourceIdentity'], conditions }),
    );
    this.queue.grantConsumeMessages(this.role);
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['sqs:ChangeMessageVisibility'], resources: [this.queue.queueArn] }));
    // Task tokens are the capability: SendTask* take no resource-level permission.
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'], resources: ['*'] }));
    grantObjectWrites(props.siteBucket, this.role, ...UPDATE_OBJECTS);
    // reading its own updates back lets a restarted agent see an update it already wrote (create-once)
    grantObjectReads(props.siteBucket, this.role, ...UPDATE_OBJECTS);
    grantObjectReads(props.modelsBucket, this.role, 'runs/*/rounds/*/global.onnx');
    // what the hospital puts in site-agent.json and its Roles Anywhere profile
    new CfnOutput(this, 'QueueUrl', { value: this.queue.queueUrl, description: `${props.siteId}: the agent's queueUrl` });
    new CfnOutput(this, 'AgentRoleArn', { value: this.role.roleArn, description: `${props.siteId}: the role of the agent's IAM Roles Anywhere profile` });
  }
}
