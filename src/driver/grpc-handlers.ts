// Adapters from async functions to grpc-js handlers: every failure becomes a gRPC status (never
// a crash), and unexpected ones are logged.
import {
  status,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { logger } from '../logger';
import type { SandboxView } from '../workflows/messages';
import { toGrpcStatus } from './errors';
import type { SandboxChange, SandboxEventSource } from './event-source';

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

export function unary<Req, Res>(
  method: string,
  handler: (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handler(call.request, call).then(
      (response) => callback(null, response),
      (err: unknown) => callback(report(method, err)),
    );
  };
}

/** A server stream that `handler` writes to; it ends the stream itself or throws. */
export function serverStream<Req, Res>(
  method: string,
  handler: (request: Req, call: ServerWritableStream<Req, Res>) => Promise<void>,
): handleServerStreamingCall<Req, Res> {
  return (call) => {
    handler(call.request, call).catch((err: unknown) => endWithError(call, report(method, err)));
  };
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
    onError: (err) => endWithError(call, { code: err.code, details: err.message }),
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
