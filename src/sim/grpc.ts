// gRPC plumbing shared by the Control and admin services: a unary handler that never lets an
// exception escape, reports errors as upstream's interceptor does (status errors verbatim,
// anything else Internal "internal server error: …"), and — on Control — authenticates first
// and sets the x-server-elapsed-us trailer.
import {
  Metadata,
  Server,
  status as GrpcStatus,
  type sendUnaryData,
  type ServerCredentials,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { ControlService } from '../gen/ateapi';
import type { Authenticator } from './auth';
import type { ControlMethods } from './control-api';
import { StatusError, toStatus } from './errors';
import type { ControlRpc } from './faults';
import type { ControlPipeline } from './pipeline';

interface UnaryOptions {
  authenticate?: Authenticator;
  /** Set the x-server-elapsed-us trailer (ateapi's ServerUnaryInterceptor). */
  elapsedTrailer?: boolean;
}

export function unary<Req, Res>(
  handle: (request: Req, signal: AbortSignal) => Promise<Res>,
  { authenticate, elapsedTrailer = false }: UnaryOptions = {},
) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    const cancelled = new AbortController();
    call.on('cancelled', () => cancelled.abort(new StatusError(GrpcStatus.CANCELLED, 'context canceled')));
    const run = async (): Promise<void> => {
      try {
        await authenticate?.(call.metadata);
      } catch (err) {
        const { code, details } = toStatus(err);
        callback({ code, details });
        return;
      }
      const started = process.hrtime.bigint();
      const trailer = () => {
        const metadata = new Metadata();
        if (elapsedTrailer)
          metadata.set('x-server-elapsed-us', String((process.hrtime.bigint() - started) / 1000n));
        return metadata;
      };
      try {
        const response = await handle(call.request, cancelled.signal);
        callback(null, response, trailer());
      } catch (err) {
        const { code, details } = toStatus(err);
        callback({ code, details, metadata: trailer() });
      }
    };
    void run();
  };
}

/** ateapi.Control served from the pipeline. */
export function controlService(
  pipeline: ControlPipeline,
  authenticate: Authenticator,
): UntypedServiceImplementation {
  const implementation: UntypedServiceImplementation = {};
  for (const [method, definition] of Object.entries(ControlService)) {
    const rpc = definition.path.split('/')[2] as ControlRpc;
    implementation[method] = unary(
      (request: ControlMethods[ControlRpc][0], signal) => pipeline.invoke(rpc, request as never, signal),
      { authenticate, elapsedTrailer: true },
    );
  }
  return implementation;
}

/** Binds `server` on host:port (0 picks a free port); resolves to "host:port". */
export function listen(
  server: Server,
  host: string,
  port: number,
  credentials: ServerCredentials,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    server.bindAsync(target, credentials, (err, bound) => {
      if (err) reject(err);
      else resolve(host.includes(':') ? `[${host}]:${bound}` : `${host}:${bound}`);
    });
  });
}

/** Stops accepting calls, waits briefly for running ones, then cuts the rest. */
export function shutdown(server: Server, graceMs = 1000): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
