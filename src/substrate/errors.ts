// How ateflow treats each ateapi failure (reference ateapi.md §2.6–§2.7):
//   retryable  the same call will succeed later (lock held, transient transport, atelet hiccups,
//              a deadline that left the actor transitional — a retry forward-recovers it)
//   capacity   no free worker right now: wait with backoff, report it, give up after a budget
//   permanent  retrying cannot help (bad input, missing objects, auth)
import { status, type ServiceError } from '@grpc/grpc-js';

export type ErrorClass = 'retryable' | 'capacity' | 'permanent';

const retryableCodes = new Set([
  status.ABORTED,
  status.UNAVAILABLE,
  status.DEADLINE_EXCEEDED,
  status.UNKNOWN,
  status.RESOURCE_EXHAUSTED,
  status.CANCELLED,
]);

/** Internal errors that upstream produces for transient conditions (plain Go errors). */
const transientInternal = [
  'worker cache not ready',
  'context deadline exceeded',
  'timed out waiting for the condition',
  'worker does not exist',
];

export function isServiceError(err: unknown): err is ServiceError {
  return typeof err === 'object' && err !== null && typeof (err as ServiceError).code === 'number';
}

export function classifyAteapiError(err: unknown): ErrorClass {
  if (!isServiceError(err)) return 'retryable'; // a local failure (e.g. the token file): try again
  if (err.code === status.FAILED_PRECONDITION && err.details === 'no free workers available')
    return 'capacity';
  if (retryableCodes.has(err.code)) return 'retryable';
  if (err.code === status.INTERNAL && transientInternal.some((text) => err.details.includes(text)))
    return 'retryable';
  return 'permanent';
}

/** "CODE_NAME: message", the way operators read gRPC failures. */
export function describeAteapiError(err: unknown): string {
  if (!isServiceError(err)) return err instanceof Error ? err.message : String(err);
  return `${status[err.code] ?? err.code}: ${err.details}`;
}
