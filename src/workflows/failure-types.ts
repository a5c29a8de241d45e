// Failure types: the contract between activities, the sandbox workflow and the facade. Activities
// raise the first group; the workflow fails updates with the second, and the facade maps each to a
// gRPC code (src/driver/errors.ts). Free of Node APIs (imported by workflow code).

/** Substrate has no free worker right now: the workflow waits with backoff. */
export const NO_CAPACITY = 'NoCapacity';
/** Retrying cannot help: bad input, missing objects, auth. Never retried. */
export const PERMANENT = 'Permanent';
/** The same call may succeed later; the activity's retry policy applies. */
export const RETRYABLE = 'Retryable';

/** The request does not fit the sandbox's state (the operation table refused it). */
export const REFUSED = 'Refused';
/** A later stop or delete made the request pointless. */
export const SUPERSEDED = 'Superseded';
/** No free Substrate worker within the capacity budget. */
export const CAPACITY_BUDGET_EXHAUSTED = 'CapacityBudgetExhausted';
/** The transition failed (the sandbox's state and failure say what to do). */
export const OPERATION_FAILED = 'OperationFailed';
/** The sandbox was deleted while the request waited. */
export const SANDBOX_DELETED = 'SandboxDeleted';
