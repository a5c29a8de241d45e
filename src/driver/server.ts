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
  const server = new Server();
  server.addService(ComputeDriverService, computeDriverService({ ...deps, events }));
  server.addService(OperationsService, operationsService({ ...deps, events }));

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
    close: () =>
      (closed ??= (async () => {
        events.close();
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
