// Failure types that activities raise and the workflow inspects (safe to import from workflows).

/** Substrate has no free worker right now: the workflow waits with backoff. */
export const NO_CAPACITY = 'NoCapacity';
/** Retrying cannot help: bad input, missing objects, auth. */
export const PERMANENT = 'Permanent';
