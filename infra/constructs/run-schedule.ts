// Scheduled runs: an EventBridge Scheduler schedule starts the run state machine with a stored run
// input (validated here against the run input schema, so a bad schedule fails the synth), in the
// configured timezone, with a dead-letter queue for starts that fail.
import { Duration, TimeZone } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { formatIssues } from '../../lib/schemas/format.js';
import { RunInputSchema } from '../../lib/schemas/run-input.js';

export interface RunScheduleProps {
  runMachine: sfn.IStateMachine;
  expression: string;
  timezone: string;
  runInput: Record<string, unknown>;
  key: kms.IKey;
}

export class RunSchedule extends Construct {
  readonly schedule: scheduler.Schedule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: RunScheduleProps) {
    super(scope, id);
    if (props.runInput.runId !== undefined) throw new Error('schedule.runInput.runId: leave it out: each scheduled execution gets its own run id (its execution name)');
    const parsed = RunInputSchema.safeParse(props.runInput);
    if (!parsed.success) throw new Error(`schedule.runInput is not a valid run input: ${formatIssues(parsed.error)}`);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: props.key, enforceSSL: true, retentionPeriod: Duration.days(14) });
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: 'fedrad: start a federated run',
      schedule: scheduler.ScheduleExpression.expression(props.expression, TimeZone.of(props.timezone)),
      target: new targets.StepFunctionsStartExecution(props.runMachine, {
        input: scheduler.ScheduleTargetInput.fromObject(props.runInput),
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 3,
        maxEventAge: Duration.hours(1),
      }),
    });
  }
}
