// Turns what the AWS SDK throws into errors a researcher can act on: no credentials, a region that
// is not one, a stack not deployed, a run that does not exist, a permission missing (named).
import { FedradError } from '../errors.js';
import { AccessDeniedError, NoCredentialsError, RunNotFoundError, StackNotDeployedError, WrongRegionError } from './errors.js';
import { clean } from './run-view.js';

export interface AwsCall {
  /** the IAM action the call needs, e.g. 'states:StartExecution' */
  action: string;
  /** what it acts on, for messages: an ARN, s3://bucket/key, a stack name */
  resource: string;
  region: string;
}

const NAME = (err: unknown) => (err as { name?: string }).name ?? '';
const CODE = (err: unknown) => (err as { code?: string }).code ?? '';

export function translateAwsError(err: unknown, call: AwsCall): Error {
  if (err instanceof FedradError) return err;
  const name = NAME(err);
  const message = clean((err as Error)?.message ?? String(err), 300);
  const options = { cause: err };
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(message)) {
    return new NoCredentialsError('no AWS credentials found: set AWS_PROFILE (and run `aws sso login` for an SSO profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then try again', { action: call.action }, options);
  }
  if (['UnrecognizedClientException', 'InvalidClientTokenId', 'ExpiredToken', 'ExpiredTokenException', 'InvalidSignatureException', 'SignatureDoesNotMatch'].includes(name)) {
    return new NoCredentialsError(`AWS refused the credentials (${name}): they are invalid or expired; refresh them (\`aws sso login\`, or new access keys) and try again`, { action: call.action }, options);
  }
  if (CODE(err) === 'ENOTFOUND' || CODE(err) === 'EAI_AGAIN' || name === 'UnknownEndpoint' || /getaddrinfo/.test(message)) {
    return new WrongRegionError(`cannot reach AWS in region '${clean(call.region, 40)}' (${message}): check --region or AWS_REGION (e.g. eu-west-2) and the network`, { region: call.region }, options);
  }
  if (['AccessDeniedException', 'AccessDenied', 'AuthorizationError', 'Forbidden'].includes(name) || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 403) {
    const named = /not authorized to perform:? ([a-z0-9-]+:[A-Za-z0-9]+)/.exec(message)?.[1];
    const action = named ?? call.action;
    return new AccessDeniedError(`access denied: your AWS identity lacks the permission ${action} on ${clean(call.resource, 200)}; ask your AWS administrator to grant it (fedrad's researcher permissions are listed in docs/runs.md)`, { action, resource: call.resource }, options);
  }
  if (name === 'ExecutionDoesNotExist') {
    return new RunNotFoundError(`no run with that id: ${clean(call.resource, 200)} does not exist in ${call.region}; \`fedrad run list\` shows the federation's runs`, { resource: call.resource }, options);
  }
  if (name === 'StateMachineDoesNotExist' || name === 'NoSuchBucket') {
    return new StackNotDeployedError(`${clean(call.resource, 200)} does not exist in ${call.region}: is the federation deployed in this account and region? (check --region, or deploy it: see the README's Deploy section)`, { resource: call.resource }, options);
  }
  if (name === 'ValidationError' && /does not exist/.test(message)) {
    return new StackNotDeployedError(`stack ${clean(call.resource, 200)} is not deployed in ${call.region}: check the federation name and --region (AWS_REGION), or deploy it with \`npx cdk deploy --all\``, { stack: call.resource }, options);
  }
  return new FedradError(`${call.action} on ${clean(call.resource, 200)} failed: ${name ? `${name}: ` : ''}${message}`, { action: call.action }, options);
}

/** Runs one SDK call and translates its failure. */
export async function awsCall<T>(call: AwsCall, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translateAwsError(err, call);
  }
}
