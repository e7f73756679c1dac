// Strategy errors: run-level, named for the state machine.
import { FedradError } from '../../errors.js';

/** The strategy cannot honour its configuration with this round's updates (Krum's n >= 2f + 3, ...). */
export class InvalidStrategyError extends FedradError {}
/** The next round would spend more privacy than the run's epsilon budget: the run stops first. */
export class PrivacyBudgetExceededError extends FedradError {}
