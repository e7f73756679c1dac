// The federated workflow, as two Standard state machines (JSONPath):
//   run:   Prepare run -> Run round (a child execution per round) -> Next round? -> Finish run
//   round: Train at each site (Map: Where does the site train? -> Train at site [Batch .sync] | Train in the
//          hospital's account [Batch .sync, assumed role] | Ask the site's agent to train [SQS + task token]
//          -> Validate update) -> Where to aggregate?
//          -> Aggregate round [Lambda], or for models too large for it (placed per run at Prepare run):
//             Stage aggregation [Lambda] -> Aggregate on Batch [CPU Batch .sync] -> Load aggregation result [Lambda]
// A child execution per round keeps each history far below 25,000 events for 1,000 rounds x 50 sites.
import * as cdk from 'aws-cdk-lib';
import { Duration } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ROUND_STATES, RUN_STATES } from '../../lib/workflow/state-names.js';
import type { LogKey } from './log-key.js';

export interface RoundWorkflowProps {
  prepareRun: lambda.IFunction;
  validateUpdate: lambda.IFunction;
  aggregateRound: lambda.IFunction;
  finishRun: lambda.IFunction;
  jobQueue: batch.IJobQueue;
  /** the central sites' job definitions (the only ones the round machine may submit to here) */
  trainingJobDefinitionArns: string[];
  /** sites training at once within a round */
  trainingConcurrency: number;
  jobTimeout: Duration;
  logKey: LogKey;
  /** the CPU Batch path of the aggregation */
  batchAggregation: { stageAndLoad: lambda.IFunction; jobQueue: batch.IJobQueue; jobDefinition: batch.IJobDefinition; timeout: Duration };
  /** sites training in their own accounts: the round machine gets this name and a role of this name
   * (the hospitals trust both), and may assume exactly these submit roles */
  siteAccounts?: { machineName: string; roleName: string; submitRoleArns: string[] };
  /** on-premises sites' task queues, and how often their agents must send a heartbeat */
  agentQueues?: { queues: sqs.IQueue[]; heartbeat: Duration };
}

/**
 * BatchSubmitJob renders its timeout as the job's attempt duration only. This one also bounds the
 * state itself, so a job stuck RUNNABLE (no capacity) fails the site instead of the round hanging.
 */
class BoundedBatchSubmitJob extends tasks.BatchSubmitJob {
  /** jobDefinitionArns: what batch:SubmitJob may name (CDK grants job-definition/* when the state picks it at run time) */
  constructor(scope: Construct, id: string, protected readonly stateTimeout: Duration, props: tasks.BatchSubmitJobProps, jobDefinitionArns?: string[]) {
    super(scope, id, props);
    const self = this as unknown as { taskPolicies?: iam.PolicyStatement[] };
    const named = jobDefinitionArns ?? (cdk.Token.isUnresolved(props.jobDefinitionArn) || !props.jobDefinitionArn.startsWith('$') ? [props.jobDefinitionArn] : []);
    self.taskPolicies = self.taskPolicies?.map((s) => (s.actions.includes('batch:SubmitJob') ? new iam.PolicyStatement({ actions: ['batch:SubmitJob'], resources: [props.jobQueueArn, ...named] }) : s));
  }

  override toStateJson(topLevelQueryLanguage?: sfn.QueryLanguage): object {
    return { ...super.toStateJson(topLevelQueryLanguage), TimeoutSeconds: this.stateTimeout.toSeconds() };
  }
}

/**
 * BatchSubmitJob in another account: Credentials.RoleArn taken from the Map item. The assume-role
 * grant is added by the workflow on exactly the submit roles (CDK's JSONPath role would grant "*"),
 * and no central Batch permission is needed (the job is submitted and polled as the hospital's role).
 */
class AssumedRoleBatchSubmitJob extends BoundedBatchSubmitJob {
  constructor(scope: Construct, id: string, stateTimeout: Duration, private readonly roleArnPath: string, props: tasks.BatchSubmitJobProps) {
    super(scope, id, stateTimeout, props);
    (this as unknown as { taskPolicies: iam.PolicyStatement[] }).taskPolicies = [];
  }

  override toStateJson(topLevelQueryLanguage?: sfn.QueryLanguage): object {
    return { ...super.toStateJson(topLevelQueryLanguage), Credentials: { 'RoleArn.$': this.roleArnPath } };
  }
}

const LAMBDA_TIMEOUT = sfn.Timeout.duration(Duration.minutes(16));
/** Transient Batch API errors are retried; a failed job (States.TaskFailed) is not. */
const BATCH_API_RETRY: sfn.RetryProps = { errors: ['Batch.AWSBatchException', 'Batch.ServerException', 'Batch.TooManyRequestsException'], interval: Duration.seconds(10), backoffRate: 2, maxAttempts: 5, jitterStrategy: sfn.JitterType.FULL };
const TRANSIENT_LAMBDA_ERRORS = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];

/** A Lambda task; without a payload the function receives the whole state input. */
function invoke(scope: Construct, name: string, fn: lambda.IFunction, payload?: sfn.TaskInput, resultPath?: string): sfn.TaskStateBase {
  // payloadResponseOnly: the function's result is the state's result; its error name is the state's error.
  return new tasks.LambdaInvoke(scope, name, { lambdaFunction: fn, payload, payloadResponseOnly: true, retryOnServiceExceptions: false, taskTimeout: LAMBDA_TIMEOUT, resultPath })
    .addRetry({ errors: TRANSIENT_LAMBDA_ERRORS, interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 4, jitterStrategy: sfn.JitterType.FULL });
}

export class RoundWorkflow extends Construct {
  readonly runMachine: sfn.StateMachine;
  readonly roundMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: RoundWorkflowProps) {
    super(scope, id);
    const $ = sfn.JsonPath;

    // ---- one round ----
    const jobEnvironment = {
      FEDRAD_RUN_ID: $.stringAt('$.runId'),
      FEDRAD_ROUND: $.format('{}', $.stringAt('$.round')),
      FEDRAD_SITE_ID: $.stringAt('$.site.siteId'),
      FEDRAD_SITE_BUCKET: $.stringAt('$.site.bucket'),
      FEDRAD_MODELS_BUCKET: $.stringAt('$.modelsBucket'),
      FEDRAD_GLOBAL_MODEL_KEY: $.stringAt('$.globalModelKey'),
      FEDRAD_GLOBAL_MODEL_SHA256: $.stringAt('$.globalModelSha256'),
      FEDRAD_TRAINING_SPEC: $.stringAt('$.trainingSpec'),
      // what a site policy checks (a site-account job reads its policy in the hospital's bucket)
      FEDRAD_RUN_ROUNDS: $.format('{}', $.stringAt('$.rounds')),
      FEDRAD_STRATEGY: $.jsonToString($.objectAt('$.strategy')),
    };
    const train = new BoundedBatchSubmitJob(this, ROUND_STATES.train, props.jobTimeout.plus(Duration.hours(2)), {
      jobName: $.format('fedrad-{}-r{}', $.stringAt('$.site.siteId'), $.stringAt('$.round')),
      jobQueueArn: props.jobQueue.jobQueueArn,
      jobDefinitionArn: $.stringAt('$.site.jobDefinitionArn'),
      containerOverrides: { environment: jobEnvironment },
      resultSelector: { jobId: $.stringAt('$.JobId') },
      resultPath: '$.job',
      taskTimeout: sfn.Timeout.duration(props.jobTimeout),
    }, props.trainingJobDefinitionArns);
    // Transient Batch API errors are retried; a failed job (States.TaskFailed) is caught and recorded.
    train.addRetry(BATCH_API_RETRY);
    const validate = invoke(this, ROUND_STATES.validate, props.validateUpdate, sfn.TaskInput.fromObject({
      runId: $.stringAt('$.runId'),
      round: $.numberAt('$.round'),
      siteId: $.stringAt('$.site.siteId'),
      siteBucket: $.stringAt('$.site.bucket'),
      modelsBucket: $.stringAt('$.modelsBucket'),
      globalModelKey: $.stringAt('$.globalModelKey'),
      globalModelSha256: $.stringAt('$.globalModelSha256'),
      gate: $.objectAt('$.gate'),
    }));
    // The error name only: a failed Batch job's cause is its whole job description (kilobytes),
    // and 50 of them would strain the 256 KiB payload; the job's logs keep the details.
    const recordFailure = new sfn.Pass(this, ROUND_STATES.recordFailure, {
      parameters: { siteId: $.stringAt('$.site.siteId'), status: 'failed', error: $.stringAt('$.error.Error') },
    });
    train.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.error' });
    validate.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.error' });
    // Where the site trains: every branch ends in the same validation. A federation whose sites all
    // train centrally keeps the plain chain (a Choice needs at least one rule).
    const placed = Boolean(props.siteAccounts || props.agentQueues);
    const where = placed ? new sfn.Choice(this, ROUND_STATES.wherePlaced) : undefined;
    if (props.siteAccounts) {
      const inAccount = new AssumedRoleBatchSubmitJob(this, ROUND_STATES.trainInAccount, props.jobTimeout.plus(Duration.hours(2)), '$.site.submitRoleArn', {
        jobName: $.format('fedrad-{}-r{}', $.stringAt('$.site.siteId'), $.stringAt('$.round')),
        jobQueueArn: $.stringAt('$.site.jobQueueArn'),
        jobDefinitionArn: $.stringAt('$.site.jobDefinitionArn'),
        containerOverrides: { environment: jobEnvironment },
        resultSelector: { jobId: $.stringAt('$.JobId') },
        resultPath: '$.job',
        taskTimeout: sfn.Timeout.duration(props.jobTimeout),
      });
      inAccount.addRetry(BATCH_API_RETRY);
      inAccount.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.error' });
      where!.when(sfn.Condition.and(sfn.Condition.isPresent('$.site.compute'), sfn.Condition.stringEquals('$.site.compute', 'site-account')), inAccount.next(validate));
    }
    if (props.agentQueues) {
      // The agent answers with the task token (SendTaskSuccess/Failure) and beats while it trains;
      // a silent agent fails its site after HeartbeatSeconds, the round goes on.
      const askAgent = new sfn.CustomState(this, ROUND_STATES.askAgent, {
        stateJson: {
          Type: 'Task',
          Resource: `arn:${cdk.Aws.PARTITION}:states:::sqs:sendMessage.waitForTaskToken`,
          Parameters: {
            'QueueUrl.$': '$.site.queueUrl',
            MessageBody: {
              version: 1,
              'taskToken.$': '$$.Task.Token',
              'runId.$': '$.runId',
              'round.$': '$.round',
              'rounds.$': '$.rounds',
              'siteId.$': '$.site.siteId',
              'siteBucket.$': '$.site.bucket',
              'modelsBucket.$': '$.modelsBucket',
              'globalModelKey.$': '$.globalModelKey',
              'globalModelSha256.$': '$.globalModelSha256',
              'trainingSpec.$': '$.trainingSpec',
              'strategy.$': '$.strategy',
            },
          },
          HeartbeatSeconds: props.agentQueues.heartbeat.toSeconds(),
          TimeoutSeconds: props.jobTimeout.plus(Duration.hours(2)).toSeconds(),
          ResultPath: '$.agent',
        },
      });
      askAgent.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.error' });
      where!.when(sfn.Condition.and(sfn.Condition.isPresent('$.site.compute'), sfn.Condition.stringEquals('$.site.compute', 'on-premises')), askAgent.next(validate));
    }
    const trainHere = train.next(validate);
    const perSite = new sfn.Map(this, ROUND_STATES.map, {
      itemsPath: '$.sites',
      maxConcurrency: props.trainingConcurrency,
      itemSelector: {
        runId: $.stringAt('$.runId'),
        round: $.numberAt('$.round'),
        modelsBucket: $.stringAt('$.modelsBucket'),
        globalModelKey: $.stringAt('$.globalModelKey'),
        globalModelSha256: $.stringAt('$.globalModelSha256'),
        trainingSpec: $.stringAt('$.trainingSpec'),
        gate: $.objectAt('$.gate'),
        // what a site's policy checks (on-premises agents read them from the task)
        rounds: $.numberAt('$.rounds'),
        strategy: $.objectAt('$.strategy'),
        site: $.objectAt('$$.Map.Item.Value'),
      },
      resultPath: '$.outcomes',
    });
    perSite.itemProcessor(where ? where.otherwise(trainHere) : trainHere);
    const aggregate = invoke(this, ROUND_STATES.aggregate, props.aggregateRound);
    // The Batch path: the round's input is staged in the models bucket (it can exceed what a job's
    // environment may hold), the job aggregates and writes its result beside it, and the result is
    // loaded as the next state, or raised under the job's error name.
    const ba = props.batchAggregation;
    const stage = invoke(this, ROUND_STATES.stageAggregation, ba.stageAndLoad, sfn.TaskInput.fromObject({ stage: $.entirePayload }), '$.staged');
    const onBatch = new BoundedBatchSubmitJob(this, ROUND_STATES.aggregateOnBatch, ba.timeout.plus(Duration.hours(1)), {
      jobName: $.format('fedrad-aggregate-r{}', $.stringAt('$.round')),
      jobQueueArn: ba.jobQueue.jobQueueArn,
      jobDefinitionArn: ba.jobDefinition.jobDefinitionArn,
      containerOverrides: { environment: { FEDRAD_MODELS_BUCKET: $.stringAt('$.modelsBucket'), FEDRAD_AGGREGATION_INPUT_KEY: $.stringAt('$.staged.inputKey') } },
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(ba.timeout),
    });
    onBatch.addRetry(BATCH_API_RETRY);
    const load = invoke(this, ROUND_STATES.loadAggregation, ba.stageAndLoad, sfn.TaskInput.fromObject({ load: { runId: $.stringAt('$.runId'), round: $.numberAt('$.round'), modelsBucket: $.stringAt('$.modelsBucket') } }));
    const place = new sfn.Choice(this, ROUND_STATES.placement)
      .when(sfn.Condition.and(sfn.Condition.isPresent('$.aggregation'), sfn.Condition.stringEquals('$.aggregation', 'batch')), stage.next(onBatch).next(load))
      .otherwise(aggregate);
    const sa = props.siteAccounts;
    this.roundMachine = new sfn.StateMachine(this, 'RoundMachine', {
      ...(sa ? { stateMachineName: sa.machineName, role: new iam.Role(this, 'RoundMachineRole', { roleName: sa.roleName, assumedBy: new iam.ServicePrincipal('states.amazonaws.com'), description: 'fedrad round machine (hospitals running site-account training trust it by name)' }) } : {}),
      definitionBody: sfn.DefinitionBody.fromChainable(perSite.next(place)),
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      // ALL: transitions carry ids, keys, hashes and metrics only (no image data)
      logs: { destination: props.logKey.logGroup(this, 'RoundLogs'), level: sfn.LogLevel.ALL, includeExecutionData: true },
      comment: 'fedrad: one federated round (train at each site, validate each update, aggregate)',
    });

    if (sa) this.roundMachine.addToRolePolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: sa.submitRoleArns }));
    for (const queue of props.agentQueues?.queues ?? []) queue.grantSendMessages(this.roundMachine);

    // ---- the run ----
    const prepare = invoke(this, RUN_STATES.prepare, props.prepareRun, sfn.TaskInput.fromObject({ input: $.entirePayload, executionName: $.stringAt('$$.Execution.Name') }));
    const round = new tasks.StepFunctionsStartExecution(this, RUN_STATES.round, {
      stateMachine: this.roundMachine,
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      input: sfn.TaskInput.fromJsonPathAt('$'),
      outputPath: '$.Output',
      taskTimeout: sfn.Timeout.duration(Duration.days(7)),
    });
    round.addRetry({ errors: ['StepFunctions.AWSStepFunctionsException', 'StepFunctions.SdkClientException'], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 4 });
    const failed = new sfn.Fail(this, RUN_STATES.failed, { errorPath: '$.error.Error', causePath: '$.error.Cause' });
    round.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.error' });
    const finish = invoke(this, RUN_STATES.finish, props.finishRun);
    const next = new sfn.Choice(this, RUN_STATES.nextRound).when(sfn.Condition.numberLessThanJsonPath('$.round', '$.rounds'), round).otherwise(finish);
    this.runMachine = new sfn.StateMachine(this, 'RunMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(prepare.next(round).next(next)),
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: { destination: props.logKey.logGroup(this, 'RunLogs'), level: sfn.LogLevel.ALL, includeExecutionData: true },
      comment: 'fedrad: a federated run of R rounds (start it with the run input documented in the README)',
    });
  }
}
