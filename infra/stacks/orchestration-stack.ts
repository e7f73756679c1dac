// Orchestration: the five functions, their least-privilege grants, and the run/round workflows.
// Central roles read site buckets under updates/ only, never data/.
import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { DeploymentConfig } from '../../lib/schemas/deployment-config.js';
import { FedradFunction } from '../constructs/fedrad-function.js';
import { RoundWorkflow } from '../constructs/round-workflow.js';
import type { DataStack } from './data-stack.js';
import type { TrainingStack } from './training-stack.js';

export interface OrchestrationStackProps extends StackProps {
  config: DeploymentConfig;
  data: DataStack;
  training: TrainingStack;
}

export class OrchestrationStack extends Stack {
  readonly workflow: RoundWorkflow;
  readonly functions: Record<'prepareRun' | 'validateUpdate' | 'aggregateRound' | 'finishRun', FedradFunction>;

  constructor(scope: Construct, id: string, props: OrchestrationStackProps) {
    super(scope, id, props);
    const { config, data, training } = props;
    const sites = config.sites.map((s) => ({ siteId: s.id, bucket: data.sites.get(s.id)!.bucket.bucketName, jobDefinitionArn: training.jobs.get(s.id)!.jobDefinition.jobDefinitionArn }));
    const environment = { FEDRAD_MODELS_BUCKET: data.modelsBucket.bucketName, FEDRAD_SITES: Stack.of(this).toJsonString(sites) };
    const make = (id: string, name: string, memorySize?: number, timeout?: Duration) => new FedradFunction(this, id, { name, environment, memorySize, timeout });
    this.functions = {
      prepareRun: make('PrepareRun', 'prepare-run'),
      validateUpdate: make('ValidateUpdate', 'validate-update', 2048),
      aggregateRound: make('AggregateRound', 'aggregate-round', 4096, Duration.minutes(15)),
      finishRun: make('FinishRun', 'finish-run'),
    };
    const { prepareRun, validateUpdate, aggregateRound, finishRun } = this.functions;
    data.modelsBucket.grantReadWrite(prepareRun.fn, 'runs/*');
    data.modelsBucket.grantRead(validateUpdate.fn, 'runs/*');
    data.modelsBucket.grantReadWrite(aggregateRound.fn, 'runs/*');
    data.modelsBucket.grantReadWrite(finishRun.fn, 'runs/*');
    for (const storage of data.sites.values()) {
      storage.bucket.grantRead(validateUpdate.fn, 'updates/*');
      storage.bucket.grantRead(aggregateRound.fn, 'updates/*');
    }
    this.workflow = new RoundWorkflow(this, 'Workflow', {
      prepareRun: prepareRun.fn,
      validateUpdate: validateUpdate.fn,
      aggregateRound: aggregateRound.fn,
      finishRun: finishRun.fn,
      jobQueue: training.compute.queue,
      trainingConcurrency: config.trainingConcurrency,
      jobTimeout: Duration.minutes(config.jobTimeoutMinutes),
    });
  }
}
