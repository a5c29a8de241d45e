// The `ateflow` exit codes: one table, one function that turns whatever ended a command into a
// code. Commands throw (CliError, a gRPC error, commander's usage errors); only main.ts exits.
// Kept free of heavy imports: it loads on every start, `--version` included.

/** What a command's outcome was, and the exit code scripts can rely on. */
export const EXIT = {
  /** It did what was asked. */
  ok: 0,
  /** Usage or bad input: unknown command or option, malformed value, an ambiguous name. */
  usage: 1,
  /** Anything else went wrong: a step or migration failed, an unexpected error. */
  failed: 2,
  /** No sandbox (or pod, pool, fault) with that id or name. */
  notFound: 3,
  /** The driver, Temporal, a worker or the simulator cannot be reached, or --timeout passed. */
  unavailable: 4,
  /** Refused in the current state: on hold, already exists, not allowed now. */
  refused: 5,
  /** The command left the sandbox FAILED (or found it FAILED): start retries, delete cleans up. */
  sandboxFailed: 6,
} as const;

export type Outcome = keyof typeof EXIT;

/** For `--help` of every command group. */
export const EXIT_HELP = `
Exit codes:
  0  ok
  1  usage or bad input (unknown option, malformed value, ambiguous name)
  2  failed (a drain left sandboxes behind, a demo step failed, an unexpected error)
  3  not found (no sandbox with that id or name; no such pod, pool or fault)
  4  unavailable or timed out (driver, Temporal, worker or simulator unreachable; --timeout passed)
  5  refused in the current state (on hold, already exists, not allowed now)
  6  the sandbox is FAILED (start retries it, delete cleans it up)`;

/** A command's end with a known outcome; the message is what the user reads. */
export class CliError extends Error {
  constructor(
    readonly outcome: Outcome,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** gRPC status code names by number (importing @grpc/grpc-js for them would slow every start). */
export const GRPC_CODE_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

const GRPC_OUTCOME: Record<number, Outcome> = {
  1: 'unavailable', // CANCELLED (by the server, or a stream cut short)
  2: 'failed', // UNKNOWN
  3: 'usage', // INVALID_ARGUMENT
  4: 'unavailable', // DEADLINE_EXCEEDED
  5: 'notFound', // NOT_FOUND
  6: 'refused', // ALREADY_EXISTS
  7: 'refused', // PERMISSION_DENIED
  8: 'unavailable', // RESOURCE_EXHAUSTED (no free worker within the capacity budget)
  9: 'refused', // FAILED_PRECONDITION
  10: 'refused', // ABORTED (superseded by a later stop or delete)
  11: 'usage', // OUT_OF_RANGE
  12: 'failed', // UNIMPLEMENTED
  13: 'failed', // INTERNAL
  14: 'unavailable', // UNAVAILABLE
  15: 'failed', // DATA_LOSS
  16: 'refused', // UNAUTHENTICATED
};

/** The gRPC status code of `err` or of an error in its cause chain. */
export function grpcCode(err: unknown): number | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/** commander's own errors (usage, help, version), thrown under exitOverride. */
export function isCommanderError(err: unknown): err is Error & { code: string; exitCode: number } {
  const code = (err as { code?: unknown } | undefined)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('commander.');
}

/** The outcome a gRPC status code stands for. */
export const outcomeOfGrpc = (code: number): Outcome => GRPC_OUTCOME[code] ?? 'failed';

/**
 * The one mapping from how a command ended to its exit code, and the line to print (undefined
 * when there is nothing to add: commander has printed its own usage error or help).
 */
export function exitFor(err: unknown): { code: number; message?: string } {
  if (err === undefined) return { code: EXIT.ok };
  if (err instanceof CliError) return { code: EXIT[err.outcome], message: err.message };
  // commander (exitOverride): help and --version end with 0, usage errors with 1, already printed.
  if (isCommanderError(err)) return { code: err.exitCode === 0 ? EXIT.ok : EXIT.usage };
  const message = err instanceof Error ? err.message : JSON.stringify(err);
  const code = grpcCode(err);
  if (code !== undefined) {
    const details = (err as { details?: string }).details;
    return { code: EXIT[outcomeOfGrpc(code)], message: details || message };
  }
  return { code: EXIT.failed, message };
}
