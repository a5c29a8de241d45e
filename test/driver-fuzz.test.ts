// Random and oversized values in every field of every RPC of both services (ComputeDriver and
// ateflow.v1.Operations), on the Unix socket and on TCP, plus raw bytes that are no request at
// all. Bounded (ATEFLOW_FUZZ_CALLS, default 300) and seeded (ATEFLOW_FUZZ_SEED; the seed is
// printed) so that a failure reproduces. It asserts that
//   - every call gets a status within its deadline (never the caller's own DEADLINE_EXCEEDED),
//   - every status code is in the set documented below for that RPC,
//   - every message is non-empty readable text (no "Error serializing response", no stack),
//   - ValidateSandboxCreate and CreateSandbox answer the same request alike,
//   - a refused create leaves nothing behind (no workflow, actor or template),
// and then, with the fuzzed leftovers still there and odd sandboxes planted behind the facade's
// back (a view too large to send, a view that cannot be read), that both ListSandboxes answer, a
// WatchSandboxes stream survives, and a healthy sandbox's pod loss is still recovered.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { WorkflowNotFoundError } from '@temporalio/client';
import { connectFacade, type FacadeClient } from '../src/driver/client';
import { LIMITS } from '../src/driver/limits';
import { UNKNOWN_STATE } from '../src/driver/operations';
import type { ListSandboxesResponse as OpsList, Sandbox } from '../src/gen/ateflow';
import { DriverSandbox, type ListSandboxesResponse as DriverList } from '../src/gen/compute_driver';
import { Random } from '../src/sim/random';
import { sandboxWorkflowId } from '../src/workflows/messages';
import { clusterWithPools, createSandbox, sandboxInput, waitForView } from './helpers/sandbox-env';
import { eventually } from './helpers/sim';
import {
  gateway,
  gatewaySandbox,
  snapshotOf,
  startFacadeStack,
  WatchRecorder,
  type FacadeStack,
} from './helpers/stack';

const SEED = Number(process.env.ATEFLOW_FUZZ_SEED ?? randomInt(2 ** 31));
const CALLS = Number(process.env.ATEFLOW_FUZZ_CALLS ?? 300);
/** Each call's deadline; the facade's own bound (callTimeoutMs + 2 s) is well inside it. */
const DEADLINE_MS = 15_000;
const CALL_TIMEOUT_MS = 8_000;
/** Accepted creates make real sandboxes; past this many, a valid create is only validated. */
const MAX_ACCEPTED_CREATES = 6;
const CONCURRENCY = 6;

const { OK, INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, ALREADY_EXISTS, ABORTED, RESOURCE_EXHAUSTED } =
  status;
const { UNAVAILABLE, UNIMPLEMENTED } = status;

/**
 * The status codes each RPC may answer, whatever it is sent. RESOURCE_EXHAUSTED: a message over
 * 4 MiB (grpc-js), or no capacity. UNAVAILABLE: Temporal or Substrate did not answer in time
 * (retry). INTERNAL is in no set: no input may cause one.
 */
const CODES: Record<string, status[]> = {
  'ComputeDriver.GetCapabilities': [OK, RESOURCE_EXHAUSTED],
  'ComputeDriver.AuthenticateSandbox': [UNIMPLEMENTED, RESOURCE_EXHAUSTED],
  'ComputeDriver.GetGatewayListenerRequirements': [OK, RESOURCE_EXHAUSTED],
  'ComputeDriver.ValidateSandboxCreate': [OK, INVALID_ARGUMENT, FAILED_PRECONDITION, RESOURCE_EXHAUSTED],
  'ComputeDriver.CreateSandbox': [
    OK,
    INVALID_ARGUMENT,
    FAILED_PRECONDITION,
    ALREADY_EXISTS,
    RESOURCE_EXHAUSTED,
    UNAVAILABLE,
  ],
  'ComputeDriver.GetSandbox': [OK, INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, UNAVAILABLE],
  'ComputeDriver.ListSandboxes': [OK, RESOURCE_EXHAUSTED, UNAVAILABLE],
  'ComputeDriver.StopSandbox': [
    OK,
    INVALID_ARGUMENT,
    NOT_FOUND,
    FAILED_PRECONDITION,
    ABORTED,
    RESOURCE_EXHAUSTED,
    UNAVAILABLE,
  ],
  'ComputeDriver.StartSandbox': [
    OK,
    INVALID_ARGUMENT,
    NOT_FOUND,
    FAILED_PRECONDITION,
    ABORTED,
    RESOURCE_EXHAUSTED,
    UNAVAILABLE,
  ],
  'ComputeDriver.DeleteSandbox': [OK, INVALID_ARGUMENT, ABORTED, RESOURCE_EXHAUSTED, UNAVAILABLE],
  'ComputeDriver.WatchSandboxes': [OK, RESOURCE_EXHAUSTED, UNAVAILABLE],
  'ComputeDriver.EnsureWorkspace': [OK, INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE],
  'ComputeDriver.DeleteWorkspace': [
    OK,
    INVALID_ARGUMENT,
    FAILED_PRECONDITION,
    RESOURCE_EXHAUSTED,
    UNAVAILABLE,
  ],
  'Operations.GetSandbox': [OK, INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, UNAVAILABLE],
  'Operations.ListSandboxes': [OK, RESOURCE_EXHAUSTED, UNAVAILABLE],
  'Operations.Checkpoint': [
    OK,
    INVALID_ARGUMENT,
    NOT_FOUND,
    FAILED_PRECONDITION,
    ABORTED,
    RESOURCE_EXHAUSTED,
    UNAVAILABLE,
  ],
  'Operations.Migrate': [
    OK,
    INVALID_ARGUMENT,
    NOT_FOUND,
    FAILED_PRECONDITION,
    ABORTED,
    RESOURCE_EXHAUSTED,
    UNAVAILABLE,
  ],
  'Operations.Drain': [OK, INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE],
  'Operations.Touch': [OK, INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, UNAVAILABLE],
  'Operations.SetIdleTimeout': [
    OK,
    INVALID_ARGUMENT,
    NOT_FOUND,
    FAILED_PRECONDITION,
    ABORTED,
    RESOURCE_EXHAUSTED,
    UNAVAILABLE,
  ],
  'Operations.Hold': [
    OK,
    INVALID_ARGUMENT,
    NOT_FOUND,
    FAILED_PRECONDITION,
    ABORTED,
    RESOURCE_EXHAUSTED,
    UNAVAILABLE,
  ],
  'Operations.Release': [
    OK,
    INVALID_ARGUMENT,
    NOT_FOUND,
    FAILED_PRECONDITION,
    ABORTED,
    RESOURCE_EXHAUSTED,
    UNAVAILABLE,
  ],
  'Operations.History': [OK, INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, UNAVAILABLE],
  'Operations.WatchEvents': [OK, INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE],
};

const STREAMS = new Set(['ComputeDriver.WatchSandboxes', 'Operations.Drain', 'Operations.WatchEvents']);
const KiB = 1024;
const MiB = 1024 * KiB;

// ---------------------------------------------------------------------------------------------
// Values

class Values {
  /** Ids of sandboxes the fuzz created (never the healthy one), filled in as creates succeed. */
  leftovers: string[] = [];

  constructor(readonly random: Random) {}

  chance(p: number): boolean {
    return this.random.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.random.int(items.length)];
  }

  /** Text of every kind: empty, ordinary, hostile, at and past the limits, huge (rarely). */
  string(): string {
    const r = this.random.next();
    if (r < 0.1) return '';
    if (r < 0.3) return this.pick(['a', 'default', 'team-a', 'Team_A', 'x/y', '-a-', '..', 'sandbox', '0']);
    if (r < 0.45) return this.soup(this.random.int(40));
    if (r < 0.75) {
      const limit = this.pick([32, 63, 253, 1024, 8192, 32 * KiB, 64 * KiB]);
      return this.pick(['a', 'é', '\u0000', 'Z']).repeat(limit + this.random.int(3) - 1);
    }
    if (r < 0.98) return 'b'.repeat(this.pick([100 * KiB, 300 * KiB]));
    return 'c'.repeat(this.pick([1 * MiB, 3 * MiB, 4.5 * MiB]));
  }

  /** Random code points: controls, NUL, surrogates, emoji, RTL, quotes. */
  soup(length: number): string {
    const alphabet = [
      '\u0000',
      '\n',
      '\u001b',
      '\u007f',
      '\u0085',
      '"',
      '\\',
      '\ud83d\ude00',
      '\ud800',
      '\u202e',
      'ü',
      'a',
      ' ',
      '%',
      '/',
    ];
    return Array.from({ length }, () => this.pick(alphabet)).join('');
  }

  /** A sandbox id: valid and unknown, at and past 63, a leftover's, or any string. */
  id(): string {
    const r = this.random.next();
    if (r < 0.25) return this.random.uuid();
    if (r < 0.35) return `${this.random.uuid()}-${'a'.repeat(26 + this.random.int(2))}`;
    if (r < 0.55) return `leftover:${this.random.int(1000)}`; // resolved when the call is made
    return this.string();
  }

  int64(): number {
    return this.pick([
      0,
      -1,
      1,
      1000,
      LIMITS.idleTimeoutMs,
      LIMITS.idleTimeoutMs + 1,
      2 ** 31,
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
      this.random.int(2 ** 30),
    ]);
  }

  map(kind: 'label' | 'env' | 'any' = 'any'): Record<string, string> {
    const count = this.pick([0, 1, 3, 24, 25, 64, 65, 128, 129, 400]);
    // One entry may be anything; the others are small, so that a map stays a few MiB at most.
    const wild = this.random.int(Math.max(1, count));
    const key = (i: number) => {
      if (kind === 'env' && this.chance(0.7)) return `VAR_${i}`;
      if (kind === 'label' && this.chance(0.7)) return `key-${i}`;
      return i === wild ? `${this.string()}${i}` : `${this.soup(3)}${i}`;
    };
    const value = (i: number) =>
      i === wild ? this.string() : this.pick(['', 'v', 'v'.repeat(64), this.soup(5)]);
    return Object.fromEntries(Array.from({ length: count }, (_, i) => [key(i), value(i)]));
  }

  /** A protobuf Struct's worth of anything, sometimes ateflow's own keys, sometimes deep. */
  struct(depth = 0): Record<string, unknown> {
    const r = this.random.next();
    if (r < 0.3) return {};
    if (r < 0.5)
      return { idle_timeout: this.pick<unknown>(['30m', '365d', '366d', 'soon', -5, 1e12, this.string()]) };
    if (r < 0.65) return { worker_selector: this.chance(0.5) ? this.map('label') : this.string() };
    if (r < 0.72 && depth < 200) return { nested: this.struct(depth + 20) };
    if (r < 0.75) {
      // Deeply nested (1000 is past the protobuf decoder's recursion limit: INVALID_ARGUMENT).
      const levels = this.pick([100, 1000]);
      let deep: Record<string, unknown> = { bottom: true };
      for (let i = 0; i < levels; i++) deep = { d: deep };
      return deep;
    }
    if (r < 0.85) return { substrate_actor_template: this.string(), annotations: {} };
    return { [this.string().slice(0, 300)]: this.pick<unknown>([null, true, 1.5, [1, 'a'], this.string()]) };
  }
}

/** A create request: a valid gateway sandbox with 0–3 fields replaced by random values. */
function createRequest(v: Values): DriverSandbox {
  const sandbox = gatewaySandbox(v.random.uuid());
  const spec = sandbox.spec!;
  const template = spec.template!;
  const edits: (() => void)[] = [
    () => (sandbox.id = v.id()),
    () => (sandbox.name = v.string()),
    () => (sandbox.namespace = v.string()),
    () => (sandbox.workspace = v.string()),
    () => (spec.logLevel = v.string()),
    () => (spec.environment = v.map('env')),
    () => (spec.sandboxToken = v.string()),
    () =>
      (spec.command = Array.from({ length: v.pick([0, 1, 2, 256, 257]) }, (_, i) =>
        i < 3 ? v.string().slice(0, 33 * KiB) : v.soup(4),
      )),
    () =>
      (spec.policy = {
        version: 1,
        filesystem: { includeWorkdir: true, readOnly: [v.string()], readWrite: [] },
        networkPolicies: {},
        networkMiddlewares: {},
      }),
    () => (spec.resourceRequirements = { gpu: { count: v.random.int(4) } }),
    () => (template.image = v.string()),
    () => (template.agentSocketPath = v.string()),
    () => (template.labels = v.map('label')),
    () => (template.environment = v.map('env')),
    () =>
      (template.resources = {
        cpuRequest: v.string(),
        cpuLimit: '',
        memoryRequest: v.string(),
        memoryLimit: '',
      }),
    () => (template.platformConfig = v.struct()),
    () => (template.driverConfig = v.struct()),
    () =>
      (sandbox.status = {
        sandboxName: v.string(),
        instanceId: '',
        agentFd: '',
        sandboxFd: '',
        conditions: [],
        deleting: true,
      }),
  ];
  const count = v.pick([0, 1, 1, 2, 2, 3]);
  for (let i = 0; i < count; i++) v.pick(edits)();
  return sandbox;
}

interface Plan {
  rpc: string;
  transport: 'socket' | 'tcp';
  /** Built when the call is made (leftover ids are resolved then). */
  request: () => object;
  /** Raw bytes instead of a request (sent with an identity serializer). */
  raw?: Buffer;
}

const withLeftover = (v: Values, id: string) =>
  id.startsWith('leftover:')
    ? (v.leftovers[Number(id.slice(9)) % Math.max(1, v.leftovers.length)] ?? randomUUID())
    : id;

function planCall(v: Values): Plan {
  const transport = v.chance(0.5) ? 'socket' : 'tcp';
  const id = v.id();
  // Leftover ids stay symbolic ("leftover:N") until the call is made: creates succeed meanwhile.
  const sid = () => id;
  const rpcs: [string, () => object][] = [
    ['ComputeDriver.GetCapabilities', () => ({})],
    ['ComputeDriver.AuthenticateSandbox', () => ({ credential: v.string() })],
    ['ComputeDriver.GetGatewayListenerRequirements', () => ({})],
    ['ComputeDriver.ValidateSandboxCreate', () => ({ sandbox: createRequest(v) })],
    ['ComputeDriver.CreateSandbox', () => ({ sandbox: createRequest(v) })],
    ['ComputeDriver.CreateSandbox', () => ({ sandbox: createRequest(v) })],
    ['ComputeDriver.GetSandbox', () => ({ sandboxId: sid(), sandboxName: v.string() })],
    ['ComputeDriver.ListSandboxes', () => ({})],
    ['ComputeDriver.StopSandbox', () => ({ sandboxId: sid(), sandboxName: v.chance(0.7) ? '' : v.string() })],
    [
      'ComputeDriver.StartSandbox',
      () => ({ sandboxId: sid(), sandboxName: v.chance(0.7) ? '' : v.string() }),
    ],
    [
      'ComputeDriver.DeleteSandbox',
      // Mostly not a leftover: the others need sandboxes to work on.
      () => ({
        sandboxId: id.startsWith('leftover:') && v.chance(0.8) ? v.random.uuid() : sid(),
        sandboxName: v.chance(0.7) ? '' : v.string(),
      }),
    ],
    ['ComputeDriver.WatchSandboxes', () => ({})],
    ['ComputeDriver.EnsureWorkspace', () => ({ workspace: v.string() })],
    [
      'ComputeDriver.DeleteWorkspace',
      () => ({ workspace: v.chance(0.3) ? `fz-${v.random.int(100)}` : v.string() }),
    ],
    ['Operations.GetSandbox', () => ({ sandboxId: sid() })],
    ['Operations.ListSandboxes', () => ({})],
    ['Operations.Checkpoint', () => ({ sandboxId: sid() })],
    [
      'Operations.Migrate',
      () => ({
        sandboxId: sid(),
        workerSelector: v.map('label'),
        replaceSelector: v.chance(0.5),
        reason: v.string(),
      }),
    ],
    [
      'Operations.Drain',
      // Never a real pool or node: the healthy sandbox must stay where it is.
      () => ({
        ...(v.chance(0.5)
          ? { workerPool: `fz${v.string()}` }
          : v.chance(0.8)
            ? { node: `fz${v.string()}` }
            : {}),
        workerSelector: v.map('label'),
        reason: v.string(),
        parallelism: v.pick([0, 1, 64, 65, 2 ** 31]),
      }),
    ],
    ['Operations.Touch', () => ({ sandboxId: sid() })],
    ['Operations.SetIdleTimeout', () => ({ sandboxId: sid(), idleTimeoutMs: v.int64() })],
    ['Operations.Hold', () => ({ sandboxId: sid(), reason: v.string() })],
    ['Operations.Release', () => ({ sandboxId: sid() })],
    ['Operations.History', () => ({ sandboxId: sid() })],
    ['Operations.WatchEvents', () => ({ sandboxId: v.chance(0.3) ? '' : sid() })],
  ];
  const [rpc, build] = v.pick(rpcs);
  if (v.chance(0.04)) {
    // Bytes that are no request (or an int64 past 2^53: field 2, varint 2^62).
    const raw = v.chance(0.5)
      ? Buffer.from(Array.from({ length: v.random.int(200) }, () => v.random.int(256)))
      : Buffer.from([0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
    return { rpc, transport, request: () => ({}), raw };
  }
  // Draw the request's values now, so that the plan (not the timing) fixes them.
  const fixed = build();
  return { rpc, transport, request: () => resolveLeftovers(v, fixed) };
}

function resolveLeftovers(v: Values, request: object): object {
  const r = request as { sandboxId?: string };
  return typeof r.sandboxId === 'string' ? { ...request, sandboxId: withLeftover(v, r.sandboxId) } : request;
}

// ---------------------------------------------------------------------------------------------
// Calls

interface Outcome {
  rpc: string;
  transport: string;
  code: status;
  details: string;
  ms: number;
  request: object;
}

type Callback = (err: ServiceError | null, response?: unknown) => void;
type UnaryMethod = (request: object, metadata: Metadata, options: object, callback: Callback) => unknown;
type StreamMethod = (
  request: object,
  metadata: Metadata,
  options: object,
) => NodeJS.EventEmitter & { cancel(): void };

const methodName = (rpc: string) => {
  const name = rpc.split('.')[1];
  return name[0].toLowerCase() + name.slice(1);
};

async function execute(
  plan: Plan,
  clients: Record<string, FacadeClient>,
  raws: Record<string, Client>,
): Promise<Outcome> {
  const [service] = plan.rpc.split('.');
  const request = plan.request();
  const started = Date.now();
  const deadline = started + DEADLINE_MS;
  const done = (code: status, details = '') => ({
    rpc: plan.rpc,
    transport: plan.transport,
    code,
    details,
    ms: Date.now() - started,
    request,
  });
  const path = `/${service === 'ComputeDriver' ? 'openshell.compute.v1.ComputeDriver' : 'ateflow.v1.Operations'}/${plan.rpc.split('.')[1]}`;
  if (plan.raw) {
    const raw = raws[plan.transport];
    const identity = (b: Buffer) => b;
    return new Promise((resolve) => {
      if (STREAMS.has(plan.rpc)) {
        const stream = raw.makeServerStreamRequest(path, identity, identity, plan.raw!, new Metadata(), {
          deadline,
        });
        const timer = setTimeout(() => (stream.cancel(), resolve(done(OK))), 500);
        stream.on('data', () => undefined);
        stream.on(
          'error',
          (err: ServiceError) => (clearTimeout(timer), resolve(done(err.code, err.details))),
        );
        stream.on('end', () => (clearTimeout(timer), resolve(done(OK))));
      } else {
        raw.makeUnaryRequest(path, identity, identity, plan.raw!, new Metadata(), { deadline }, (err) =>
          resolve(err ? done(err.code, err.details) : done(OK)),
        );
      }
    });
  }
  const client = clients[plan.transport];
  const target = (service === 'ComputeDriver' ? client.driver : client.ops) as unknown as Record<
    string,
    unknown
  >;
  const method = methodName(plan.rpc);
  if (STREAMS.has(plan.rpc)) {
    return new Promise((resolve) => {
      const stream = (target[method] as StreamMethod).call(target, request, new Metadata(), { deadline });
      // A watch that stays open is fine: it is cancelled after a moment.
      const timer = setTimeout(() => (stream.cancel(), resolve(done(OK))), 400);
      stream.on('data', () => undefined);
      stream.on('error', (err: ServiceError) => (clearTimeout(timer), resolve(done(err.code, err.details))));
      stream.on('end', () => (clearTimeout(timer), resolve(done(OK))));
    });
  }
  return new Promise((resolve) => {
    (target[method] as UnaryMethod).call(target, request, new Metadata(), { deadline }, (err) =>
      resolve(err ? done(err.code, err.details) : done(OK)),
    );
  });
}

/** Readable: non-empty, bounded, no control characters, nothing grpc-js or a stack says. */
function assertReadable(outcome: Outcome): void {
  const { details, rpc } = outcome;
  const where = `${rpc} (${status[outcome.code]}) ${JSON.stringify(details.slice(0, 200))}`;
  assert.ok(details.trim().length > 0, `${where}: empty message`);
  assert.ok(details.length <= LIMITS.statusMessageChars, `${where}: ${details.length} characters`);
  assert.doesNotMatch(details, /Error (de)?serializing|Received RST_STREAM|\n\s+at |\.ts:\d+:\d+/, where);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(details, /[\u0000-\u0008\u000b-\u001f\u007f]/, `${where}: control characters`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

// ---------------------------------------------------------------------------------------------

describe(`driver fuzz (seed ${SEED}, ${CALLS} calls; ATEFLOW_FUZZ_SEED=${SEED} reproduces)`, () => {
  let f: FacadeStack;
  let clients: Record<string, FacadeClient>;
  let raws: Record<string, Client>;
  let watch: WatchRecorder;
  const healthyId = randomUUID();
  const outcomes: Outcome[] = [];
  const refusedCreates: string[] = [];
  /** Sandboxes the fuzz created: every sandbox listed is one of these, the healthy or an odd one. */
  const leftovers: string[] = [];

  before(async () => {
    console.log(`driver fuzz: seed ${SEED} (ATEFLOW_FUZZ_SEED=${SEED} reproduces this run)`);
    f = await startFacadeStack(
      { tcpPort: await freePort(), callTimeoutMs: CALL_TIMEOUT_MS, readTimeoutMs: 3_000 },
      // Room for the healthy sandbox, the fuzz's own and its golden actors, and a recovery.
      { cluster: clusterWithPools({ default: 24 }) },
    );
    assert.ok(f.server.tcpAddress, 'the facade listens on TCP');
    clients = { socket: f.client, tcp: connectFacade(f.server.tcpAddress) };
    raws = {
      socket: new Client(`unix:${f.server.socketPath}`, credentials.createInsecure(), {
        'grpc.default_authority': '[::]:50051',
      }),
      tcp: new Client(f.server.tcpAddress, credentials.createInsecure()),
    };
    watch = new WatchRecorder(f.client);
    await gateway(f.client).create(
      gatewaySandbox(healthyId, { driverConfig: { worker_selector: { pool: 'default' } } }),
    );
    await watch.waitFor(
      snapshotOf(healthyId, (c) => c.includes('Ready=True/ActorRunning')),
      'the healthy sandbox running',
    );
  });
  after(async () => {
    watch?.close();
    clients?.tcp?.close();
    for (const raw of Object.values(raws ?? {})) raw.close();
    await f?.teardown();
  });

  it('answers every call within its deadline, with a documented code and a readable message', async () => {
    const v = new Values(new Random(SEED));
    const plans = Array.from({ length: CALLS }, () => planCall(v));
    let next = 0;
    const run = async () => {
      while (next < plans.length) {
        const plan = plans[next++];
        if (plan.rpc === 'ComputeDriver.CreateSandbox' && !plan.raw) {
          // Validate first: both must answer the same request alike.
          const request = plan.request() as { sandbox: DriverSandbox };
          const validated = await execute(
            { ...plan, rpc: 'ComputeDriver.ValidateSandboxCreate', request: () => request },
            clients,
            raws,
          );
          outcomes.push(validated);
          if (validated.code === OK && v.leftovers.length >= MAX_ACCEPTED_CREATES) continue;
          const created = await execute({ ...plan, request: () => request }, clients, raws);
          outcomes.push(created);
          const id = request.sandbox.id;
          if (created.code === OK) {
            assert.equal(
              status[validated.code],
              'OK',
              `Create accepted what Validate refused: ${validated.details}`,
            );
            v.leftovers.push(id);
            leftovers.push(id);
          } else if (validated.code !== OK) {
            refusedCreates.push(id);
            assert.equal(
              status[created.code],
              status[validated.code],
              `Create and Validate differ: ${created.details}`,
            );
            assert.equal(created.details, validated.details, 'Create and Validate say the same');
          }
          continue;
        }
        outcomes.push(await execute(plan, clients, raws));
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, run));

    const byRpc = new Map<string, Map<string, number>>();
    for (const outcome of outcomes) {
      const codes = byRpc.get(outcome.rpc) ?? new Map<string, number>();
      codes.set(status[outcome.code], (codes.get(status[outcome.code]) ?? 0) + 1);
      byRpc.set(outcome.rpc, codes);
    }
    console.log(
      [...byRpc]
        .map(([rpc, codes]) => `${rpc}: ${[...codes].map(([c, n]) => `${c}×${n}`).join(' ')}`)
        .join('\n'),
    );
    console.log(
      `driver fuzz: ${outcomes.length} calls, ${v.leftovers.length} sandboxes created, slowest ${Math.max(...outcomes.map((o) => o.ms))} ms`,
    );

    for (const outcome of outcomes) {
      const where = `${outcome.rpc} over ${outcome.transport} (seed ${SEED})`;
      assert.notEqual(outcome.code, status.DEADLINE_EXCEEDED, `${where}: no status within ${DEADLINE_MS} ms`);
      assert.ok(outcome.ms < DEADLINE_MS, `${where}: ${outcome.ms} ms`);
      assert.ok(
        CODES[outcome.rpc].includes(outcome.code) ||
          (outcome.code === INVALID_ARGUMENT && /cannot be decoded/.test(outcome.details)),
        `${where}: ${status[outcome.code]} is not documented for it: ${outcome.details.slice(0, 300)}`,
      );
      if (outcome.code !== OK) assertReadable(outcome);
    }
    assert.ok(refusedCreates.length > 0, 'the fuzz refused some creates');
  });

  /**
   * The server refused the id itself: INVALID_ARGUMENT, or (an id that is no valid UTF-8, e.g. a
   * lone surrogate) INTERNAL "string field contains invalid UTF-8" — no workflow can bear it.
   */
  const cannotNameAWorkflow = (err: unknown) => {
    const grpc = ((err as { cause?: unknown }).cause ?? err) as { code?: number; details?: string };
    return (
      grpc.code === status.INVALID_ARGUMENT ||
      (grpc.code === status.INTERNAL && /invalid UTF-8/.test(grpc.details ?? ''))
    );
  };

  it('leaves nothing behind for a refused create', async () => {
    const actors = new Set((await f.stack.ateapi.listAllActors()).map((a) => a.actorId));
    const templates = new Set(f.stack.sim.core.templates.list().map((t) => t.metadata.name));
    for (const id of refusedCreates) {
      if (id.length <= 255) {
        await assert.rejects(
          f.stack.env.client.workflow.getHandle(sandboxWorkflowId(id)).describe(),
          (err: unknown) => err instanceof WorkflowNotFoundError || cannotNameAWorkflow(err),
          `a workflow exists for refused sandbox ${id.slice(0, 80)}`,
        );
      }
      assert.ok(!actors.has(id), `an actor exists for refused sandbox ${id.slice(0, 80)}`);
      assert.ok(!templates.has(`oshl-${id}`), `a template exists for refused sandbox ${id.slice(0, 80)}`);
    }
  });

  it('with the leftovers and odd sandboxes planted behind its back, lists answer, a watch lives, a pod loss is recovered', async () => {
    // A sandbox whose view is too large to send (its name never went through the facade).
    const tooLarge = `odd-${randomUUID().slice(0, 8)}`;
    await createSandbox(f.stack, sandboxInput({ sandboxId: tooLarge, sandboxName: 'x'.repeat(300 * KiB) }));
    // A sandbox whose view cannot be read: its workflow's task queue has no worker.
    const unreadable = `odd-${randomUUID().slice(0, 8)}`;
    await f.stack.env.client.workflow.start('sandboxWorkflow', {
      workflowId: sandboxWorkflowId(unreadable),
      taskQueue: `nobody-polls-${randomUUID()}`,
      args: [sandboxInput({ sandboxId: unreadable })],
    });

    const driverCall = <T>(rpc: string, request: object) =>
      new Promise<T>((done, fail) =>
        (f.client.driver[methodName(rpc) as 'listSandboxes'] as unknown as UnaryMethod).call(
          f.client.driver,
          request,
          new Metadata(),
          { deadline: Date.now() + DEADLINE_MS },
          (err, response) => (err ? fail(err) : done(response as T)),
        ),
      );
    const opsCall = <T>(rpc: string, request: object) =>
      new Promise<T>((done, fail) =>
        (f.client.ops[methodName(rpc) as 'listSandboxes'] as unknown as UnaryMethod).call(
          f.client.ops,
          request,
          new Metadata(),
          { deadline: Date.now() + DEADLINE_MS },
          (err, response) => (err ? fail(err) : done(response as T)),
        ),
      );

    // Operations.ListSandboxes reports the odd ones with what can be said; ComputeDriver leaves
    // them out; both list the healthy one.
    const opsListed = await eventually(
      async () => {
        const { sandboxes } = await opsCall<OpsList>('Operations.ListSandboxes', {});
        const seen = (id: string) => sandboxes.find((s) => s.id === id);
        return seen(tooLarge) && seen(unreadable) ? sandboxes : undefined;
      },
      20_000,
      200,
      'the odd sandboxes listed',
    );
    const byId = new Map(opsListed.map((s) => [s.id, s]));
    assert.equal(byId.get(healthyId)?.state, 'RUNNING');
    assert.equal(byId.get(tooLarge)?.state, UNKNOWN_STATE);
    assert.match(
      byId.get(tooLarge)!.detail,
      new RegExp(`over the limit of ${LIMITS.reportedSandboxBytes} bytes`),
    );
    assert.equal(byId.get(unreadable)?.state, UNKNOWN_STATE);
    assert.match(byId.get(unreadable)!.detail, /cannot read/);
    const driverListed = (await driverCall<DriverList>('ComputeDriver.ListSandboxes', {})).sandboxes.map(
      (s) => s.id,
    );
    assert.ok(driverListed.includes(healthyId));
    assert.ok(
      !driverListed.includes(tooLarge) && !driverListed.includes(unreadable),
      'odd sandboxes are left out',
    );
    for (const { id } of opsListed) {
      assert.ok(
        [healthyId, tooLarge, unreadable, ...leftovers].includes(id),
        `an unexpected sandbox ${id} is listed`,
      );
    }
    const got = await opsCall<Sandbox>('Operations.GetSandbox', { sandboxId: tooLarge });
    assert.equal(got.state, UNKNOWN_STATE);

    // The healthy sandbox loses its pod and is recovered, with all of that still around.
    const before = await opsCall<Sandbox>('Operations.GetSandbox', { sandboxId: healthyId });
    const from = watch.events.length;
    f.stack.sim.core.killWorker(before.workerPod);
    const recovered = await waitForView(
      f.stack,
      healthyId,
      (view) => view.events.some((e) => e.reason === 'Recovered') && view.state === 'RUNNING',
      'recovery of the healthy sandbox after its pod loss',
      30_000,
    );
    assert.notEqual(recovered.actorView?.podName, before.workerPod);
    assert.equal(
      (await opsCall<Sandbox>('Operations.GetSandbox', { sandboxId: healthyId })).state,
      'RUNNING',
    );
    const recoveredEvent = await watch.waitFor(
      (e) => e.platformEvent?.sandboxId === healthyId && e.platformEvent.event?.reason === 'Recovered',
      'the recovery on the watch stream that lived through the fuzz',
      20_000,
      from,
    );
    await watch.waitFor(
      snapshotOf(healthyId, (c) => c.includes('Ready=True/ActorRunning')),
      'the recovered sandbox running on the watch stream',
      20_000,
      watch.events.indexOf(recoveredEvent),
    );
    assert.equal(watch.ended, undefined, 'the watch stream is still open');
  });
});
