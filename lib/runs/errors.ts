// What goes wrong when a researcher reaches runs from outside, each with what to do about it.
import { FedradError } from '../errors.js';

/** The SDK found no credentials (no profile, no environment variables, no SSO session). */
export class NoCredentialsError extends FedradError {}
/** The federation's stacks are not deployed in this account and region. */
export class StackNotDeployedError extends FedradError {}
/** The region is not a region, or the ARN given belongs to another region. */
export class WrongRegionError extends FedradError {}
/** No execution (or local run) has this run id. */
export class RunNotFoundError extends FedradError {}
/** The caller's identity lacks a permission; the message names it. */
export class AccessDeniedError extends FedradError {}
/** The command cannot do this here (e.g. start a run in a local folder). */
export class UnsupportedRunOperationError extends FedradError {}
/** A downloaded model does not match the hash lineage records. */
export class ModelHashMismatchError extends FedradError {}
