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
import { roundMachineName, roundMachineRoleName, siteAgentRoleName, siteJobDefinitionName, siteJobQueueName, siteSubmitRoleName, updateReaderRoleName } from '../naming.js';
import { SiteAgentQueue } from '../constructs/site-agent-queue.js';
import type { SiteRef } from '../../lib/federation/round-state.js';
import type { SiteConfig } from '../../lib/schemas/deployment-config.js';
import { grantUpdateReads } from '../constructs/update-readers.js';
import { grantObjectReads, grantObjectWrites } from '../constructs/object-grants.js';
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
  readonly agentQueues: Map<string, SiteAgentQueue>;
  readonly functions: Record<'prepareRun' | 'validateUpdate' | 'aggregateRound' | 'batchAggregation' | 'finishRun', FedradFunction>;

  constructor(scope: Construct, id: string, props: OrchestrationStackProps) {
    super(scope, id, props);
    const { config, data, training } = props;
    // On-premises sites: a task queue and an agent role each (central account).
    const agentKey = config.sites.some((s) => s.compute === 'on-premises') ? new kms.Key(this, 'AgentQueueKey', { description: `fedrad ${config.federation}: on-premises agents' task queues`, enableKeyRotation: true, removalPolicy: RemovalPolicy.RETAIN }) : undefined;
    this.agentQueues = new Map(
      config.sites
        .filter((s) => s.compute === 'on-premises')
        .map((s) => [s.id, new SiteAgentQueue(this, `Agent-${s.id}`, { siteId: s.id, siteBucket: data.sites.get(s.id)!.bucket, modelsBucket: data.modelsBucket, key: agentKey!, roleName: siteAgentRoleName(config.federation, s.id), trustAnchorArn: s.agentTrustAnchorArn, visibilityTimeout: Duration.seconds(Math.max(60, 2 * config.agentHeartbeatSeconds)) })]),
    );
    const sites = config.sites.map((s) => siteRef(this, config, s, data, training, this.agentQueues));
    const environment = { FEDRAD_MODELS_BUCKET: data.modelsBucket.bucketName, FEDRAD_SITES: Stack.of(this).toJsonString(sites) };
    const logKey = new LogKey(this, 'LogKey');
    const securityGroup = new ec2.SecurityGroup(this, 'FunctionSecurityGroup', { vpc: training.vpc, description: 'fedrad functions (isolated subnets: VPC endpoints only)', allowAllOutbound: false });
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: AWS APIs through the VPC endpoints (no other route)');
    const make = (id: string, name: string, reservedConcurrency: number, memorySize?: number, timeout?: Duration, roleName?: string) =>
      new FedradFunction(this, id, { name, environment, memorySize, timeout, vpc: training.vpc, securityGroup, logKey, reservedConcurrency, roleName });
    // Site keys and buckets (and sites in their own accounts) name the update readers by role name.
    this.functions = {
      prepareRun: make('PrepareRun', 'prepare-run', 2),
      validateUpdate: make('ValidateUpdate', 'validate-update', config.trainingConcurrency + 2, 2048, undefined, updateReaderRoleName(config.federation, 'validate-update')),
      aggregateRound: make('AggregateRound', 'aggregate-round', 2, AGGREGATE_MEMORY_MB, Duration.seconds(AGGREGATE_TIMEOUT_S), updateReaderRoleName(config.federation, 'aggregate-round')),
      batchAggregation: make('BatchAggregation', 'batch-aggregation', 4),
      finishRun: make('FinishRun', 'finish-run', 2),
    };
    const { prepareRun, validateUpdate, aggregateRound, batchAggregation, finishRun } = this.functions;
    // Prepare run places each run's aggregation: this function's limits, or the Batch job's memory.
    prepareRun.fn.addEnvironment('FEDRAD_AGGREGATE_MEMORY_MB', String(AGGREGATE_MEMORY_MB));
    prepareRun.fn.addEnvironment('FEDRAD_AGGREGATE_TIMEOUT_S', String(AGGREGATE_TIMEOUT_S));
    prepareRun.fn.addEnvironment('FEDRAD_BATCH_AGGREGATE_MEMORY_MB', String(config.aggregationMemoryGiB * 1024));
    // Stages the Batch path's input and loads its result: runs/<id>/aggregation/ only.
    // Models bucket: PutObject only (no DeleteObject*; Object Lock keeps every version).
    for (const fn of [batchAggregation, prepareRun, validateUpdate, aggregateRound, finishRun]) grantObjectReads(data.modelsBucket, fn.fn, fn === batchAggregation ? 'runs/*/aggregation/*' : 'runs/*');
    grantObjectWrites(data.modelsBucket, batchAggregation.fn, 'runs/*/aggregation/*');
    for (const fn of [prepareRun, aggregateRound, finishRun]) grantObjectWrites(data.modelsBucket, fn.fn, 'runs/*');
    grantUpdateReads(validateUpdate.fn, data.sites.values());
    grantUpdateReads(aggregateRound.fn, data.sites.values());
    this.workflow = new RoundWorkflow(this, 'Workflow', {
      prepareRun: prepareRun.fn,
      validateUpdate: validateUpdate.fn,
      aggregateRound: aggregateRound.fn,
      finishRun: finishRun.fn,
      jobQueue: training.compute.queue,
      trainingJobDefinitionArns: [...training.jobs.values()].map((j) => j.jobDefinition.jobDefinitionArn),
      batchAggregation: { stageAndLoad: batchAggregation.fn, jobQueue: training.aggregation.queue, jobDefinition: training.aggregation.jobDefinition, timeout: Duration.hours(6) },
      trainingConcurrency: config.trainingConcurrency,
      siteAccounts: config.sites.some((s) => s.compute === 'site-account')
        ? { machineName: roundMachineName(config.federation), roleName: roundMachineRoleName(config.federation), submitRoleArns: sites.filter((s) => s.submitRoleArn).map((s) => s.submitRoleArn!) }
        : undefined,
      agentQueues: this.agentQueues.size ? { queues: [...this.agentQueues.values()].map((a) => a.queue), heartbeat: Duration.seconds(config.agentHeartbeatSeconds) } : undefined,
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
      opsKey.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.ServicePrincipal('scheduler.amazonaws.com')], actions: ['kms:GenerateDataKey*', 'kms:Decrypt'], resources: ['*'], conditions: { StringEquals: { 'aws:SourceAccount': this.account } } }));
    }
  }
}

/** How the round machine reaches a site: by its compute, a job definition here, a queue and job
 * definition in the hospital's account (with the role to assume there), or the agent's queue. */
function siteRef(stack: Stack, config: DeploymentConfig, site: SiteConfig, data: DataStack, training: TrainingStack, agents: Map<string, SiteAgentQueue>): SiteRef {
  const base = { siteId: site.id, bucket: data.sites.get(site.id)!.bucket.bucketName, compute: site.compute };
  if (site.compute === 'on-premises') return { ...base, queueUrl: agents.get(site.id)!.queue.queueUrl };
  if (site.compute === 'site-account') {
    const region = site.region ?? config.region!;
    const arn = (service: string, resource: string) => `arn:${stack.partition}:${service}:${service === 'iam' ? '' : region}:${site.account}:${resource}`;
    return {
      ...base,
      jobQueueArn: arn('batch', `job-queue/${siteJobQueueName(config.federation, site.id)}`),
      jobDefinitionArn: arn('batch', `job-definition/${siteJobDefinitionName(config.federation, site.id)}`),
      submitRoleArn: arn('iam', `role/${siteSubmitRoleName(config.federation, site.id)}`),
    };
  }
  return { ...base, jobDefinitionArn: training.jobs.get(site.id)!.jobDefinition.jobDefinitionArn };
}
