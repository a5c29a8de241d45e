// Every failure leaves the facade as a gRPC status with a message that says what is wrong and,
// where possible, what to do. Temporal's errors are translated here, once.
import { status, type ServiceError } from '@grpc/grpc-js';
import {
  ServiceError as TemporalServiceError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';

/** An error that already knows its gRPC status. */
export class DriverError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

export const invalidArgument = (message: string) => new DriverError(status.INVALID_ARGUMENT, message);
export const failedPrecondition = (message: string) => new DriverError(status.FAILED_PRECONDITION, message);
export const notFound = (sandboxId: string) =>
  new DriverError(status.NOT_FOUND, `sandbox ${sandboxId} not found`);

/** What a Temporal call was doing, for the messages of the errors it may raise. */
export interface CallContext {
  /** e.g. "stop sandbox 1f3e…" */
  what: string;
  sandboxId?: string;
  timeoutMs: number;
  temporalAddress: string;
  taskQueue: string;
}

/** The gRPC status code of an error or of any error in its cause chain. */
export function grpcCodeOf(err: unknown): status | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as Partial<ServiceError>).code;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/** gRPC codes for the sandbox workflow's update failure types; others are FAILED_PRECONDITION. */
const updateFailureCodes: Record<string, status> = {
  /** A later stop or delete made the request pointless. */
  Superseded: status.ABORTED,
  /** No free Substrate worker within the capacity budget. */
  CapacityBudgetExhausted: status.RESOURCE_EXHAUSTED,
  /** The transition failed; the sandbox is FAILED (start retries, delete cleans up). */
  OperationFailed: status.INTERNAL,
};

/** Translates whatever a Temporal client call threw into a DriverError. */
export function fromTemporal(err: unknown, ctx: CallContext): DriverError {
  if (err instanceof DriverError) return err;
  if (err instanceof WorkflowNotFoundError) return notFound(ctx.sandboxId ?? '?');
  if (err instanceof WorkflowUpdateFailedError) {
    // Validator rejections and handler failures both arrive here; the workflow's message says why
    // and its failure type says what kind of failure it is (src/workflows/sandbox.ts).
    const cause = err.cause;
    const message = cause instanceof Error ? cause.message : err.message;
    const type = cause instanceof ApplicationFailure ? cause.type : undefined;
    return new DriverError(updateFailureCodes[type ?? ''] ?? status.FAILED_PRECONDITION, message);
  }
  const code = grpcCodeOf(err);
  const seconds = Math.round(ctx.timeoutMs / 1000);
  if (
    err instanceof WorkflowUpdateRPCTimeoutOrCancelledError ||
    code === status.DEADLINE_EXCEEDED ||
    code === status.CANCELLED
  ) {
    return new DriverError(
      status.UNAVAILABLE,
      `${ctx.what} did not finish within ${seconds}s: no ateflow worker answered on task queue ` +
        `"${ctx.taskQueue}" (is a worker running?), or the transition is still in progress; retry the call`,
    );
  }
  if (code === status.UNAVAILABLE) {
    return new DriverError(
      status.UNAVAILABLE,
      `${ctx.what}: cannot reach Temporal at ${ctx.temporalAddress}`,
    );
  }
  if (code === status.NOT_FOUND) return notFound(ctx.sandboxId ?? '?');
  const detail = err instanceof TemporalServiceError && err.cause ? err.cause.message : String(err);
  return new DriverError(status.INTERNAL, `${ctx.what}: ${err instanceof Error ? err.message : detail}`);
}

/**
 * Status messages are cut at this many characters: a status travels in HTTP/2 trailers, which
 * peers cap at 8–16 KiB, and a longer message (percent-encoded, up to 9 bytes per character)
 * would lose the status itself. (limits.ts has every other bound; it imports this module.)
 */
export const STATUS_MESSAGE_CHARS = 1024;

/** The status object grpc-js sends for an error: a code and a readable, bounded message. */
export function toGrpcStatus(err: unknown): Partial<ServiceError> {
  const [code, message] =
    err instanceof DriverError
      ? [err.code, err.message]
      : [status.INTERNAL, err instanceof Error ? err.message : String(err)];
  const cut =
    message.length > STATUS_MESSAGE_CHARS ? `${message.slice(0, STATUS_MESSAGE_CHARS - 1)}…` : message;
  // grpc-js sends the message through encodeURI, which throws on a lone surrogate (a cut pair):
  // the call would then end without any status.
  const details = cut.replace(LONE_SURROGATE, '\uFFFD');
  return { code, details: details || 'no message (this is a bug in the ateflow driver)' };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
