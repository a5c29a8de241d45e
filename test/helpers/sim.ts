// Test helpers for the simulator: promise-based ateapi.Control and SimulatorAdmin clients,
// status assertions, and the conformance target (the simulator, or a real ate-api-server
// when ATEAPI_ENDPOINT is set).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ChannelCredentials,
  credentials,
  Metadata,
  status as GrpcStatus,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import * as ateapi from '../../src/gen/ateapi';
import { ControlClient } from '../../src/gen/ateapi';
import * as simAdmin from '../../src/gen/sim_admin';
import { SimulatorAdminClient } from '../../src/gen/sim_admin';
import type { ControlMethods } from '../../src/sim/control-api';
import type { ControlRpc } from '../../src/sim/faults';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/sim';

type Callback<Res> = (err: ServiceError | null, res: Res) => void;
type UnaryFn<Req, Res> = (
  req: Req,
  metadata: Metadata,
  options: { deadline: Date },
  cb: Callback<Res>,
) => unknown;

/** A unary call as a promise; resolves with the response and the trailers. */
function callUnary<Req, Res>(
  client: Client,
  method: string,
  request: Req,
  metadata: Metadata,
  deadlineMs: number,
): Promise<{ response: Res; trailers: Metadata }> {
  return new Promise((resolve, reject) => {
    let response: Res | undefined;
    let failed: ServiceError | undefined;
    const fn = (client as unknown as Record<string, UnaryFn<Req, Res>>)[method].bind(client);
    const call = fn(request, metadata, { deadline: new Date(Date.now() + deadlineMs) }, (err, res) => {
      if (err) failed = err;
      else response = res;
    }) as { on(event: 'status', cb: (s: { metadata: Metadata }) => void): void };
    call.on('status', (s) => {
      if (failed) reject(failed);
      else resolve({ response: response as Res, trailers: s.metadata });
    });
  });
}

const lowerFirst = (s: string) => s[0].toLowerCase() + s.slice(1);

export interface ConnectOptions {
  caCertPem?: string;
  serverName?: string;
  /** Bearer token sent on every call. */
  token?: string | (() => string);
  deadlineMs?: number;
}

/** A promise-based ateapi.Control client. */
export class ControlApi {
  readonly client: ControlClient;
  lastTrailers: Metadata | undefined;

  constructor(
    address: string,
    private readonly options: ConnectOptions = {},
  ) {
    const creds: ChannelCredentials = options.caCertPem
      ? credentials.createSsl(Buffer.from(options.caCertPem))
      : credentials.createInsecure();
    const channelOptions = options.serverName ? { 'grpc.ssl_target_name_override': options.serverName } : {};
    this.client = new ControlClient(address, creds, channelOptions);
  }

  async call<K extends ControlRpc>(
    rpc: K,
    request: Partial<ControlMethods[K][0]>,
    metadata = new Metadata(),
  ): Promise<ControlMethods[K][1]> {
    const token = typeof this.options.token === 'function' ? this.options.token() : this.options.token;
    if (token) metadata.set('authorization', `Bearer ${token}`);
    const messages = ateapi as unknown as Record<string, { fromPartial(p: object): ControlMethods[K][0] }>;
    const { response, trailers } = await callUnary<ControlMethods[K][0], ControlMethods[K][1]>(
      this.client,
      lowerFirst(rpc),
      messages[`${rpc}Request`].fromPartial(request),
      metadata,
      this.options.deadlineMs ?? 60_000,
    );
    this.lastTrailers = trailers;
    return response;
  }

  close(): void {
    this.client.close();
  }
}

/** A promise-based SimulatorAdmin client. */
export class AdminApi {
  readonly client: SimulatorAdminClient;

  constructor(address: string) {
    this.client = new SimulatorAdminClient(address, credentials.createInsecure());
  }

  async call<Res>(method: string, request: object = {}): Promise<Res> {
    const messages = simAdmin as unknown as Record<string, { fromPartial(p: object): object }>;
    const full = messages[`${method[0].toUpperCase()}${method.slice(1)}Request`].fromPartial(request);
    const { response } = await callUnary<object, Res>(this.client, method, full, new Metadata(), 30_000);
    return response;
  }

  close(): void {
    this.client.close();
  }
}

/** Asserts that `promise` rejects with gRPC `code` (and exactly `message`, or matching it). */
export async function assertStatus(
  promise: Promise<unknown>,
  code: GrpcStatus,
  message?: string | RegExp,
): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    const e = err as ServiceError;
    assert.equal(GrpcStatus[e.code], GrpcStatus[code], `code (details: ${e.details})`);
    if (typeof message === 'string') assert.equal(e.details, message);
    else if (message) assert.match(e.details, message);
    return e;
  }
  assert.fail(`expected ${GrpcStatus[code]}, but the call succeeded`);
}

export interface SimHarness {
  sim: Simulator;
  api: ControlApi;
  admin: AdminApi;
  close(): Promise<void>;
}

/** A simulator at latency scale 0 (unless told otherwise) with connected clients. */
export async function startSim(options: SimulatorOptions = {}): Promise<SimHarness> {
  const sim = await startSimulator({ latencyScale: 0, seed: 1, ...options });
  const api = new ControlApi(sim.address, { caCertPem: sim.caCertPem, serverName: sim.serverName });
  const admin = new AdminApi(sim.adminAddress);
  return {
    sim,
    api,
    admin,
    close: async () => {
      api.close();
      admin.close();
      await sim.stop();
    },
  };
}

/** Polls `check` until it returns a value other than undefined (or times out). */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 5000,
  intervalMs = 5,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) assert.fail(`${what} not met in time`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A real ate-api-server to run the conformance suite against, from the environment. */
export function realEndpoint():
  (ConnectOptions & { address: string; templateNamespace: string; templateName: string }) | undefined {
  const address = process.env.ATEAPI_ENDPOINT;
  if (!address) return undefined;
  const ca = process.env.ATEAPI_CA_FILE;
  const tokenFile = process.env.ATEAPI_TOKEN_FILE;
  return {
    address,
    caCertPem: ca ? readFileSync(ca, 'utf8') : undefined,
    serverName: process.env.ATEAPI_SERVER_NAME,
    token: tokenFile ? () => readFileSync(tokenFile, 'utf8').trim() : process.env.ATEAPI_TOKEN,
    templateNamespace: process.env.ATEAPI_TEMPLATE_NAMESPACE ?? 'default',
    templateName: process.env.ATEAPI_TEMPLATE_NAME ?? 'sandbox',
  };
}
