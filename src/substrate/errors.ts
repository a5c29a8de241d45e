// How ateflow treats every failure of a call to Substrate or to the template store, decided here
// once (reference ateapi.md §2.6–§2.7):
//   retryable  the same call will succeed later (lock held, transient transport, atelet hiccups,
//              a deadline that left the actor transitional — a retry forward-recovers it)
//   capacity   no free worker right now: wait with backoff, report it, give up after a budget
//   permanent  retrying cannot help (bad input, missing objects, auth): the transition fails at
//              its first attempt
import { status, type ServiceError } from '@grpc/grpc-js';
import { TemplateRejectedError } from './template-store';

export type ErrorClass = 'retryable' | 'capacity' | 'permanent';

/** gRPC codes of ateapi (and of the simulator's admin API) that a retry can get past. */
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

export function classifyFailure(err: unknown): ErrorClass {
  if (err instanceof TemplateRejectedError) return 'permanent';
  // A local failure (the token file, a dropped Kubernetes connection, a 5xx): try again.
  if (!isServiceError(err)) return 'retryable';
  if (err.code === status.FAILED_PRECONDITION && err.details === 'no free workers available')
    return 'capacity';
  if (retryableCodes.has(err.code)) return 'retryable';
  if (err.code === status.INTERNAL && transientInternal.some((text) => err.details.includes(text)))
    return 'retryable';
  return 'permanent';
}

/** "CODE_NAME: message", the way operators read gRPC failures. */
export function describeFailure(err: unknown): string {
  if (!isServiceError(err)) return err instanceof Error ? err.message : String(err);
  return `${status[err.code] ?? err.code}: ${err.details}`;
}
