// A fedrad Lambda function: the latest Node runtime (the code needs Node >= 20), in the isolated
// subnets, with reserved concurrency, bundled with esbuild on this machine (no Docker), structured
// logs retained a year, X-Ray tracing.
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import { join } from 'node:path';
import type { LogKey } from './log-key.js';

const FUNCTIONS_DIR = join(import.meta.dirname, '..', '..', 'functions');

export interface FedradFunctionProps {
  /** folder under functions/ */
  name: string;
  environment: Record<string, string>;
  memorySize?: number;
  timeout?: Duration;
  /** isolated subnets (reaching S3, KMS and X-Ray through endpoints) */
  vpc: ec2.IVpc;
  securityGroup: ec2.ISecurityGroup;
  logKey: LogKey;
  /** concurrent executions reserved (and capped): a round invokes a function at most this often at once */
  reservedConcurrency: number;
  /** a fixed role name, for roles another account's policies trust by ARN */
  roleName?: string;
}

export class FedradFunction extends Construct {
  readonly fn: NodejsFunction;

  constructor(scope: Construct, id: string, props: FedradFunctionProps) {
    super(scope, id);
    const logGroup = props.logKey.logGroup(this, 'Logs');
    // the role Lambda would create, with a name of our choosing when one is asked for
    const role = props.roleName
      ? new iam.Role(this, 'Role', {
          roleName: props.roleName,
          assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
          managedPolicies: ['service-role/AWSLambdaBasicExecutionRole', 'service-role/AWSLambdaVPCAccessExecutionRole'].map((n) => iam.ManagedPolicy.fromAwsManagedPolicyName(n)),
        })
      : undefined;
    this.fn = new NodejsFunction(this, 'Function', {
      role,
      entry: join(FUNCTIONS_DIR, props.name, 'handler.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_LATEST,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.minutes(5),
      environment: { NODE_OPTIONS: '--enable-source-maps', POWERTOOLS_SERVICE_NAME: 'fedrad', POWERTOOLS_METRICS_NAMESPACE: 'fedrad', ...props.environment },
      tracing: lambda.Tracing.ACTIVE,
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [props.securityGroup],
      reservedConcurrentExecutions: props.reservedConcurrency,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      bundling: { format: OutputFormat.ESM, target: 'node20', sourceMap: true, mainFields: ['module', 'main'], banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
    });
  }
}
