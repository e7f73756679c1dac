// cdk-nag (AwsSolutions and HIPAA.Security) for the whole app, and every finding we accept with
// the reason a reviewer needs. cdk-nag 3 acknowledges one finding id on one construct at a time, so
// the accepted findings are listed here as patterns with their reasons and applied to each match.
import { type App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks, HIPAASecurityChecks, type NagPack } from 'cdk-nag';
import type { IConstruct } from 'constructs';

export interface Acknowledgement {
  /** matched against the finding id (rule name and, for IAM findings, the finding) */
  finding: RegExp;
  /** matched against the violating construct's path */
  path?: RegExp;
  /** for a Resource::* finding: every action the policy allows on "*" must match, or the finding stays open
   * (cdk-nag names no action in it, so a data read added beside an X-Ray action would otherwise pass) */
  wildcardActions?: RegExp;
  reason: string;
}

export const ACKNOWLEDGEMENTS: Acknowledgement[] = [
  // IAM wildcards, each limited to one bucket and key pattern, one key or one named resource, on named
  // roles only (path). No acknowledgement covers Resource::* for a data read: the invariant
  // no-wildcard-read (test/infra/invariants.ts) fails on any Allow of s3:GetObject or kms:Decrypt on "*".
  { finding: /^AwsSolutions-IAM5\[Action::kms:(GenerateDataKey|ReEncrypt)\*\]$/, path: /\/(Monitoring\/\w+\/EventsRole|Workflow\/RoundMachineRole|Workflow\/RoundMachine\/Role)\/DefaultPolicy\//, reason: "KMS data-key actions CDK grants for sending to an encrypted topic or queue (EventBridge rules publishing notifications, the round machine sending agents' tasks); each statement names the one ops or agent-queue key." },
  { finding: /^AwsSolutions-IAM5\[Resource::.*\/data\/\*\]$/, path: /\/(Job-[^/]+\/JobRole|SiteAccessRole|BreakGlass)\/DefaultPolicy\//, reason: "A site's training role (or, for a site in its own account, the role there that its job assumes) reads its own bucket's data/: object keys below the prefix are not known in advance. The break-glass role (MFA, CloudTrail) reads the same data/ and nothing else. The bucket policy denies data/ to every other principal." },
  { finding: /^AwsSolutions-IAM5\[Resource::.*\/updates\/runs\/\*\/rounds\/\*\/(update\.safetensors|manifest\.json|refusal\.json)\]$/, path: /\/(Job-[^/]+\/JobRole|SiteAccessRole|Agent-[^/]+\/AgentRole)\/DefaultPolicy\//, reason: "A site's trainer (job role, the role it assumes in the hospital's account, or an on-premises agent) reads and writes its own update of a round only: updates/runs/<runId>/rounds/<round>/update.safetensors and manifest.json, or refusal.json when its site's policy refuses the task (run and round unknown in advance)." },
  { finding: /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:kms:[a-z0-9-]+:\d{12}:key\/\*\]$/, path: /\/(ValidateUpdate\/Role|AggregateRound\/Role|Aggregation\/JobRole)\/DefaultPolicy\//, reason: "The key of a site in its own account has an id the central stack cannot know: kms:Decrypt on that account's keys, only via S3 and only for objects under that site bucket's updates/ (conditions); the site's key policy grants the same and no more." },
  { finding: /^AwsSolutions-IAM5\[Resource::.*\/updates\/\*\]$/, path: /\/(ValidateUpdate\/Role|AggregateRound\/Role|Aggregation\/JobRole)\/DefaultPolicy\//, reason: 'The gate and the aggregation (function or Batch job) read site updates under updates/ only (never data/: the bucket policy denies it to them); keys carry run and round ids.' },
  { finding: /^AwsSolutions-IAM5\[Resource::.*\/runs\/\*\/aggregation\/\*\]$/, path: /\/(BatchAggregation\/Function\/ServiceRole|Aggregation\/JobRole)\/DefaultPolicy\//, reason: "Staging a round's input for the Batch aggregation and writing its result: runs/<runId>/aggregation/<round>/ of the models bucket only (PutObject, no delete); run ids are chosen at start." },
  { finding: /^AwsSolutions-IAM5\[Resource::.*\/runs\/\*\/rounds\/\*\/global\.onnx\]$/, path: /\/(Job-[^/]+\/JobRole|Agent-[^/]+\/AgentRole)\/DefaultPolicy\//, reason: 'Trainers read global models only: runs/<runId>/rounds/<round>/global.onnx, run and round unknown in advance.' },
  { finding: /^AwsSolutions-IAM5\[Resource::.*\/runs\/\*\]$/, path: /\/(PrepareRun|ValidateUpdate|AggregateRound|FinishRun)\/(Function\/ServiceRole|Role)\/DefaultPolicy\/|\/Aggregation\/JobRole\/DefaultPolicy\//, reason: 'The central functions read, and (prepare, aggregate, finish) write with PutObject only, run records, models, lineage and reports under runs/ of the models bucket; run ids are chosen at start. Object Lock keeps every version, and nobody may bypass it.' },
  { finding: /^AwsSolutions-IAM5\[Resource::\*\]$/, path: /\/(PrepareRun|ValidateUpdate|AggregateRound|BatchAggregation|FinishRun)\/(Function\/ServiceRole|Role)\/DefaultPolicy\/|\/Workflow\/(RunMachine\/Role|RoundMachine\/Role|RoundMachineRole)\/DefaultPolicy\//, wildcardActions: /^(xray:(PutTraceSegments|PutTelemetryRecords|GetSamplingRules|GetSamplingTargets)|logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups))$/, reason: 'X-Ray PutTraceSegments/PutTelemetryRecords (functions and state machines) and the CloudWatch Logs delivery actions Step Functions logging requires: actions that take no resource. No data action.' },
  { finding: /^AwsSolutions-IAM5\[Resource::\*\]$/, path: /\/Container\/ExecutionRole\/DefaultPolicy\//, wildcardActions: /^ecr:GetAuthorizationToken$/, reason: "ecr:GetAuthorizationToken for a job's execution role (pulls its image): the action takes no resource. No data action." },
  { finding: /^AwsSolutions-IAM5\[Resource::\*\]$/, path: /\/Training\/SubmitRole\/DefaultPolicy\//, wildcardActions: /^batch:DescribeJobs$/, reason: "batch:DescribeJobs for the role the federation's round machine assumes in a hospital's account (it watches its job): the action takes no resource. No data action." },
  { finding: /^AwsSolutions-IAM5\[Resource::\*\]$/, path: /\/Agent-[^/]+\/AgentRole\/DefaultPolicy\//, wildcardActions: /^states:SendTask(Success|Failure|Heartbeat)$/, reason: "states:SendTaskSuccess/Failure/Heartbeat for an on-premises agent: the task token is the capability and the actions take no resource. No data action." },
  { finding: /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:kms:[a-z0-9-]+:\d{12}:key\/\*\]$/, path: /\/Training\/Job-[^/]+\/JobRole\//, reason: "A site-account site's job role decrypts the round's global model with the federation's models key, whose id this account cannot know: only via S3 and only for the models bucket (conditions); the central key policy grants this role the same and no more." },
  { finding: /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:batch:[a-z0-9-]+:\d{12}:(job-definition\/[\w-]+:\*|job\/\*)\]$/, path: /\/Training\/SubmitRole\//, reason: "The role the federation's round machine assumes in a hospital account submits to one named job definition (any revision) and queue, and may stop that account's jobs (job ids are generated per submission)." },
  { finding: /^AwsSolutions-IAM5\[Resource::<\w+\.Arn>:\*\]$/, path: /\/Workflow\/(RunMachine\/Role|RoundMachine\/Role|RoundMachineRole)\/DefaultPolicy\//, reason: 'Step Functions may invoke any version or alias of its own task functions (the ARN with its qualifier); the functions are named.' },
  { finding: /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:states:.*:execution:.*\*\]$/, path: /\/Workflow\/RunMachine\/Role\/DefaultPolicy\//, reason: 'The run machine starts and watches executions of its own round machine; execution names are generated per round.' },
  // AWS-managed policies
  { finding: /^AwsSolutions-IAM4\[Policy::.*AWSLambda(Basic|VPCAccess)ExecutionRole\]$/, reason: 'AWS-maintained policies for writing the function\'s logs and attaching to the isolated subnets; nothing more.' },
  { finding: /^AwsSolutions-IAM4\[Policy::.*AmazonEC2ContainerServiceforEC2Role\]$/, reason: 'The AWS-maintained instance role the ECS agent on Batch GPU hosts needs; job permissions are on the per-site job roles, not here.' },
  { finding: /^HIPAA\.Security-IAMNoInlinePolicy$/, reason: 'Policies are generated per role by CDK grants and attached to that role only; a managed policy per role would add no isolation.' },
  // Network
  { finding: /^(AwsSolutions-EC23|HIPAA\.Security-EC2RestrictedSSH|HIPAA\.Security-EC2RestrictedCommonPorts)$/, path: /\/EndpointSecurityGroup\//, reason: 'The VPC endpoints\' security group: ingress is TCP 443 from the VPC CIDR only (an intrinsic the rule cannot evaluate), no egress; no SSH, no internet.' },
  { finding: /^HIPAA\.Security-VPCDefaultSecurityGroupClosed$/, reason: "No resource uses the VPC's default security group: functions, jobs and endpoints each have their own, and the subnets have no internet route." },
  // Functions and buckets
  { finding: /^HIPAA\.Security-LambdaDLQ$/, reason: 'Invoked synchronously by Step Functions only: a failure returns to the execution, which retries transient errors and records the rest; a DLQ would never receive events.' },
  { finding: /^AwsSolutions-SQS3$/, path: /\/Schedule\/DeadLetters\//, reason: "This queue is the schedule's dead-letter queue (EventBridge Scheduler puts failed starts in it); a dead-letter queue of its own would never be used." },
  { finding: /^HIPAA\.Security-S3BucketReplicationEnabled$/, reason: "Site data must stay in the site's bucket and region (data residency); durability comes from S3 and versioning, and models can be re-derived from lineage. The data-event trail's bucket is versioned and its log files are digest-validated; an organization trail may copy them elsewhere." },
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

/** The actions a policy construct allows on "*" (undefined when the construct is no IAM policy). */
function actionsOnEverything(c: IConstruct | undefined): string[] | undefined {
  if (!(c instanceof iam.CfnPolicy)) return undefined;
  const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
  const doc = Stack.of(c).resolve(c.policyDocument) as { Statement: Array<{ Effect: string; Action?: string | string[]; Resource?: unknown }> };
  return doc.Statement.filter((s) => s.Effect === 'Allow' && list(s.Resource).includes('*')).flatMap((s) => list(s.Action));
}

const applies = (a: Acknowledgement, rule: string, path: string, construct: IConstruct | undefined) =>
  a.finding.test(rule) && (!a.path || a.path.test(path)) && (!a.wildcardActions || (actionsOnEverything(construct) ?? ['(not a policy)']).every((x) => a.wildcardActions!.test(x)));

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
        const ack = ACKNOWLEDGEMENTS.find((a) => applies(a, v.ruleName, path, byPath.get(path)));
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
