// The facade process's gRPC server: ComputeDriver and ateflow.v1.Operations on a private Unix
// socket (what the gateway dials), and optionally on loopback TCP for development.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { lstat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { OperationsService } from '../gen/ateflow';
import { ComputeDriverService } from '../gen/compute_driver';
import { logger } from '../logger';
import { computeDriverService, type FacadeAteapi } from './compute-driver';
import { SandboxEventSource } from './event-source';
import { withForgivingDecoders } from './grpc-handlers';
import { LIMITS } from './limits';
import { operationsService } from './operations';
import type { SandboxWorkflows } from './sandbox-workflows';
import type { DriverSettings } from './settings';
import { prepareSocketPath, removeSocket, restrictSocket } from './socket';

export interface DriverServerDeps {
  settings: DriverSettings;
  version: string;
  sandboxes: SandboxWorkflows;
  ateapi: FacadeAteapi;
  sealingKey: Buffer;
  temporalAddress: string;
}

export interface RunningDriverServer {
  socketPath: string;
  /** Every sandbox's view and its changes, as the facade's watches see them. */
  events: SandboxEventSource;
  /** 127.0.0.1:<port> when TCP is enabled. */
  tcpAddress?: string;
  /** Ends every watch stream, stops serving and removes the socket. */
  close(): Promise<void>;
}

const SHUTDOWN_GRACE_MS = 5_000;

export async function startDriverServer(deps: DriverServerDeps): Promise<RunningDriverServer> {
  const { settings } = deps;
  const events = new SandboxEventSource(deps.sandboxes, {
    pollMs: settings.watchPollMs,
    lossMs: settings.watchLossMs,
    temporalAddress: deps.temporalAddress,
  });
  const server = new Server({
    // Set on purpose, not left to grpc-js's defaults (4 MiB in, unlimited out): the largest valid
    // request (a CreateSandbox with every field at its limit, limits.ts) is under 1 MiB, so 4 MiB
    // in refuses nothing valid, and a bigger message is answered RESOURCE_EXHAUSTED by grpc-js
    // before it is decoded. Out, 4 MiB is what the gateway (tonic) and grpc-js clients read by
    // default; lists bound each sandbox (LIMITS.reportedSandboxBytes), so one cannot fill it.
    'grpc.max_receive_message_length': LIMITS.receiveMessageBytes,
    'grpc.max_send_message_length': LIMITS.sendMessageBytes,
  });
  server.addService(withForgivingDecoders(ComputeDriverService), computeDriverService({ ...deps, events }));
  server.addService(withForgivingDecoders(OperationsService), operationsService({ ...deps, events }));

  const socketPath = resolve(settings.socketPath);
  await prepareSocketPath(socketPath);
  await bind(server, `unix:${socketPath}`);
  await restrictSocket(socketPath);
  const socketInode = (await lstat(socketPath)).ino;
  let tcpAddress: string | undefined;
  if (settings.tcpPort > 0) {
    const port = await bind(server, `127.0.0.1:${settings.tcpPort}`);
    tcpAddress = `127.0.0.1:${port}`;
  }
  logger.info({ socketPath, tcpAddress }, 'ateflow driver listening');

  let closed: Promise<void> | undefined;
  return {
    socketPath,
    tcpAddress,
    events,
    close: () =>
      (closed ??= (async () => {
        await events.close();
        await new Promise<void>((done) => {
          const force = setTimeout(() => server.forceShutdown(), SHUTDOWN_GRACE_MS);
          server.tryShutdown(() => (clearTimeout(force), done()));
        });
        await removeSocket(socketPath, socketInode);
      })()),
  };
}

function bind(server: Server, address: string): Promise<number> {
  return new Promise((done, fail) =>
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) =>
      err ? fail(new Error(`cannot listen on ${address}: ${err.message}`)) : done(port),
    ),
  );
}
