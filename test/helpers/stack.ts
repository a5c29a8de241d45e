// The whole ateflow stack for facade tests: a Temporal dev server (visibility), the simulator
// over gRPC, a real worker, and the driver facade on a real private Unix socket — plus a
// gateway-like client and a recorder for WatchSandboxes streams.
import { Metadata, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type { Client } from '@temporalio/client';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectFacade, type FacadeClient } from '../../src/driver/client';
import { unary, within } from '../../src/grpc/unary';
import { SandboxWorkflows } from '../../src/driver/sandbox-workflows';
import { startDriverServer, type RunningDriverServer } from '../../src/driver/server';
import type { DriverSettings } from '../../src/driver/settings';
import {
  DriverSandbox,
  type DeleteSandboxResponse,
  type GetCapabilitiesResponse,
  type GetGatewayListenerRequirementsResponse,
  type GetSandboxResponse,
  type ListSandboxesResponse,
  type WatchSandboxesEvent,
} from '../../src/gen/compute_driver';
import { startSandboxStack, type SandboxStack } from './sandbox-env';
import type { SimulatorOptions } from '../../src/sim';

export const PINNED_IMAGE = `registry.test/sandbox@sha256:${'b'.repeat(64)}`;

export interface FacadeStack {
  stack: SandboxStack;
  settings: DriverSettings;
  server: RunningDriverServer;
  /** A client over the facade's Unix socket, as the gateway dials it. */
  client: FacadeClient;
  /** Stops the facade (streams end, socket removed) and starts a new one on the same socket. */
  restartFacade(overrides?: Partial<DriverSettings>): Promise<void>;
  teardown(): Promise<void>;
}

export const testSettings = (dir: string): DriverSettings => ({
  socketPath: join(dir, 'run', 'compute-driver.sock'),
  tcpPort: 0,
  defaultImage: PINNED_IMAGE,
  defaultIdleTimeoutMs: 0,
  defaultKeepAliveMs: 0,
  watchPollMs: 100,
  watchLossMs: 2_000,
  callTimeoutMs: 30_000,
  readTimeoutMs: 5_000,
  templateNamespace: 'default',
  defaultAtespace: 'openshell',
  listener: { kind: 'none' },
  gatewayEndpoint: 'http://gateway.test:8080',
  limits: { transitionTimeoutMs: 60_000, capacityBudgetMs: 60_000, templateReadyTimeoutMs: 60_000 },
});

/** A facade for `stack`, talking to Temporal through `client` (default: the stack's own). */
export function startFacade(
  stack: SandboxStack,
  settings: DriverSettings,
  client: Client = stack.env.client,
  temporalAddress = stack.env.address,
): Promise<RunningDriverServer> {
  return startDriverServer({
    settings,
    version: 'test',
    sandboxes: new SandboxWorkflows(client, {
      taskQueue: stack.taskQueue,
      temporalAddress,
      callTimeoutMs: settings.callTimeoutMs,
      readTimeoutMs: settings.readTimeoutMs,
    }),
    ateapi: stack.ateapi,
    sealingKey: stack.sealingKey,
    temporalAddress,
  });
}

export async function startFacadeStack(
  overrides: Partial<DriverSettings> = {},
  sim?: SimulatorOptions,
): Promise<FacadeStack> {
  const stack = await startSandboxStack({ server: 'dev', sim });
  const dir = mkdtempSync(join(tmpdir(), 'ateflow-facade-'));
  const settings = { ...testSettings(dir), ...overrides };
  const facade: FacadeStack = {
    stack,
    settings,
    server: await startFacade(stack, settings),
    client: connectFacade(settings.socketPath),
    async restartFacade(more = {}) {
      await facade.server.close();
      facade.settings = { ...facade.settings, ...more };
      facade.server = await startFacade(stack, facade.settings);
    },
    async teardown() {
      facade.client.close();
      await facade.server.close();
      await stack.teardown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return facade;
}

/** A TCP relay to `target` that can be cut, to make a server disappear for one client. */
export async function startRelay(target: string): Promise<{ address: string; cut(): Promise<void> }> {
  const [host, port] = [
    target.slice(0, target.lastIndexOf(':')),
    Number(target.slice(target.lastIndexOf(':') + 1)),
  ];
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(port, host);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

/** A DriverSandbox as the gateway sends it on ValidateSandboxCreate / CreateSandbox. */
export function gatewaySandbox(
  id: string,
  overrides: {
    name?: string;
    workspace?: string;
    image?: string;
    driverConfig?: Record<string, unknown>;
    token?: string;
  } = {},
): DriverSandbox {
  return DriverSandbox.fromPartial({
    id,
    name: overrides.name ?? `name-${id.slice(0, 8)}`,
    workspace: overrides.workspace ?? 'default',
    namespace: '',
    spec: {
      logLevel: 'warn',
      command: ['/bin/bash', '-l'],
      tty: true,
      sandboxToken: overrides.token ?? '',
      environment: { GREETING: 'hello' },
      template: {
        image: overrides.image ?? PINNED_IMAGE,
        labels: { owner: 'test' },
        environment: {},
        driverConfig: overrides.driverConfig ?? {},
        platformConfig: { runtime_class_name: '', annotations: {} },
      },
    },
  });
}

/** The gateway's calls, as promises with a generous deadline. */
export function gateway(client: FacadeClient, timeoutMs = 60_000) {
  const md = () => new Metadata();
  const d = client.driver;
  return {
    capabilities: () =>
      unary<GetCapabilitiesResponse>((cb) => d.getCapabilities({}, md(), within(timeoutMs), cb)),
    listeners: () =>
      unary<GetGatewayListenerRequirementsResponse>((cb) =>
        d.getGatewayListenerRequirements({}, md(), within(timeoutMs), cb),
      ),
    validate: (sandbox: DriverSandbox) =>
      unary((cb) => d.validateSandboxCreate({ sandbox }, md(), within(timeoutMs), cb)),
    create: (sandbox: DriverSandbox) =>
      unary((cb) => d.createSandbox({ sandbox }, md(), within(timeoutMs), cb)),
    get: (sandboxId: string) =>
      unary<GetSandboxResponse>((cb) =>
        d.getSandbox({ sandboxId, sandboxName: '' }, md(), within(timeoutMs), cb),
      ).then((r) => r.sandbox!),
    list: () =>
      unary<ListSandboxesResponse>((cb) => d.listSandboxes({}, md(), within(timeoutMs), cb)).then(
        (r) => r.sandboxes,
      ),
    stop: (sandboxId: string) =>
      unary((cb) => d.stopSandbox({ sandboxId, sandboxName: '' }, md(), within(timeoutMs), cb)),
    start: (sandboxId: string) =>
      unary((cb) => d.startSandbox({ sandboxId, sandboxName: '' }, md(), within(timeoutMs), cb)),
    delete: (sandboxId: string) =>
      unary<DeleteSandboxResponse>((cb) =>
        d.deleteSandbox({ sandboxId, sandboxName: '' }, md(), within(timeoutMs), cb),
      ).then((r) => r.deleted),
  };
}

/** Conditions as "Type=Status/Reason" strings, for compact assertions. */
export const conditionsOf = (sandbox: DriverSandbox | undefined) =>
  (sandbox?.status?.conditions ?? []).map((c) => `${c.type}=${c.status}/${c.reason}`);

/** Records one WatchSandboxes stream and waits for events on it. */
export class WatchRecorder {
  readonly events: WatchSandboxesEvent[] = [];
  ended: ServiceError | 'eof' | undefined;
  private readonly stream: ClientReadableStream<WatchSandboxesEvent>;
  private waiters: (() => void)[] = [];

  constructor(client: FacadeClient) {
    this.stream = client.driver.watchSandboxes({});
    this.stream.on('data', (event: WatchSandboxesEvent) => {
      this.events.push(event);
      this.wake();
    });
    this.stream.on('error', (err: ServiceError) => {
      this.ended = err;
      this.wake();
    });
    this.stream.on('end', () => {
      this.ended ??= 'eof';
      this.wake();
    });
  }

  /** Resolves with the first recorded event (from index `from`) that matches. */
  async waitFor(
    predicate: (event: WatchSandboxesEvent) => boolean,
    what: string,
    timeoutMs = 20_000,
    from = 0,
  ): Promise<WatchSandboxesEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(predicate);
      if (found) return found;
      if (this.ended) throw new Error(`watch ended (${this.describeEnd()}) before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; saw ${this.events.length} events`);
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, left);
        this.waiters.push(() => (clearTimeout(timer), wake()));
      });
    }
  }

  async waitForEnd(timeoutMs = 20_000): Promise<ServiceError | 'eof'> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('the watch stream did not end');
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.ended;
  }

  close(): void {
    this.stream.cancel();
  }

  private describeEnd(): string {
    return this.ended === 'eof' ? 'eof' : `${this.ended?.code}: ${this.ended?.details}`;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** A snapshot event for `id` whose conditions satisfy `predicate`. */
export const snapshotOf =
  (id: string, predicate: (conditions: string[], sandbox: DriverSandbox) => boolean = () => true) =>
  (event: WatchSandboxesEvent) =>
    event.sandbox?.sandbox?.id === id &&
    predicate(conditionsOf(event.sandbox.sandbox), event.sandbox.sandbox);
