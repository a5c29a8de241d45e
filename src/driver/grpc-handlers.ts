// Adapters from async functions to grpc-js handlers: every failure becomes a gRPC status (never
// a crash), unexpected ones are logged, a request that cannot be decoded is INVALID_ARGUMENT, and
// no unary call runs past the facade's own bound.
import {
  status,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import type { BinaryWriter } from '@bufbuild/protobuf/wire';
import { logger } from '../logger';
import type { SandboxView } from '../workflows/messages';
import { DriverError, invalidArgument, toGrpcStatus } from './errors';
import type { SandboxChange, SandboxEventSource } from './event-source';
import { LIMITS } from './limits';

/** Codes that describe the caller's request or the sandbox, not a fault of ours. */
const EXPECTED = new Set<number>([
  status.INVALID_ARGUMENT,
  status.FAILED_PRECONDITION,
  status.NOT_FOUND,
  status.ALREADY_EXISTS,
  status.UNIMPLEMENTED,
]);

function report(method: string, err: unknown) {
  const grpcStatus = toGrpcStatus(err);
  const level = EXPECTED.has(grpcStatus.code!) ? 'debug' : 'warn';
  logger[level]({ method, code: grpcStatus.code, message: grpcStatus.details }, 'driver call failed');
  return grpcStatus;
}

/**
 * A unary handler. With `boundMs`, a call whose handler has not settled by then is answered
 * UNAVAILABLE: every path has deadlines of its own (Temporal, Substrate), this is the net under
 * any that does not, so that no caller waits past the facade's own bound without a status.
 */
export function unary<Req, Res>(
  method: string,
  handler: (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
  boundMs = 0,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    let answered = false;
    const answer = (err: Partial<ServiceError> | null, response?: Res) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      if (err) callback(err);
      else callback(null, response);
    };
    const timer =
      boundMs > 0
        ? setTimeout(() => {
            const seconds = Math.round(boundMs / 1000);
            const err = new DriverError(
              status.UNAVAILABLE,
              `${method} did not finish within ${seconds}s, the driver's bound for one call; retry the call`,
            );
            answer(report(method, err));
          }, boundMs)
        : undefined;
    const undecodable = undecodableReason(call.request);
    if (undecodable !== undefined) return answer(report(method, invalidArgument(undecodable)));
    handler(call.request, call).then(
      (response) => answer(null, response),
      (err: unknown) => answer(report(method, err)),
    );
  };
}

/** A server stream that `handler` writes to; it ends the stream itself or throws. */
export function serverStream<Req, Res>(
  method: string,
  handler: (request: Req, call: ServerWritableStream<Req, Res>) => Promise<void>,
): handleServerStreamingCall<Req, Res> {
  return (call) => {
    const undecodable = undecodableReason(call.request);
    if (undecodable !== undefined) return endWithError(call, report(method, invalidArgument(undecodable)));
    handler(call.request, call).catch((err: unknown) => endWithError(call, report(method, err)));
  };
}

/** How long past the facade's call timeout a unary call may run before `unary` answers for it. */
export const CALL_BOUND_GRACE_MS = 2_000;

/** The unary adapter bounded by the facade's call timeout (settings.callTimeoutMs) and a grace. */
export const boundedUnary =
  (callTimeoutMs: number) =>
  <Req, Res>(
    method: string,
    handler: (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
  ): handleUnaryCall<Req, Res> =>
    unary(method, handler, callTimeoutMs + CALL_BOUND_GRACE_MS);

// ---------------------------------------------------------------------------------------------
// Requests that cannot be decoded

const UNDECODABLE = Symbol('undecodable');

interface MethodWithDecoder {
  requestDeserialize: (bytes: Buffer) => unknown;
}

/**
 * The service with decoders that never throw: grpc-js answers a decoder's exception with INTERNAL
 * ("Error deserializing request"), but a request we cannot decode (an int64 past 2^53, a Struct
 * nested too deeply, bytes that are no protobuf) is the caller's mistake. The handler adapters
 * above answer it INVALID_ARGUMENT, saying why.
 */
export function withForgivingDecoders<S extends Record<string, MethodWithDecoder>>(service: S): S {
  const guarded: Record<string, MethodWithDecoder> = {};
  for (const [name, method] of Object.entries(service)) {
    guarded[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          const why = err instanceof Error ? err.message : String(err);
          return { [UNDECODABLE]: `the request cannot be decoded (${why.slice(0, 200)})` };
        }
      },
    };
  }
  return guarded as S;
}

function undecodableReason(request: unknown): string | undefined {
  if (typeof request !== 'object' || request === null || !(UNDECODABLE in request)) return undefined;
  return (request as { [UNDECODABLE]: string })[UNDECODABLE];
}

// ---------------------------------------------------------------------------------------------
// One sandbox at a time on the wire

interface Encoder<T> {
  encode(message: T): BinaryWriter;
}

/**
 * Why `message` (one sandbox, or one event) cannot be sent, or undefined when it can: it does not
 * encode (a number that is no int64), or it is over LIMITS.reportedSandboxBytes. Lists, gets and
 * watches check each sandbox on its own, so one odd sandbox never fails a whole answer.
 */
export function unsendable<T>(type: Encoder<T>, message: T): string | undefined {
  try {
    const size = type.encode(message).finish().length;
    if (size <= LIMITS.reportedSandboxBytes) return undefined;
    return `it is ${size} bytes encoded, over the limit of ${LIMITS.reportedSandboxBytes} bytes for one sandbox`;
  } catch (err) {
    return `it cannot be encoded (${err instanceof Error ? err.message : String(err)})`;
  }
}

/** Ends a server stream with an error status (no-op once the client has gone). */
export function endWithError<Req, Res>(
  call: ServerWritableStream<Req, Res>,
  grpcStatus: Partial<ServiceError>,
): void {
  if (call.cancelled || call.destroyed) return;
  call.emit('error', grpcStatus);
}

/**
 * Subscribes a server stream to the event source until the client goes away or the source
 * fails (the stream then ends with the source's status). `onSnapshot` gets every sandbox as of
 * subscribing, before `onChange` sees any change: changes that arrive in between are held back.
 */
export async function followEvents<Req, Res>(
  call: ServerWritableStream<Req, Res>,
  events: SandboxEventSource,
  onChange: (change: SandboxChange) => void,
  onSnapshot: (snapshot: SandboxView[]) => void = () => {},
): Promise<void> {
  let held: SandboxChange[] | undefined = [];
  const open = () => !call.cancelled && !call.destroyed;
  const subscription = await events.subscribe({
    onChange: (change) => {
      if (held) held.push(change);
      else if (open()) onChange(change);
    },
    onError: (err) => endWithError(call, toGrpcStatus(err)),
  });
  if (call.cancelled) {
    subscription.unsubscribe();
    return;
  }
  for (const ending of ['cancelled', 'close', 'error']) call.once(ending, subscription.unsubscribe);
  onSnapshot(subscription.snapshot);
  const waiting = held;
  held = undefined;
  for (const change of waiting) if (open()) onChange(change);
}
