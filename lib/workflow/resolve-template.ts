// Turns a synthesized state machine's DefinitionString (CloudFormation intrinsics) into plain ASL
// for the local runner: Refs, GetAtts and imports become local ARNs that name the resource.
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { FedradError } from '../errors.js';

export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';

function arnFor(template: CfnTemplate, logicalId: string): string {
  const type = template.Resources[logicalId]?.Type;
  switch (type) {
    case 'AWS::Lambda::Function': return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${logicalId}`;
    case 'AWS::StepFunctions::StateMachine': return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${logicalId}`;
    default: return `arn:aws:cloudformation:${LOCAL_REGION}:${LOCAL_ACCOUNT}:resource/${logicalId}`;
  }
}

export function resolveIntrinsics(value: unknown, template: CfnTemplate): unknown {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, template));
  const obj = value as Record<string, unknown>;
  if ('Ref' in obj) {
    const ref = obj.Ref as string;
    const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': LOCAL_REGION, 'AWS::AccountId': LOCAL_ACCOUNT, 'AWS::URLSuffix': 'amazonaws.com' };
    return pseudo[ref] ?? arnFor(template, ref);
  }
  if ('Fn::GetAtt' in obj) return arnFor(template, (obj['Fn::GetAtt'] as string[])[0]);
  if ('Fn::ImportValue' in obj) return `arn:aws:cloudformation:${LOCAL_REGION}:${LOCAL_ACCOUNT}:export/${String(resolveIntrinsics(obj['Fn::ImportValue'], template)).replace(/[^A-Za-z0-9-]/g, '-')}`;
  if ('Fn::Join' in obj) {
    const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => resolveIntrinsics(p, template)).join(sep);
  }
  throw new FedradError(`cannot resolve CloudFormation intrinsic ${Object.keys(obj).join(', ')} locally`, {});
}

/** The ASL of the state machine resource `logicalId` in `template`. */
export function stateMachineDefinition(template: CfnTemplate, logicalId: string): StateMachineDefinition {
  const resource = template.Resources[logicalId];
  if (resource?.Type !== 'AWS::StepFunctions::StateMachine') throw new FedradError(`${logicalId} is not a state machine in the template`, { logicalId });
  const text = resolveIntrinsics(resource.Properties!.DefinitionString, template);
  return JSON.parse(text as string) as StateMachineDefinition;
}
