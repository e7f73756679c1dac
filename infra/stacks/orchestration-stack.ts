// Orchestration: the functions, their least-privilege grants, the run/round workflows, their
// schedule, notifications, alarms and dashboard.
// Central roles read site buckets under updates/ only, never data/.
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { DeploymentConfig } from '../../lib/schemas/deployment-config.js';
import { FedradFunction } from '../constructs/fedrad-function.js';
import { LogKey } from '../constructs/log-key.js';
import { RoundWorkflow } from '../constructs/round-workflow.js';
import { RunMonitoring } from '../constructs/run-monitoring.js';
import { RunSchedule } from '../constructs/run-schedule.js';
import { updateReaderRoleName } from '../naming.js';
import { grantUpdateReads } from '../constructs/update-readers.js';
import type { DataStack } from './data-stack.js';
import type { TrainingStack } from './training-stack.js';

/** the aggregate-round function: the most Lambda gives is 10 GB and 15 minutes; larger rounds go to Batch */
const AGGREGATE_MEMORY_MB = 4096;
const AGGREGATE_TIMEOUT_S = 900;

export interface OrchestrationStackProps extends StackProps {
  config: DeploymentConfig;
  data: DataStack;
  training: TrainingStack;
}

export class OrchestrationStack extends Stack {
  readonly workflow: RoundWorkflow;
  readonly monitoring: RunMonitoring;
  readonly schedule?: RunSchedule;
  readonly functions: Record<'prepareRun' | 'validateUpdate' | 'aggregateRound' | 'batchAggregation' | 'finishRun', FedradFunction>;

  constructor(scope: Construct, id: string, props: OrchestrationStackProps) {
    super(scope, id, props);
    const { config, data, training } = props;
    const sites = config.sites.map((s) => ({ siteId: s.id, bucket: data.sites.get(s.id)!.bucket.bucketName, jobDefinitionArn: training.jobs.get(s.id)!.jobDefinition.jobDefinitionArn }));
    const environment = { FEDRAD_MODELS_BUCKET: data.modelsBucket.bucketName, FEDRAD_SITES: Stack.of(this).toJsonString(sites) };
    const logKey = new LogKey(this, 'LogKey');
    const securityGroup = new ec2.SecurityGroup(this, 'FunctionSecurityGroup', { vpc: training.vpc, description: 'fedrad functions (isolated subnets: VPC endpoints only)', allowAllOutbound: true });
    const make = (id: string, name: string, reservedConcurrency: number, memorySize?: number, timeout?: Duration, roleName?: string) =>
      new FedradFunction(this, id, { name, environment, memorySize, timeout, vpc: training.vpc, securityGroup, logKey, reservedConcurrency, roleName });
    // Sites in their own accounts trust the update readers by role name.
    const remote = [...data.sites.values()].some((s) => s.remote);
    this.functions = {
      prepareRun: make('PrepareRun', 'prepare-run', 2),
      validateUpdate: make('ValidateUpdate', 'validate-update', config.trainingConcurrency + 2, 2048, undefined, remote ? updateReaderRoleName(config.federation, 'validate-update') : undefined),
      aggregateRound: make('AggregateRound', 'aggregate-round', 2, AGGREGATE_MEMORY_MB, Duration.seconds(AGGREGATE_TIMEOUT_S), remote ? updateReaderRoleName(config.federation, 'aggregate-round') : undefined),
      batchAggregation: make('BatchAggregation', 'batch-aggregation', 4),
      finishRun: make('FinishRun', 'finish-run', 2),
    };
    const { prepareRun, validateUpdate, aggregateRound, batchAggregation, finishRun } = this.functions;
    // Prepare run places each run's aggregation: this function's limits, or the Batch job's memory.
    prepareRun.fn.addEnvironment('FEDRAD_AGGREGATE_MEMORY_MB', String(AGGREGATE_MEMORY_MB));
    prepareRun.fn.addEnvironment('FEDRAD_AGGREGATE_TIMEOUT_S', String(AGGREGATE_TIMEOUT_S));
    prepareRun.fn.addEnvironment('FEDRAD_BATCH_AGGREGATE_MEMORY_MB', String(config.aggregationMemoryGiB * 1024));
    // Stages the Batch path's input and loads its result: runs/<id>/aggregation/ only.
    data.modelsBucket.grantReadWrite(batchAggregation.fn, 'runs/*/aggregation/*');
    data.modelsBucket.grantReadWrite(prepareRun.fn, 'runs/*');
    data.modelsBucket.grantRead(validateUpdate.fn, 'runs/*');
    data.modelsBucket.grantReadWrite(aggregateRound.fn, 'runs/*');
    data.modelsBucket.grantReadWrite(finishRun.fn, 'runs/*');
    grantUpdateReads(validateUpdate.fn, data.sites.values());
    grantUpdateReads(aggregateRound.fn, data.sites.values());
    this.workflow = new RoundWorkflow(this, 'Workflow', {
      prepareRun: prepareRun.fn,
      validateUpdate: validateUpdate.fn,
      aggregateRound: aggregateRound.fn,
      finishRun: finishRun.fn,
      jobQueue: training.compute.queue,
      batchAggregation: { stageAndLoad: batchAggregation.fn, jobQueue: training.aggregation.queue, jobDefinition: training.aggregation.jobDefinition, timeout: Duration.hours(6) },
      trainingConcurrency: config.trainingConcurrency,
      jobTimeout: Duration.minutes(config.jobTimeoutMinutes),
      logKey,
    });
    // `fedrad run ...` finds the federation by these outputs (lib/runs/sfn-runs.ts: STACK_OUTPUTS)
    new CfnOutput(this, 'RunStateMachineArn', { value: this.workflow.runMachine.stateMachineArn, description: 'start runs here (fedrad run start --federation ...)' });
    new CfnOutput(this, 'ModelsBucket', { value: data.modelsBucket.bucketName, description: 'global models, lineage and reports of every run' });
    new CfnOutput(this, 'SiteIds', { value: config.sites.map((s) => s.id).join(','), description: "the deployment's sites" });
    const opsKey = new kms.Key(this, 'OpsKey', { description: `fedrad ${config.federation}: notifications and schedule dead letters`, enableKeyRotation: true, removalPolicy: RemovalPolicy.RETAIN });
    this.monitoring = new RunMonitoring(this, 'Monitoring', {
      federation: config.federation,
      runMachine: this.workflow.runMachine,
      roundMachine: this.workflow.roundMachine,
      functions: Object.fromEntries(Object.entries(this.functions).map(([k, f]) => [k, f.fn])),
      key: opsKey,
      notificationEmail: config.notificationEmail,
      jobQueue: training.compute.queue,
      siteIds: config.sites.map((s) => s.id),
    });
    if (config.schedule) {
      this.schedule = new RunSchedule(this, 'Schedule', { runMachine: this.workflow.runMachine, expression: config.schedule.expression, timezone: config.schedule.timezone, runInput: config.schedule.runInput, key: opsKey });
      opsKey.grant(new iam.ServicePrincipal('scheduler.amazonaws.com'), 'kms:GenerateDataKey*', 'kms:Decrypt');
    }
  }
}
