// cdk-nag (AwsSolutions and HIPAA.Security) for the whole app, and every finding we accept with
// the reason a reviewer needs. cdk-nag 3 acknowledges one finding id on one construct at a time, so
// the accepted findings are listed here as patterns with their reasons and applied to each match.
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, type NagPack } from 'cdk-nag';
import type { IConstruct } from 'constructs';

export interface Acknowledgement {
  /** matched against the finding id (rule name and, for IAM findings, the finding) */
  finding: RegExp;
  /** matched against the violating construct's path */
  path?: RegExp;
  reason: string;
}

export const ACKNOWLEDGEMENTS: Acknowledgement[] = [
  // IAM wildcards that CDK grants produce, each limited to one bucket, prefix or key
  { finding: /^AwsSolutions-IAM5\[Action::s3:(GetObject|GetBucket|List|Abort|DeleteObject)\*\]$/, reason: 'Action wildcards from CDK bucket grants (read or write families); each statement is limited to one bucket and one key prefix (data/, updates/ or runs/).' },
  { finding: /^AwsSolutions-IAM5\[Action::kms:(GenerateDataKey|ReEncrypt)\*\]$/, reason: 'KMS data-key actions that S3 server-side encryption needs; each statement names one key (the site\'s or the models key).' },
  { finding: /^AwsSolutions-IAM5\[Resource::.*\/(data|updates)\/\*\]$/, path: /\/(Job-[^/]+\/JobRole|SiteAccessRole)\//, reason: "A site's job role (or, for a site in its own account, the role there that its job assumes) reads its own bucket's data/ and updates/ and writes its updates/: object keys below the prefix are not known in advance. Other sites' buckets are not named." },
  { finding: /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:kms:[a-z0-9-]+:\d{12}:key\/\*\]$/, path: /\/(ValidateUpdate\/Role|AggregateRound\/Role|Aggregation\/JobRole)\//, reason: "The key of a site in its own account has an id the central stack cannot know: kms:Decrypt on that account's keys, only via S3 and only for objects under that site bucket's updates/ (conditions); the site's key policy grants the same and no more." },
  { finding: /^AwsSolutions-IAM5\[Resource::.*\/updates\/\*\]$/, path: /\/(ValidateUpdate|AggregateRound|Aggregation\/JobRole)\//, reason: 'The gate and the aggregation (function or Batch job) read site updates under updates/ only (never data/); keys carry run and round ids.' },
  { finding: /^AwsSolutions-IAM5\[Resource::.*\/runs\/\*\/aggregation\/\*\]$/, path: /\/BatchAggregation\//, reason: "Staging a round's input for the Batch aggregation and loading its result: runs/<runId>/aggregation/<round>/ of the models bucket only; run ids are chosen at start." },
  { finding: /^AwsSolutions-IAM5\[Resource::.*\/runs\/\*\/rounds\/\*\/global\.onnx\]$/, reason: 'Training jobs read global models only: runs/<runId>/rounds/<round>/global.onnx, run and round unknown in advance.' },
  { finding: /^AwsSolutions-IAM5\[Resource::.*\/runs\/\*\]$/, reason: 'The central functions write run records, models, lineage and reports under runs/ of the models bucket; run ids are chosen at start.' },
  { finding: /^AwsSolutions-IAM5\[Resource::\*\]$/, reason: 'Actions that take no resource: X-Ray PutTraceSegments/PutTelemetryRecords, ecr:GetAuthorizationToken (job execution role), the CloudWatch Logs delivery actions Step Functions logging requires, batch:DescribeJobs (a site-account submit role), and states:SendTask* (an on-premises agent: the task token is the capability).' },
  // Where a site trains (docs/site-compute.md)
  { finding: /^AwsSolutions-IAM5\[Resource::.*\/updates\/\*\]$/, path: /\/Agent-[^/]+\/AgentRole\//, reason: "An on-premises site's agent puts (and reads back, to resume create-once) its own update under its own bucket's updates/; run and round ids are not known in advance. It cannot read data/ or any other site's bucket." },
  { finding: /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:kms:[a-z0-9-]+:\d{12}:key\/\*\]$/, path: /\/Training\/Job-[^/]+\/JobRole\//, reason: "A site-account site's job role decrypts the round's global model with the federation's models key, whose id this account cannot know: only via S3 and only for the models bucket (conditions); the central key policy grants this role the same and no more." },
  { finding: /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:batch:[a-z0-9-]+:\d{12}:(job-definition\/[\w-]+:\*|job\/\*)\]$/, path: /\/Training\/SubmitRole\//, reason: "The role the federation's round machine assumes in a hospital account submits to one named job definition (any revision) and queue, and may stop that account's jobs (job ids are generated per submission)." },
  { finding: /^AwsSolutions-IAM5\[Resource::<\w+\.Arn>:\*\]$/, reason: 'Step Functions may invoke any version or alias of its own task functions (the ARN with its qualifier); the functions are named.' },
  { finding: /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job-definition\/\*\]$/, reason: 'batch:SubmitJob needs the job definition; the Map picks the site\'s own job definition at run time. The job queue is named.' },
  { finding: /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:states:.*:execution:.*\*\]$/, reason: 'The run machine starts and watches executions of its own round machine; execution names are generated per round.' },
  // AWS-managed policies
  { finding: /^AwsSolutions-IAM4\[Policy::.*AWSLambda(Basic|VPCAccess)ExecutionRole\]$/, reason: 'AWS-maintained policies for writing the function\'s logs and attaching to the isolated subnets; nothing more.' },
  { finding: /^AwsSolutions-IAM4\[Policy::.*AmazonEC2ContainerServiceforEC2Role\]$/, reason: 'The AWS-maintained instance role the ECS agent on Batch GPU hosts needs; job permissions are on the per-site job roles, not here.' },
  { finding: /^HIPAA\.Security-IAMNoInlinePolicy$/, reason: 'Policies are generated per role by CDK grants and attached to that role only; a managed policy per role would add no isolation.' },
  // Network
  { finding: /^(AwsSolutions-EC23|HIPAA\.Security-EC2RestrictedSSH|HIPAA\.Security-EC2RestrictedCommonPorts)$/, path: /\/Vpc\/\w+\/SecurityGroup\//, reason: 'Interface endpoint security groups: ingress is TCP 443 from the VPC CIDR only (an intrinsic the rule cannot evaluate); no SSH, no internet.' },
  { finding: /^HIPAA\.Security-VPCDefaultSecurityGroupClosed$/, reason: "No resource uses the VPC's default security group: functions, jobs and endpoints each have their own, and the subnets have no internet route." },
  // Functions and buckets
  { finding: /^HIPAA\.Security-LambdaDLQ$/, reason: 'Invoked synchronously by Step Functions only: a failure returns to the execution, which retries transient errors and records the rest; a DLQ would never receive events.' },
  { finding: /^AwsSolutions-SQS3$/, path: /\/Schedule\/DeadLetters\//, reason: "This queue is the schedule's dead-letter queue (EventBridge Scheduler puts failed starts in it); a dead-letter queue of its own would never be used." },
  { finding: /^HIPAA\.Security-S3BucketReplicationEnabled$/, reason: "Site data must stay in the site's bucket and region (data residency); durability comes from S3 and versioning, and models can be re-derived from lineage." },
  { finding: /^HIPAA\.Security-S3DefaultEncryptionKMS$/, path: /\/AccessLogs\//, reason: 'The S3 access-log bucket: the log delivery service writes only with SSE-S3; it holds request logs, not patient data.' },
];

export const PACKS = [AwsSolutionsChecks, HIPAASecurityChecks] as const;

export interface PackReport {
  pack: string;
  findings: Array<{ id: string; path: string; acknowledged: boolean; reason?: string }>;
}

function constructsByPath(app: App): Map<string, IConstruct> {
  return new Map(app.node.findAll().map((c) => [c.node.path, c]));
}

/** Runs both packs over the synthesized app, acknowledges the accepted findings; returns every finding. */
export function runNag(app: App): PackReport[] {
  const byPath = constructsByPath(app);
  return PACKS.map((Pack) => {
    const pack: NagPack = new Pack(app);
    const report = pack.validateScope(app);
    const findings: PackReport['findings'] = [];
    for (const v of report.violations) {
      for (const r of v.violatingResources) {
        const path = r.constructPath ?? '';
        const ack = ACKNOWLEDGEMENTS.find((a) => a.finding.test(v.ruleName) && (!a.path || a.path.test(path)));
        if (ack) {
          // validateScope matches the bare id; the synth-time plugin, the id behind the pack's name
          const target = Validations.of(byPath.get(path)!);
          target.acknowledge({ id: v.ruleName, reason: ack.reason });
          target.acknowledge({ id: `${pack.readPackName}::${v.ruleName}`, reason: ack.reason });
        }
        findings.push({ id: v.ruleName, path, acknowledged: Boolean(ack), reason: ack?.reason });
      }
    }
    return { pack: pack.readPackName, findings };
  });
}
