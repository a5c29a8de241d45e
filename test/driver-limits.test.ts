// Every input limit of the facade (src/driver/limits.ts) at its boundary, over the real socket:
// exactly at the limit is accepted (the call passes the check and goes on: OK, or NOT_FOUND for a
// sandbox that does not exist), one over is refused INVALID_ARGUMENT (RESOURCE_EXHAUSTED for a
// whole message) with a message that names the limit, and a refused create leaves no workflow.
// One sandbox with every create field at its limit at once runs through its whole lifecycle.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { WorkflowNotFoundError } from '@temporalio/client';
import { unary, within } from '../src/grpc/unary';
import { LIMITS } from '../src/driver/limits';
import { DriverSandbox, ValidateSandboxCreateRequest } from '../src/gen/compute_driver';
import type { ListSandboxesResponse, Sandbox } from '../src/gen/ateflow';
import { SandboxPolicy } from '../src/gen/sandbox';
import { sandboxWorkflowId } from '../src/workflows/messages';
import { assertStatus, eventually } from './helpers/sim';
import { gateway, gatewaySandbox, startFacadeStack, type FacadeStack } from './helpers/stack';

const DAY_MS = 86_400_000;
const newId = () => randomUUID();
/** A 63-character DNS label (a valid sandbox id at the limit). */
const longId = () => `${randomUUID()}-${'a'.repeat(26)}`;
/** A DNS subdomain of exactly `n` characters (labels of at most 63, joined by dots). */
function subdomain(n: number): string {
  const labels = Math.ceil((n + 1) / 64);
  const letters = n - (labels - 1);
  const text = Array.from({ length: labels }, (_, i) =>
    'p'.repeat(Math.floor(letters / labels) + (i < letters % labels ? 1 : 0)),
  ).join('.');
  assert.equal(text.length, n);
  return text;
}
const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');
const jsonBytes = (value: unknown) => utf8(JSON.stringify(value));

/** An environment map whose JSON is exactly `bytes` long (values of at most 8 KiB). */
function environmentOf(bytes: number, prefix = 'V'): Record<string, string> {
  const env: Record<string, string> = {};
  for (let i = 0; jsonBytes(env) < bytes; i++) {
    const key = `${prefix}${i}`;
    env[key] = '';
    const room = bytes - jsonBytes(env);
    env[key] = 'x'.repeat(Math.min(LIMITS.envValueBytes, Math.max(0, room)));
  }
  assert.equal(jsonBytes(env), bytes);
  return env;
}

/** An argv whose JSON is exactly `bytes` long. */
function commandOf(bytes: number): string[] {
  const argv = ['/bin/sh'];
  while (jsonBytes(argv) < bytes) {
    argv.push('');
    const room = bytes - jsonBytes(argv);
    argv[argv.length - 1] = 'y'.repeat(Math.min(LIMITS.commandArgBytes, room));
  }
  assert.equal(jsonBytes(argv), bytes);
  return argv;
}

/** A policy that encodes to exactly `bytes`. */
function policyOf(bytes: number): SandboxPolicy {
  for (let n = bytes; n > bytes - 64; n--) {
    const policy = SandboxPolicy.fromPartial({ filesystem: { readOnly: ['/'.padEnd(n, 'r')] } });
    if (SandboxPolicy.encode(policy).finish().length === bytes) return policy;
  }
  throw new Error(`no policy of ${bytes} bytes`);
}

/** A Struct (platform_config) whose JSON is exactly `bytes` long. */
function configOf(bytes: number): Record<string, unknown> {
  const config: Record<string, unknown> = { runtime_class_name: '', filler: '' };
  config.filler = 'f'.repeat(bytes - jsonBytes(config));
  assert.equal(jsonBytes(config), bytes);
  return config;
}

/** `n` template labels at their largest: a 253-character prefix, a 63-character name and value. */
function labelsOf(n: number): Record<string, string> {
  const prefix = subdomain(LIMITS.labelPrefixBytes);
  return Object.fromEntries(
    Array.from({ length: n }, (_, i) => [
      `${prefix}/${`n${i}`.padEnd(LIMITS.labelNameBytes, 'x')}`,
      'v'.repeat(63),
    ]),
  );
}

/** A selector of `n` pairs. */
const selectorOf = (n: number) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`key-${i}`, `value-${i}`]));

type Edit = (sandbox: DriverSandbox) => void;
const spec = (s: DriverSandbox) => s.spec!;
const template = (s: DriverSandbox) => s.spec!.template!;

interface CreateLimit {
  field: string;
  /** The number the refusal must name. */
  limit: number;
  at: Edit;
  over: Edit;
  /** What the at-limit request gets from ValidateSandboxCreate when not OK (refused on other grounds). */
  atCode?: status;
}

const createLimits: CreateLimit[] = [
  {
    field: 'sandbox.id',
    limit: 63,
    at: (s) => (s.id = longId()),
    over: (s) => (s.id = `${longId()}b`),
  },
  {
    field: 'sandbox.name',
    limit: LIMITS.nameBytes,
    at: (s) => (s.name = 'é'.repeat(126) + 'n'),
    over: (s) => (s.name = 'é'.repeat(127)),
  },
  {
    field: 'sandbox.namespace',
    limit: LIMITS.nameBytes,
    at: (s) => (s.namespace = 'n'.repeat(253)),
    over: (s) => (s.namespace = 'n'.repeat(254)),
  },
  {
    field: 'sandbox.workspace',
    limit: LIMITS.workspaceBytes,
    at: (s) => (s.workspace = 'w'.repeat(253)),
    over: (s) => (s.workspace = 'w'.repeat(254)),
  },
  {
    field: 'sandbox.spec.log_level',
    limit: LIMITS.logLevelBytes,
    at: (s) => (spec(s).logLevel = 'l'.repeat(32)),
    over: (s) => (spec(s).logLevel = 'l'.repeat(33)),
  },
  {
    field: 'sandbox.spec.sandbox_token',
    limit: LIMITS.tokenBytes,
    at: (s) => (spec(s).sandboxToken = 't'.repeat(LIMITS.tokenBytes)),
    over: (s) => (spec(s).sandboxToken = 't'.repeat(LIMITS.tokenBytes + 1)),
  },
  {
    field: 'environment variables',
    limit: LIMITS.envEntries,
    at: (s) => (spec(s).environment = envCount(LIMITS.envEntries)),
    over: (s) => (spec(s).environment = envCount(LIMITS.envEntries + 1)),
  },
  {
    field: 'sandbox.spec.environment entries',
    limit: LIMITS.envMapEntries,
    // The driver's own names are dropped before the count of 24, but still count as sent.
    at: (s) => (spec(s).environment = { ...envCount(24), ...reserved(LIMITS.envMapEntries - 24) }),
    over: (s) => (spec(s).environment = { ...envCount(24), ...reserved(LIMITS.envMapEntries - 23) }),
  },
  {
    field: 'environment name',
    limit: LIMITS.envKeyBytes,
    at: (s) => (spec(s).environment = { ['K'.repeat(256)]: 'v' }),
    over: (s) => (spec(s).environment = { ['K'.repeat(257)]: 'v' }),
  },
  {
    field: 'environment value',
    limit: LIMITS.envValueBytes,
    at: (s) => (template(s).environment = { BIG: 'v'.repeat(LIMITS.envValueBytes) }),
    over: (s) => (template(s).environment = { BIG: 'v'.repeat(LIMITS.envValueBytes + 1) }),
  },
  {
    field: 'environment total',
    limit: LIMITS.envTotalBytes,
    // Both maps count: spec.environment plus template.environment ("{}", 2 bytes).
    at: (s) => (
      (spec(s).environment = environmentOf(LIMITS.envTotalBytes - 2)),
      (template(s).environment = {})
    ),
    over: (s) => (
      (spec(s).environment = environmentOf(LIMITS.envTotalBytes - 1)),
      (template(s).environment = {})
    ),
  },
  {
    field: 'sandbox.spec.command arguments',
    limit: LIMITS.commandArgs,
    at: (s) => (spec(s).command = Array.from({ length: 256 }, (_, i) => `a${i}`)),
    over: (s) => (spec(s).command = Array.from({ length: 257 }, (_, i) => `a${i}`)),
  },
  {
    field: 'sandbox.spec.command[1]',
    limit: LIMITS.commandArgBytes,
    at: (s) => (spec(s).command = ['/bin/sh', 'c'.repeat(LIMITS.commandArgBytes)]),
    over: (s) => (spec(s).command = ['/bin/sh', 'c'.repeat(LIMITS.commandArgBytes + 1)]),
  },
  {
    field: 'sandbox.spec.command total',
    limit: LIMITS.commandTotalBytes,
    at: (s) => (spec(s).command = commandOf(LIMITS.commandTotalBytes)),
    over: (s) => (spec(s).command = commandOf(LIMITS.commandTotalBytes + 1)),
  },
  {
    field: 'sandbox.spec.template.image',
    limit: LIMITS.templateStringBytes,
    at: (s) => (template(s).image = pinned(LIMITS.templateStringBytes)),
    over: (s) => (template(s).image = pinned(LIMITS.templateStringBytes + 1)),
  },
  {
    field: 'sandbox.spec.template.agent_socket_path',
    limit: LIMITS.templateStringBytes,
    at: (s) => (template(s).agentSocketPath = '/'.padEnd(1024, 's')),
    over: (s) => (template(s).agentSocketPath = '/'.padEnd(1025, 's')),
  },
  {
    field: 'sandbox.spec.template.resources.cpuRequest',
    limit: LIMITS.templateStringBytes,
    // Within the limit, a CPU request is refused for what it is: Substrate sizes by worker pool.
    atCode: status.FAILED_PRECONDITION,
    at: (s) => (template(s).resources = resources('1'.repeat(1024))),
    over: (s) => (template(s).resources = resources('1'.repeat(1025))),
  },
  {
    field: 'sandbox.spec.template.labels',
    limit: LIMITS.labelCount,
    at: (s) => (template(s).labels = labelsOf(LIMITS.labelCount)),
    over: (s) => (template(s).labels = labelsOf(LIMITS.labelCount + 1)),
  },
  {
    field: 'label key prefix',
    limit: LIMITS.labelPrefixBytes,
    at: (s) => (template(s).labels = { [`${subdomain(253)}/name`]: 'v' }),
    over: (s) => (template(s).labels = { [`${subdomain(254)}/name`]: 'v' }),
  },
  {
    field: 'label key name',
    limit: LIMITS.labelNameBytes,
    at: (s) => (template(s).labels = { ['k'.repeat(63)]: 'v' }),
    over: (s) => (template(s).labels = { ['k'.repeat(64)]: 'v' }),
  },
  {
    field: 'label value',
    limit: LIMITS.labelValueBytes,
    at: (s) => (template(s).labels = { team: 'v'.repeat(63) }),
    over: (s) => (template(s).labels = { team: 'v'.repeat(64) }),
  },
  {
    field: 'driver_config.worker_selector pairs',
    limit: LIMITS.selectorPairs,
    at: (s) => (template(s).driverConfig = { worker_selector: selectorOf(64) }),
    over: (s) => (template(s).driverConfig = { worker_selector: selectorOf(65) }),
  },
  {
    field: 'driver_config.idle_timeout',
    limit: LIMITS.idleTimeoutMs,
    at: (s) => (template(s).driverConfig = { idle_timeout: '365d' }),
    over: (s) => (template(s).driverConfig = { idle_timeout: '365d1ms' }),
  },
  {
    field: 'sandbox.spec.template.driver_config',
    limit: LIMITS.configBytes,
    // A driver_config that large holds more than ateflow's two keys: refused, but not for its size.
    atCode: status.INVALID_ARGUMENT,
    at: (s) => (template(s).driverConfig = configOf(LIMITS.configBytes)),
    over: (s) => (template(s).driverConfig = configOf(LIMITS.configBytes + 1)),
  },
  {
    field: 'sandbox.spec.template.platform_config',
    limit: LIMITS.configBytes,
    at: (s) => (template(s).platformConfig = configOf(LIMITS.configBytes)),
    over: (s) => (template(s).platformConfig = configOf(LIMITS.configBytes + 1)),
  },
  {
    field: 'sandbox.spec.policy',
    limit: LIMITS.policyBytes,
    at: (s) => (spec(s).policy = policyOf(LIMITS.policyBytes)),
    over: (s) => (spec(s).policy = policyOf(LIMITS.policyBytes + 1)),
  },
];

function envCount(n: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`VAR_${i}`, `${i}`]));
}
/** Names only the driver may set (OPENSHELL_SANDBOX_TOKEN*): dropped from the user's environment. */
function reserved(n: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`OPENSHELL_SANDBOX_TOKEN_${i}`, 'x']));
}
function pinned(bytes: number): string {
  const digest = `@sha256:${'b'.repeat(64)}`;
  const head = 'registry.test/';
  return `${head}${'i'.repeat(bytes - head.length - digest.length)}${digest}`;
}
const resources = (cpuRequest: string) => ({ cpuRequest, cpuLimit: '', memoryRequest: '', memoryLimit: '' });

describe('driver input limits', () => {
  let f: FacadeStack;
  let g: ReturnType<typeof gateway>;
  const ops = () => f.client.ops;
  const opsCall = <T>(method: keyof FacadeStack['client']['ops'], request: object, timeoutMs = 30_000) =>
    unary<T>((cb) =>
      (ops()[method] as unknown as (r: object, m: Metadata, o: object, c: typeof cb) => void)(
        request,
        new Metadata(),
        within(timeoutMs),
        cb,
      ),
    );
  const driverCall = <T>(
    method: keyof FacadeStack['client']['driver'],
    request: object,
    timeoutMs = 30_000,
  ) =>
    unary<T>((cb) =>
      (f.client.driver[method] as unknown as (r: object, m: Metadata, o: object, c: typeof cb) => void)(
        request,
        new Metadata(),
        within(timeoutMs),
        cb,
      ),
    );
  /** The call passed every limit: it succeeded, or failed with `code` for another reason. */
  const passes = async (promise: Promise<unknown>, ...codes: status[]) => {
    try {
      await promise;
    } catch (err) {
      const e = err as ServiceError;
      assert.ok(
        codes.includes(e.code),
        `expected OK or ${codes.map((c) => status[c]).join(' or ')}, got ${status[e.code]}: ${e.details}`,
      );
      return e;
    }
  };
  const refused = (promise: Promise<unknown>, limit: number) =>
    assertStatus(promise, status.INVALID_ARGUMENT, new RegExp(`\\b${limit}\\b`));
  const noWorkflow = async (sandboxId: string) => {
    await assert.rejects(
      f.stack.env.client.workflow.getHandle(sandboxWorkflowId(sandboxId)).describe(),
      (err) => err instanceof WorkflowNotFoundError,
      `a workflow was started for refused sandbox ${sandboxId}`,
    );
  };

  before(async () => {
    f = await startFacadeStack();
    g = gateway(f.client, 30_000);
  });
  after(async () => f?.teardown());

  describe('ValidateSandboxCreate and CreateSandbox, field by field', () => {
    for (const limit of createLimits) {
      it(`${limit.field}: ${limit.limit} accepted, one more refused by both, nothing started`, async () => {
        const at = gatewaySandbox(newId());
        limit.at(at);
        if (limit.atCode !== undefined) {
          const err = await assertStatus(g.validate(at), limit.atCode);
          assert.doesNotMatch(err.details, new RegExp(`limit of ${limit.limit}\\b`));
        } else {
          await g.validate(at);
        }
        const over = gatewaySandbox(newId());
        limit.over(over);
        const fromValidate = await refused(g.validate(over), limit.limit);
        const fromCreate = await refused(g.create(over), limit.limit);
        assert.equal(fromCreate.details, fromValidate.details, 'Validate and Create refuse alike');
        await noWorkflow(over.id);
      });
    }

    it(`a whole request of ${LIMITS.receiveMessageBytes} bytes reaches the checks; one more byte is RESOURCE_EXHAUSTED`, async () => {
      const sized = (bytes: number) => {
        const sandbox = gatewaySandbox(newId());
        const size = () => ValidateSandboxCreateRequest.encode({ sandbox }).finish().length;
        // Length prefixes grow with the name: converge on the exact size.
        for (let i = 0; i < 10 && size() !== bytes; i++)
          sandbox.name = 'm'.repeat(sandbox.name.length + bytes - size());
        assert.equal(size(), bytes);
        return sandbox;
      };
      await refused(g.validate(sized(LIMITS.receiveMessageBytes)), LIMITS.nameBytes);
      const over = sized(LIMITS.receiveMessageBytes + 1);
      await assertStatus(
        g.create(over),
        status.RESOURCE_EXHAUSTED,
        new RegExp(`${LIMITS.receiveMessageBytes}`),
      );
      await noWorkflow(over.id);
    });
  });

  describe('every other RPC', () => {
    const unknownAt = longId; // 63 characters, never created
    const over = () => `${longId()}x`;

    for (const method of ['getSandbox', 'stopSandbox', 'startSandbox', 'deleteSandbox'] as const) {
      it(`ComputeDriver.${method}: sandbox_id of 63 and sandbox_name of ${LIMITS.nameBytes} pass, one more is refused`, async () => {
        const accepted = (request: object) =>
          method === 'deleteSandbox'
            ? passes(driverCall(method, request))
            : passes(driverCall(method, request), status.NOT_FOUND);
        await accepted({ sandboxId: unknownAt(), sandboxName: 'n'.repeat(LIMITS.nameBytes) });
        await refused(driverCall(method, { sandboxId: over(), sandboxName: '' }), 63);
        await refused(
          driverCall(method, { sandboxId: unknownAt(), sandboxName: 'n'.repeat(LIMITS.nameBytes + 1) }),
          LIMITS.nameBytes,
        );
      });
    }

    for (const method of ['ensureWorkspace', 'deleteWorkspace'] as const) {
      it(`ComputeDriver.${method}: a workspace of ${LIMITS.workspaceBytes} bytes passes, one more is refused`, async () => {
        await passes(driverCall(method, { workspace: 'w'.repeat(LIMITS.workspaceBytes) }));
        await refused(
          driverCall(method, { workspace: 'w'.repeat(LIMITS.workspaceBytes + 1) }),
          LIMITS.workspaceBytes,
        );
      });
    }

    for (const method of ['getSandbox', 'checkpoint', 'touch', 'release', 'history'] as const) {
      it(`Operations.${method}: sandbox_id of 63 passes, 64 is refused`, async () => {
        await passes(opsCall(method, { sandboxId: unknownAt() }), status.NOT_FOUND);
        await refused(opsCall(method, { sandboxId: over() }), 63);
      });
    }

    it(`Operations.Hold: reason of ${LIMITS.reasonBytes} bytes passes, one more is refused`, async () => {
      await passes(
        opsCall('hold', { sandboxId: unknownAt(), reason: 'r'.repeat(LIMITS.reasonBytes) }),
        status.NOT_FOUND,
      );
      await refused(
        opsCall('hold', { sandboxId: unknownAt(), reason: 'r'.repeat(LIMITS.reasonBytes + 1) }),
        LIMITS.reasonBytes,
      );
      await refused(opsCall('hold', { sandboxId: over(), reason: 'r' }), 63);
    });

    it(`Operations.Migrate: reason of ${LIMITS.reasonBytes} bytes and ${LIMITS.selectorPairs} selector pairs pass`, async () => {
      const base = { sandboxId: unknownAt(), replaceSelector: false };
      await passes(
        opsCall('migrate', {
          ...base,
          reason: 'r'.repeat(LIMITS.reasonBytes),
          workerSelector: selectorOf(LIMITS.selectorPairs),
        }),
        status.NOT_FOUND,
      );
      await refused(
        opsCall('migrate', { ...base, reason: 'r'.repeat(LIMITS.reasonBytes + 1), workerSelector: {} }),
        LIMITS.reasonBytes,
      );
      await refused(
        opsCall('migrate', { ...base, reason: '', workerSelector: selectorOf(LIMITS.selectorPairs + 1) }),
        LIMITS.selectorPairs,
      );
      await refused(
        opsCall('migrate', { ...base, reason: '', workerSelector: { pool: 'v'.repeat(64) } }),
        LIMITS.labelValueBytes,
      );
      await refused(opsCall('migrate', { ...base, sandboxId: over(), reason: '', workerSelector: {} }), 63);
    });

    it('Operations.SetIdleTimeout: a year passes, a millisecond more is refused, an int64 past 2^53 too', async () => {
      const base = { sandboxId: unknownAt() };
      await passes(
        opsCall('setIdleTimeout', { ...base, idleTimeoutMs: LIMITS.idleTimeoutMs }),
        status.NOT_FOUND,
      );
      await refused(
        opsCall('setIdleTimeout', { ...base, idleTimeoutMs: LIMITS.idleTimeoutMs + 1 }),
        LIMITS.idleTimeoutMs,
      );
      await assertStatus(
        opsCall('setIdleTimeout', { ...base, idleTimeoutMs: -1 }),
        status.INVALID_ARGUMENT,
        /≥ 0/,
      );
      // 2^62 encodes exactly but cannot be a JavaScript number: undecodable, the caller's mistake.
      await assertStatus(
        opsCall('setIdleTimeout', { ...base, idleTimeoutMs: 2 ** 62 }),
        status.INVALID_ARGUMENT,
        /cannot be decoded.*MAX_SAFE_INTEGER/,
      );
      assert.equal(LIMITS.idleTimeoutMs, 365 * DAY_MS);
    });

    it(`Operations.Drain: worker_pool and node of ${LIMITS.kubernetesNameBytes}, parallelism ${LIMITS.drainParallelism} pass`, async () => {
      const drain = (request: object) =>
        new Promise<void>((done, fail) => {
          const stream = ops().drain({ workerSelector: {}, reason: '', parallelism: 0, ...request });
          stream.on('data', () => undefined);
          stream.on('end', done);
          stream.on('error', fail);
        });
      const name = subdomain(LIMITS.kubernetesNameBytes);
      await drain({
        workerPool: name,
        parallelism: LIMITS.drainParallelism,
        reason: 'r'.repeat(LIMITS.reasonBytes),
      });
      await drain({ node: name });
      await refused(
        drain({ workerPool: subdomain(LIMITS.kubernetesNameBytes + 1) }),
        LIMITS.kubernetesNameBytes,
      );
      await refused(drain({ node: subdomain(LIMITS.kubernetesNameBytes + 1) }), LIMITS.kubernetesNameBytes);
      await refused(
        drain({ workerPool: 'pool', parallelism: LIMITS.drainParallelism + 1 }),
        LIMITS.drainParallelism,
      );
      await refused(
        drain({ workerPool: 'pool', reason: 'r'.repeat(LIMITS.reasonBytes + 1) }),
        LIMITS.reasonBytes,
      );
      await refused(
        drain({ workerPool: 'pool', workerSelector: selectorOf(LIMITS.selectorPairs + 1) }),
        LIMITS.selectorPairs,
      );
    });

    it('a request the decoder cannot read is INVALID_ARGUMENT saying so, not INTERNAL', async () => {
      // A Struct nested past the protobuf decoder's recursion limit.
      let deep: Record<string, unknown> = { bottom: true };
      for (let i = 0; i < 1000; i++) deep = { d: deep };
      const sandbox = gatewaySandbox(newId());
      template(sandbox).platformConfig = deep;
      await assertStatus(g.validate(sandbox), status.INVALID_ARGUMENT, /cannot be decoded.*recursion/);
      await assertStatus(g.create(sandbox), status.INVALID_ARGUMENT, /cannot be decoded/);
      await noWorkflow(sandbox.id);
    });

    it('Operations.WatchEvents: a sandbox_id filter of 63 passes, 64 is refused', async () => {
      const watch = (sandboxId: string) =>
        new Promise<ServiceError | 'open'>((done) => {
          const stream = ops().watchEvents({ sandboxId });
          stream.on('data', () => undefined);
          stream.on('error', (err: ServiceError) => done(err));
          setTimeout(() => (stream.cancel(), done('open')), 500);
        });
      assert.equal(await watch(unknownAt()), 'open');
      const err = await watch(over());
      assert.notEqual(err, 'open');
      assert.equal((err as ServiceError).code, status.INVALID_ARGUMENT);
      assert.match((err as ServiceError).details, /\b63\b/);
    });
  });

  describe('a sandbox with every create field at its limit', () => {
    it('runs, is listed by both services, and goes through hold (reason at its limit), release, stop, start and delete', async () => {
      const sandbox = gatewaySandbox(longId());
      sandbox.name = 'n'.repeat(LIMITS.nameBytes);
      sandbox.namespace = 's'.repeat(LIMITS.nameBytes);
      sandbox.workspace = 'w'.repeat(LIMITS.workspaceBytes);
      spec(sandbox).logLevel = 'l'.repeat(LIMITS.logLevelBytes);
      spec(sandbox).sandboxToken = 't'.repeat(LIMITS.tokenBytes);
      spec(sandbox).environment = environmentOf(LIMITS.envTotalBytes - 2, 'E');
      assert.ok(Object.keys(spec(sandbox).environment).length <= LIMITS.envEntries);
      spec(sandbox).command = commandOf(LIMITS.commandTotalBytes);
      spec(sandbox).policy = policyOf(LIMITS.policyBytes);
      template(sandbox).environment = {};
      template(sandbox).labels = labelsOf(LIMITS.labelCount);
      template(sandbox).agentSocketPath = '/'.padEnd(LIMITS.templateStringBytes, 's');
      template(sandbox).driverConfig = { idle_timeout: '365d', worker_selector: { tier: 'standard' } };
      template(sandbox).platformConfig = configOf(LIMITS.configBytes);
      const id = sandbox.id;

      await g.validate(sandbox);
      await g.create(sandbox);
      const running = await eventually(
        async () => {
          const view = await opsCall<Sandbox>('getSandbox', { sandboxId: id });
          return view.state === 'RUNNING' ? view : undefined;
        },
        30_000,
        100,
        'the sandbox at every limit running',
      );
      assert.equal(running.name, sandbox.name);
      assert.equal(running.workspace, sandbox.workspace);
      assert.equal(Object.keys(running.labels).length, LIMITS.labelCount);
      assert.equal(running.idleTimeoutMs, 365 * DAY_MS);

      assert.ok((await g.list()).some((s) => s.id === id && s.name === sandbox.name));
      const listed = await opsCall<ListSandboxesResponse>('listSandboxes', {});
      assert.ok(listed.sandboxes.some((s) => s.id === id && s.state === 'RUNNING'));

      const reason = 'h'.repeat(LIMITS.reasonBytes);
      const held = await opsCall<Sandbox>('hold', { sandboxId: id, reason });
      assert.equal(held.state, 'SUSPENDED');
      assert.equal(held.hold?.reason, reason);
      await assertStatus(g.start(id), status.FAILED_PRECONDITION, /on hold/);
      assert.ok((await g.list()).some((s) => s.id === id));
      await opsCall<Sandbox>('release', { sandboxId: id });
      await g.start(id);
      await g.stop(id);
      await g.start(id);
      assert.equal(await g.delete(id), true);
      await eventually(
        async () => ((await g.list()).some((s) => s.id === id) ? undefined : true),
        20_000,
        100,
        'gone',
      );
    });
  });
});
