// Run-level errors. Their names are what the state machine and its console show.
import { FedradError } from '../errors.js';

/** The run input does not fit the schema, or names sites the deployment does not have. */
export class InvalidRunInputError extends FedradError {}
/** A run id is reused with a different input: history is never overwritten. */
export class RunConflictError extends FedradError {}
/** Fewer than minSites updates were accepted: the round fails and the previous model stays current. */
export class QuorumNotReachedError extends FedradError {}
/** A stored global model does not match the hash the workflow carries. */
export class CorruptGlobalModelError extends FedradError {}
/** A site's job found an update from an earlier attempt with other bytes and no manifest: it is never replaced. */
export class UpdateConflictError extends FedradError {}
/** The aggregated model holds a NaN or infinite weight: nothing is written and the previous model stays current. */
export class NonFiniteModelError extends FedradError {}
