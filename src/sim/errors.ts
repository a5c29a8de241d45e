// Errors as ate-api-server produces them. A handler either throws a StatusError (the client
// gets exactly its code and message) or a plain Error, which the server reports as
// Internal "internal server error: <message>" — ateinterceptors' normalisation.
import { status as GrpcStatus } from '@grpc/grpc-js';

export class StatusError extends Error {
  constructor(
    readonly code: GrpcStatus,
    message: string,
  ) {
    super(message);
    this.name = 'StatusError';
  }
}

export const invalidArgument = (message: string) => new StatusError(GrpcStatus.INVALID_ARGUMENT, message);
export const notFound = (message: string) => new StatusError(GrpcStatus.NOT_FOUND, message);
export const failedPrecondition = (message: string) =>
  new StatusError(GrpcStatus.FAILED_PRECONDITION, message);
export const alreadyExists = (message: string) => new StatusError(GrpcStatus.ALREADY_EXISTS, message);
export const aborted = (message: string) => new StatusError(GrpcStatus.ABORTED, message);

export const actorNotFound = (name: string) => notFound(`Actor ${name} not found`);
export const lockConflict = () => aborted('another operation is in progress for this actor');
export const updateConflict = () => aborted('concurrent update conflict, please retry');

/** An optimistic write lost against a concurrent writer (upstream store.ErrPersistenceRetry). */
export class PersistenceConflict extends Error {
  constructor(what: string) {
    super(`${what}: version conflict`);
    this.name = 'PersistenceConflict';
  }
}

/**
 * A lifecycle workflow step failed with a plain error. Upstream wraps it as
 * "workflow failed at step <Step>: <cause>", and the interceptor turns it into Internal;
 * a StatusError cause keeps its own code and message instead.
 */
export function stepFailure(step: string, cause: unknown): Error {
  if (cause instanceof StatusError) return cause;
  if (cause instanceof PersistenceConflict) return updateConflict();
  const text = cause instanceof Error ? cause.message : String(cause);
  return new Error(`workflow failed at step ${step}: ${text}`);
}

/** What the client receives for any thrown value (code and message only, like upstream). */
export function toStatus(err: unknown): { code: GrpcStatus; details: string } {
  if (err instanceof StatusError) return { code: err.code, details: err.message };
  const text = err instanceof Error ? err.message : String(err);
  return { code: GrpcStatus.INTERNAL, details: `internal server error: ${text}` };
}
