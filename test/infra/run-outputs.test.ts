// The orchestration stack's outputs are how `fedrad run --federation <name>` finds a deployment:
// the names lib/runs reads must be the ones the stack writes, and point at the right resources.
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '../../infra/config.js';
import { buildFedrad } from '../../infra/fedrad.js';
import { orchestrationStackName, STACK_OUTPUTS } from '../../lib/runs/sfn-runs.js';

const CONTEXT = { 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:defaultCrossStackReferences': 'strong', '@aws-cdk/aws-batch:defaultToAL2023': true };

describe('orchestration stack outputs', () => {
  it('name the run state machine, the models bucket and the sites, under the stack name the CLI looks up', () => {
    const app = new App({ context: CONTEXT });
    const stacks = buildFedrad(app, parseDeploymentConfig({ federation: 'outs', sites: ['a', 'b'].map((id) => ({ id, displayName: id })) }, 'outs'));
    expect(stacks.orchestration.stackName).toBe(orchestrationStackName('outs'));
    const outputs = Template.fromStack(stacks.orchestration).findOutputs('*');
    const o = stacks.orchestration;
    expect(outputs[STACK_OUTPUTS.runStateMachine].Value).toEqual({ Ref: o.getLogicalId(o.workflow.runMachine.node.defaultChild as never) });
    expect(outputs[STACK_OUTPUTS.sites].Value).toBe('a,b');
    // the models bucket comes from the data stack, by cross-stack import
    expect(JSON.stringify(outputs[STACK_OUTPUTS.modelsBucket].Value)).toContain('Fn::ImportValue');
    expect(Stack.of(stacks.data.modelsBucket).stackName).toBe('fedrad-outs-data');
  });
});
