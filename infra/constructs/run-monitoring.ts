// Operations for the run workflow: SNS notifications (run succeeded, failed or timed out, a round
// lost its quorum or its privacy budget, a training job blocks the queue RUNNABLE), alarms (failed
// and timed-out runs, failed rounds, jobs stuck RUNNABLE, function errors), and a CloudWatch
// dashboard (runs, rounds, per-site training durations, updates, the global metric).
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as batch from 'aws-cdk-lib/aws-batch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface RunMonitoringProps {
  federation: string;
  runMachine: sfn.StateMachine;
  roundMachine: sfn.StateMachine;
  functions: Record<string, lambda.IFunction>;
  key: kms.IKey;
  notificationEmail?: string;
  /** the training queue, watched for jobs stuck RUNNABLE */
  jobQueue: batch.IJobQueue;
  siteIds: string[];
}

export class RunMonitoring extends Construct {
  readonly topic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: RunMonitoringProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Notifications', { displayName: `fedrad ${props.federation}`, masterKey: props.key, enforceSSL: true });
    // Alarms publish as CloudWatch (from this account only); rules publish through a role of their own.
    props.key.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')], actions: ['kms:GenerateDataKey*', 'kms:Decrypt'], resources: ['*'], conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } } }));
    if (props.notificationEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.notificationEmail));

    const statusRule = (name: string, machine: sfn.IStateMachine, statuses: string[], message: (e: typeof events.EventField) => string) =>
      new events.Rule(this, name, {
        eventPattern: { source: ['aws.states'], detailType: ['Step Functions Execution Status Change'], detail: { stateMachineArn: [machine.stateMachineArn], status: statuses } },
        targets: [new eventTargets.SnsTopic(this.topic, { authorizeUsingRole: true, message: events.RuleTargetInput.fromText(message(events.EventField)) })],
      });
    statusRule('RunFinished', props.runMachine, ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'], (f) => `fedrad ${props.federation}: run ${f.fromPath('$.detail.name')} ${f.fromPath('$.detail.status')}. Execution: ${f.fromPath('$.detail.executionArn')}`);
    statusRule('RoundFailed', props.roundMachine, ['FAILED', 'TIMED_OUT'], (f) => `fedrad ${props.federation}: a round ${f.fromPath('$.detail.status')} (lost quorum, privacy budget or a bad update store: see the error). Execution: ${f.fromPath('$.detail.executionArn')}`);

    const alarm = (name: string, metric: cloudwatch.IMetric, description: string) => {
      const a = new cloudwatch.Alarm(this, name, { metric, threshold: 1, evaluationPeriods: 1, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, alarmDescription: description });
      a.addAlarmAction(new actions.SnsAction(this.topic));
      return a;
    };
    const fiveMinutes = { period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM };
    alarm('RunsFailed', props.runMachine.metricFailed(fiveMinutes), 'A fedrad run failed.');
    alarm('RunsTimedOut', props.runMachine.metricTimedOut(fiveMinutes), 'A fedrad run timed out.');
    alarm('RoundsFailed', props.roundMachine.metricFailed(fiveMinutes), 'A fedrad round failed (quorum, privacy budget or storage).');
    // Jobs stuck RUNNABLE: Batch emits "Batch Job Queue Blocked" when a job at the head of the queue
    // cannot be placed (no GPU capacity, maxvCpus too small, no instance type fits). The rule tells
    // the topic which job and why; the alarm counts the rule's matches. The queue's time-limit action
    // then cancels the job, its site counts as failed, and RoundsFailed fires if quorum is lost.
    const blocked = new events.Rule(this, 'JobQueueBlocked', {
      eventPattern: { source: ['aws.batch'], detailType: ['Batch Job Queue Blocked'], detail: { jobQueue: [props.jobQueue.jobQueueArn] } },
      targets: [new eventTargets.SnsTopic(this.topic, { authorizeUsingRole: true, message: events.RuleTargetInput.fromText(`fedrad ${props.federation}: training job ${events.EventField.fromPath('$.detail.jobName')} is stuck RUNNABLE: ${events.EventField.fromPath('$.detail.statusReason')}. It is cancelled if still stuck after the queue's time limit.`) })],
    });
    alarm('JobsStuckRunnable', new cloudwatch.Metric({ namespace: 'AWS/Events', metricName: 'MatchedEvents', dimensionsMap: { RuleName: blocked.ruleName }, ...fiveMinutes }), 'A fedrad training job is stuck RUNNABLE at the head of the queue (no GPU capacity or no instance type fits).');
    for (const [name, fn] of Object.entries(props.functions)) alarm(`${name}Errors`, fn.metricErrors(fiveMinutes), `Errors in the ${name} function.`);

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: `fedrad-${props.federation}-${Stack.of(this).region}`.replace(/[^A-Za-z0-9_-]/g, '-') });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Runs', left: [props.runMachine.metricStarted(fiveMinutes), props.runMachine.metricSucceeded(fiveMinutes), props.runMachine.metricFailed(fiveMinutes)] }),
      new cloudwatch.GraphWidget({ title: 'Rounds', left: [props.roundMachine.metricStarted(fiveMinutes), props.roundMachine.metricSucceeded(fiveMinutes), props.roundMachine.metricFailed(fiveMinutes)], right: [props.roundMachine.metricTime({ statistic: cloudwatch.Stats.AVERAGE, period: Duration.minutes(15) })] }),
      new cloudwatch.GraphWidget({
        title: 'Training duration per site (seconds)',
        left: props.siteIds.map((site) => new cloudwatch.Metric({ namespace: 'fedrad', metricName: 'TrainingSeconds', dimensionsMap: { service: 'fedrad', site }, statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(5), label: site })),
      }),
      new cloudwatch.GraphWidget({ title: 'Function durations (p90)', left: Object.values(props.functions).map((fn) => fn.metricDuration({ statistic: cloudwatch.Stats.p(90) })) }),
      new cloudwatch.GraphWidget({ title: 'Function errors', left: Object.values(props.functions).map((fn) => fn.metricErrors(fiveMinutes)) }),
      new cloudwatch.GraphWidget({
        title: 'Updates per round (accepted, rejected, failed)',
        left: ['AcceptedUpdates', 'RejectedUpdates', 'FailedSites'].map((m) => new cloudwatch.Metric({ namespace: 'fedrad', metricName: m, dimensionsMap: { service: 'fedrad' }, statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5) })),
      }),
      new cloudwatch.GraphWidget({
        title: "Global model's metric on the sites (per round)",
        left: ['Global_accuracy', 'Global_rocAuc', 'Global_dice'].map((m) => new cloudwatch.Metric({ namespace: 'fedrad', metricName: m, dimensionsMap: { service: 'fedrad' }, statistic: cloudwatch.Stats.AVERAGE, period: Duration.minutes(5) })),
      }),
    );
  }
}
