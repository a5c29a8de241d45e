// The helpdesk story (after the original driver's examples/helpdesk), as an asserting demo
// against a running stack: `ateflow demo` runs it against `ateflow dev`, and the test suite runs
// it against an in-process stack with the simulator's latency scaled down.
//
// Every sandbox call goes through the facade exactly as the OpenShell gateway makes it
// (ComputeDriver over the socket), operations through ateflow.v1 Operations, pod kills through
// the simulator's admin API, and memory through the simulator's data plane (resume on traffic).
import { randomUUID } from 'node:crypto';
import { Metadata, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type { HistoryResponse, Sandbox } from '../gen/ateflow';
import {
  DriverSandbox,
  type DeleteSandboxResponse,
  type GetSandboxResponse,
  type ListSandboxesResponse,
  type WatchSandboxesEvent,
} from '../gen/compute_driver';
import { connectFacade, type FacadeClient } from '../driver/client';
import { unary, within } from '../grpc/unary';
import { SimAdminConnection } from '../sim/admin-client';
import { DEMO_IMAGE, DEMO_TEMPLATE, HIGHMEM_POOL, POOL_LABEL, STANDARD_POOL } from './cluster';

export interface DemoOptions {
  /** The facade: its Unix socket path or host:port. */
  facade: string;
  /** The simulator's admin API (host:port). */
  simAdmin: string;
  /** The simulator's data plane; default: asked from the admin API. */
  dataPlaneUrl?: string;
  /** Temporal Web UI base, e.g. http://127.0.0.1:8233, and namespace, for the closing links. */
  webUiUrl: string;
  namespace: string;
  /** Bob's idle timeout (driver_config.idle_timeout); default 15 s. */
  bobIdleTimeoutMs?: number;
  /** Longest any one wait may take; default 120 s. */
  waitTimeoutMs?: number;
  /** Where the story is told; default console.log. */
  print?: (line: string) => void;
}

export interface StepResult {
  step: number;
  title: string;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface DemoResult {
  ok: boolean;
  steps: StepResult[];
  alice: string;
  bob: string;
  links: { alice: string; bob: string };
}

const WORKSPACE = 'helpdesk';
const ISSUE = 'the user reports a database timeout';
export const DEMO_STEPS = [
  'provision alice and bob through the facade; list them',
  "write to alice's workload memory through the data plane",
  'stop alice (StopSandbox); her worker is free',
  'follow-up to alice: she resumes on traffic and still remembers',
  'bob idles past his idle timeout and is auto-suspended',
  'checkpoint alice, then kill her worker pod: she comes back elsewhere; bob is untouched',
  'migrate alice explicitly to another pool',
  'hold bob (quarantine): StartSandbox is refused until released',
  'delete alice: actor, synthesized template and history end cleanly; bob remains',
] as const;

class StepFailed extends Error {}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new StepFailed(message);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The Temporal Web UI page of one sandbox's workflow. */
export const sandboxUiLink = (webUiUrl: string, namespace: string, sandboxId: string) =>
  `${webUiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(`sandbox/${sandboxId}`)}`;

/** Records every WatchSandboxes event, as the gateway's watch loop receives them. */
class GatewayWatch {
  readonly events: WatchSandboxesEvent[] = [];
  private readonly stream: ClientReadableStream<WatchSandboxesEvent>;
  failed: ServiceError | undefined;

  constructor(client: FacadeClient) {
    this.stream = client.driver.watchSandboxes({});
    this.stream.on('data', (event: WatchSandboxesEvent) => this.events.push(event));
    this.stream.on('error', (err: ServiceError) => (this.failed = err));
  }

  platformEvents(sandboxId: string, reason: string) {
    return this.events.filter(
      (e) => e.platformEvent?.sandboxId === sandboxId && e.platformEvent.event?.reason === reason,
    );
  }

  deleted(sandboxId: string): boolean {
    return this.events.some((e) => e.deleted?.sandboxId === sandboxId);
  }

  close(): void {
    this.stream.cancel();
  }
}

/** Runs the story; never throws for a failed step (see `ok`), only for bad options. */
export async function runHelpdeskDemo(options: DemoOptions): Promise<DemoResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const waitTimeoutMs = options.waitTimeoutMs ?? 120_000;
  const bobIdleMs = options.bobIdleTimeoutMs ?? 15_000;
  const facade = connectFacade(options.facade);
  const admin = new SimAdminConnection(options.simAdmin);
  const md = () => new Metadata();
  const callMs = Math.max(waitTimeoutMs, 60_000);
  const d = facade.driver;
  const ops = facade.ops;

  // --- the gateway's calls and ateflow's operations, as promises ---
  const gw = {
    ensureWorkspace: (workspace: string) =>
      unary((cb) => d.ensureWorkspace({ workspace }, md(), within(callMs), cb)),
    create: (sandbox: DriverSandbox) => unary((cb) => d.createSandbox({ sandbox }, md(), within(callMs), cb)),
    get: (sandboxId: string) =>
      unary<GetSandboxResponse>((cb) =>
        d.getSandbox({ sandboxId, sandboxName: '' }, md(), within(callMs), cb),
      ),
    list: () =>
      unary<ListSandboxesResponse>((cb) => d.listSandboxes({}, md(), within(callMs), cb)).then(
        (r) => r.sandboxes,
      ),
    stop: (sandboxId: string) =>
      unary((cb) => d.stopSandbox({ sandboxId, sandboxName: '' }, md(), within(callMs), cb)),
    start: (sandboxId: string) =>
      unary((cb) => d.startSandbox({ sandboxId, sandboxName: '' }, md(), within(callMs), cb)),
    delete: (sandboxId: string) =>
      unary<DeleteSandboxResponse>((cb) =>
        d.deleteSandbox({ sandboxId, sandboxName: '' }, md(), within(callMs), cb),
      ).then((r) => r.deleted),
  };
  const op = {
    get: (sandboxId: string) =>
      unary<Sandbox>((cb) => ops.getSandbox({ sandboxId }, md(), within(callMs), cb)),
    checkpoint: (sandboxId: string) =>
      unary<Sandbox>((cb) => ops.checkpoint({ sandboxId }, md(), within(callMs), cb)),
    migrate: (sandboxId: string, workerSelector: Record<string, string>, reason: string) =>
      unary<Sandbox>((cb) =>
        ops.migrate({ sandboxId, workerSelector, replaceSelector: true, reason }, md(), within(callMs), cb),
      ),
    hold: (sandboxId: string, reason: string) =>
      unary<Sandbox>((cb) => ops.hold({ sandboxId, reason }, md(), within(callMs), cb)),
    release: (sandboxId: string) =>
      unary<Sandbox>((cb) => ops.release({ sandboxId }, md(), within(callMs), cb)),
    history: (sandboxId: string) =>
      unary<HistoryResponse>((cb) => ops.history({ sandboxId }, md(), within(callMs), cb)).then(
        (r) => r.events,
      ),
  };
  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + waitTimeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline)
        throw new StepFailed(`timed out after ${seconds(waitTimeoutMs)} waiting for ${what}`);
      await sleep(100);
    }
  };
  const waitState = (id: string, name: string, state: string, extra: (s: Sandbox) => boolean = () => true) =>
    waitFor(`${name} to be ${state}`, async () => {
      const sandbox = await op.get(id);
      if (sandbox.state === 'FAILED')
        throw new StepFailed(`${name} FAILED: ${sandbox.failure?.reason}: ${sandbox.failure?.message}`);
      return sandbox.state === state && extra(sandbox) ? sandbox : undefined;
    });

  let dataPlane = options.dataPlaneUrl ?? '';
  const memoryUrl = (s: Sandbox, path: string) =>
    `${dataPlane}/actors/${encodeURIComponent(s.atespace)}/${encodeURIComponent(s.actor)}${path}`;
  const http = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(callMs),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new StepFailed(`${method} ${url} → ${res.status}: ${JSON.stringify(json)}`);
    return { json, worker: res.headers.get('x-sim-worker-pod') ?? '' };
  };
  const workers = async () => (await admin.call('listWorkers', {})).workers;

  const alice = randomUUID();
  const bob = randomUUID();
  const links = {
    alice: sandboxUiLink(options.webUiUrl, options.namespace, alice),
    bob: sandboxUiLink(options.webUiUrl, options.namespace, bob),
  };
  const steps: StepResult[] = [];
  const started = Date.now();
  let watch: GatewayWatch | undefined;
  let aliceWorkerBeforeKill = '';

  const story: (() => Promise<string[]>)[] = [
    // 1. provision alice and bob; list them
    async () => {
      await gw.ensureWorkspace(WORKSPACE);
      // alice: a template synthesized for her (identity env, owned, deleted with her), on the
      // standard pool; its golden snapshot is built first. bob, once she runs (his idle clock
      // starts then): the pre-provisioned helpdesk-agent template, with an idle timeout.
      let t0 = Date.now();
      await gw.create(
        gatewaySandbox(alice, 'alice', {
          driverConfig: { idle_timeout: 0, worker_selector: { [POOL_LABEL]: STANDARD_POOL } },
          token: `demo-token-${randomUUID()}`,
        }),
      );
      const accepted = Date.now() - t0;
      const a = { s: await waitState(alice, 'alice', 'RUNNING'), at: Date.now() - t0 };
      t0 = Date.now();
      await gw.create(
        gatewaySandbox(bob, 'bob', {
          driverConfig: { idle_timeout: `${bobIdleMs}ms`, worker_selector: { [POOL_LABEL]: STANDARD_POOL } },
          platformConfig: { substrate_actor_template: DEMO_TEMPLATE },
        }),
      );
      const b = { s: await waitState(bob, 'bob', 'RUNNING'), at: Date.now() - t0 };
      const ready = await gw.get(alice);
      const conditions = (ready.sandbox?.status?.conditions ?? []).map((c) => `${c.type}=${c.status}`);
      check(conditions.includes('Ready=True'), `alice's conditions are ${conditions.join(', ')}`);
      const listed = await gw.list();
      const names = listed.filter((s) => s.id === alice || s.id === bob).map((s) => s.name);
      check(names.includes('alice') && names.includes('bob'), `ListSandboxes shows ${names.join(', ')}`);
      return [
        `CreateSandbox accepted in ${seconds(accepted)}; provisioning goes on in each sandbox's workflow`,
        `alice  ${alice}  RUNNING after ${seconds(a.at)} on ${a.s.workerPod} (pool ${a.s.workerPool})`,
        `       template ${a.s.template}, synthesized for her (the wait includes its golden snapshot)`,
        `bob    ${bob}  RUNNING after ${seconds(b.at)} on ${b.s.workerPod} (pool ${b.s.workerPool})`,
        `       template ${b.s.template}, pre-provisioned; idle timeout ${seconds(bobIdleMs)}`,
        `ListSandboxes: ${listed.length} sandbox(es), alice and bob Ready`,
      ];
    },
    // 2. write to alice's memory through the data plane
    async () => {
      const a = await op.get(alice);
      if (!dataPlane) dataPlane = (await admin.call('getInfo', {})).dataPlaneUrl;
      await http('PUT', memoryUrl(a, '/memory/issue'), ISSUE);
      const { worker } = await http('POST', memoryUrl(a, '/messages'), {
        role: 'user',
        content: 'User foo reports their database is timing out; give me a triage checklist.',
      });
      const read = await http('GET', memoryUrl(a, '/memory/issue'));
      check(read.json.value === ISSUE, `alice's memory holds ${JSON.stringify(read.json.value)}`);
      return [`PUT ${memoryUrl(a, '/memory/issue')} = "${ISSUE}" (served by ${worker})`];
    },
    // 3. stop alice; her worker is free
    async () => {
      const before = await op.get(alice);
      const t0 = Date.now();
      await gw.stop(alice);
      const took = Date.now() - t0;
      const after = await op.get(alice);
      check(after.state === 'SUSPENDED', `alice is ${after.state} after StopSandbox`);
      const pod = (await workers()).find((w) => w.pod === before.workerPod);
      check(
        pod === undefined || pod.actorName === '',
        `worker ${before.workerPod} still holds ${pod?.actorName}`,
      );
      const stopped = await gw.get(alice);
      const suspended = (stopped.sandbox?.status?.conditions ?? []).some(
        (c) => c.type === 'Suspended' && c.status === 'True',
      );
      check(suspended, 'the gateway does not see alice as Suspended');
      return [
        `StopSandbox returned after ${seconds(took)}, once the memory snapshot was committed`,
        `alice SUSPENDED (Suspended=True for the gateway); worker ${before.workerPod} is free`,
      ];
    },
    // 4. follow-up: resumes on traffic, still remembers
    async () => {
      const a = await op.get(alice);
      const t0 = Date.now();
      const { json, worker } = await http('GET', memoryUrl(a, '/memory/issue'));
      const took = Date.now() - t0;
      check(json.value === ISSUE, `after resume alice remembers ${JSON.stringify(json.value)}`);
      await http('POST', memoryUrl(a, '/messages'), {
        role: 'user',
        content: 'What was the user issue I just asked you about?',
      });
      const messages = (await http('GET', memoryUrl(a, '/messages'))).json as unknown as unknown[];
      check(messages.length === 2, `alice has ${messages.length} messages, expected 2`);
      const running = await waitState(alice, 'alice', 'RUNNING');
      const history = await op.history(alice);
      check(
        history.some((e) => e.reason === 'ResumedOnTraffic'),
        `no ResumedOnTraffic event in ${history.map((e) => e.reason).join(',')}`,
      );
      // The gateway shows a stopped sandbox as Stopped until StartSandbox, which must succeed at once.
      const t1 = Date.now();
      await gw.start(alice);
      return [
        `GET memory/issue resumed alice on traffic in ${seconds(took)} on ${worker}: "${json.value}"`,
        `2 messages in her history; the workflow recorded ResumedOnTraffic (state ${running.state})`,
        `StartSandbox (the gateway's way back from Stopped) answered in ${seconds(Date.now() - t1)}`,
      ];
    },
    // 5. bob idles and is auto-suspended, visible as an event
    async () => {
      const t0 = Date.now();
      const b = await waitState(bob, 'bob', 'SUSPENDED');
      const event = await waitFor('an IdleSuspended platform event for bob on WatchSandboxes', async () =>
        Promise.resolve(watch!.platformEvents(bob, 'IdleSuspended')[0]),
      );
      const idleFor = Number(event.platformEvent!.event!.timestampMs) - b.lastActiveAtMs;
      check(idleFor >= bobIdleMs, `bob was suspended after only ${seconds(idleFor)} idle`);
      return [
        `waited ${seconds(Date.now() - t0)}; bob SUSPENDED after ${seconds(idleFor)} without activity`,
        `WatchSandboxes platform event: IdleSuspended "${event.platformEvent!.event!.message}"`,
      ];
    },
    // 6. checkpoint alice, kill her worker pod; she comes back elsewhere with her checkpoint
    async () => {
      const t0 = Date.now();
      const checkpointed = await op.checkpoint(alice);
      const checkpointMs = Date.now() - t0;
      check(checkpointed.state === 'RUNNING', `alice is ${checkpointed.state} after the checkpoint`);
      // Written after the checkpoint: lost with the pod, which is the point.
      await http('PUT', memoryUrl(checkpointed, '/memory/scratch'), 'not checkpointed');
      const bobBefore = await op.history(bob);
      const bobState = (await op.get(bob)).state;
      aliceWorkerBeforeKill = checkpointed.workerPod;
      const t1 = Date.now();
      await admin.call('killWorker', { pod: checkpointed.workerPod, namespace: '' });
      const back = await waitState(alice, 'alice', 'RUNNING', (s) => s.workerPod !== aliceWorkerBeforeKill);
      const recoveredMs = Date.now() - t1;
      const history = await op.history(alice);
      const reasons = history.map((e) => e.reason);
      check(
        reasons.includes('PodLost') && reasons.includes('Recovered'),
        `alice's events: ${reasons.join(',')}`,
      );
      const memory = (await http('GET', memoryUrl(back, '/memory'))).json;
      check(memory.issue === ISSUE, `alice's memory after recovery: ${JSON.stringify(memory)}`);
      check(!('scratch' in memory), 'memory written after the checkpoint survived a pod kill');
      const bobAfter = await op.history(bob);
      check(
        bobAfter.length === bobBefore.length && (await op.get(bob)).state === bobState,
        `bob changed: ${bobAfter
          .slice(bobBefore.length)
          .map((e) => e.reason)
          .join(',')}`,
      );
      return [
        `checkpoint committed in ${seconds(checkpointMs)} (${checkpointed.workerPod})`,
        `killed worker pod ${aliceWorkerBeforeKill}; alice PodLost → Recovered on ${back.workerPod} in ${seconds(recoveredMs)}`,
        `her memory is her last checkpoint: issue = "${String(memory.issue)}", the later scratch note is gone`,
        `bob untouched: still ${bobState}, no new events`,
      ];
    },
    // 7. migrate alice to another pool
    async () => {
      const before = await op.get(alice);
      check(
        before.workerPool === STANDARD_POOL,
        `alice is on pool ${before.workerPool}, expected ${STANDARD_POOL}`,
      );
      const t0 = Date.now();
      const moved = await op.migrate(alice, { [POOL_LABEL]: HIGHMEM_POOL }, 'needs more memory');
      const took = Date.now() - t0;
      check(moved.state === 'RUNNING', `alice is ${moved.state} after the migration`);
      check(moved.workerPool === HIGHMEM_POOL, `alice landed on pool ${moved.workerPool}`);
      check(moved.workerPod !== before.workerPod, 'alice is still on the same worker');
      const memory = (await http('GET', memoryUrl(moved, '/memory/issue'))).json;
      check(memory.value === ISSUE, `alice's memory after migration: ${JSON.stringify(memory)}`);
      return [
        `migrated in ${seconds(took)}: ${before.workerPod} (${before.workerPool}) → ${moved.workerPod} (${moved.workerPool})`,
        `she still remembers: "${String(memory.value)}"`,
      ];
    },
    // 8. hold bob; StartSandbox refused until released
    async () => {
      const held = await op.hold(bob, 'quarantine');
      check(held.hold?.reason === 'quarantine', 'bob has no hold');
      let refused = '';
      try {
        await gw.start(bob);
      } catch (err) {
        refused = (err as ServiceError).details ?? String(err);
      }
      check(refused !== '', 'StartSandbox succeeded on a held sandbox');
      await op.release(bob);
      const t0 = Date.now();
      await gw.start(bob);
      const running = await op.get(bob);
      check(running.state === 'RUNNING', `bob is ${running.state} after release and start`);
      return [
        `Hold(quarantine): StartSandbox refused: "${refused}"`,
        `Release, then StartSandbox: bob RUNNING again in ${seconds(Date.now() - t0)} on ${running.workerPod}`,
      ];
    },
    // 9. delete alice; bob remains
    async () => {
      const before = await op.get(alice);
      const [templateNamespace, templateName] = before.template.split('/');
      check(before.templateOwned, `alice's template ${before.template} is not synthesized`);
      const t0 = Date.now();
      const deleted = await gw.delete(alice);
      const took = Date.now() - t0;
      check(deleted, 'DeleteSandbox reported deleted=false');
      const actors = (await admin.call('listActors', { atespace: before.atespace })).actors;
      check(!actors.some((a) => a.name === alice), "alice's actor still exists");
      const templates = (
        await admin.call('listActorTemplates', { namespace: templateNamespace })
      ).templatesJson.map((t) => (JSON.parse(t) as { metadata: { name: string } }).metadata.name);
      check(!templates.includes(templateName), `template ${before.template} still exists`);
      const history = await op.history(alice);
      const last = history[history.length - 1];
      check(last?.reason === 'Deleted', `alice's history ends with ${last?.reason}`);
      await waitFor("WatchSandboxes' Deleted event for alice", async () =>
        Promise.resolve(watch!.deleted(alice) ? true : undefined),
      );
      const listed = await gw.list();
      check(!listed.some((s) => s.id === alice), 'ListSandboxes still shows alice');
      const b = listed.find((s) => s.id === bob);
      check(b !== undefined, 'ListSandboxes lost bob');
      check((await op.get(bob)).state === 'RUNNING', 'bob is not RUNNING');
      return [
        `DeleteSandbox → deleted=true in ${seconds(took)}; the gateway's watch got Deleted`,
        `actor ${before.atespace}/${alice} and template ${before.template} are gone; ` +
          `history ends with "${last.reason}: ${last.message}" (${history.length} events)`,
        `bob remains, RUNNING`,
      ];
    },
  ];

  print(`ateflow helpdesk demo: alice and bob, two sandboxes in workspace "${WORKSPACE}"`);
  try {
    const cleaned = await cleanUpEarlierRun(gw);
    if (cleaned > 0) print(`(deleted ${cleaned} sandbox(es) left by an earlier demo run)`);
    watch = new GatewayWatch(facade);
    for (let i = 0; i < story.length; i++) {
      const title = DEMO_STEPS[i];
      const t0 = Date.now();
      try {
        if (watch.failed) throw new StepFailed(`the WatchSandboxes stream failed: ${watch.failed.details}`);
        const lines = await story[i]();
        const ms = Date.now() - t0;
        steps.push({ step: i + 1, title, ok: true, ms });
        print(`\n✔ ${i + 1}. ${title}  (${seconds(ms)})`);
        for (const line of lines) print(`     ${line}`);
      } catch (err) {
        const ms = Date.now() - t0;
        const message = err instanceof Error ? ((err as ServiceError).details ?? err.message) : String(err);
        steps.push({ step: i + 1, title, ok: false, ms, error: message });
        print(`\n✘ ${i + 1}. ${title}  (${seconds(ms)})`);
        print(`     FAILED: ${message}`);
        for (let j = i + 1; j < story.length; j++) print(`- ${j + 1}. ${DEMO_STEPS[j]}  (skipped)`);
        break;
      }
    }
  } finally {
    watch?.close();
    facade.close();
    admin.close();
  }
  const ok = steps.length === story.length && steps.every((s) => s.ok);
  print(`\n${ok ? 'All 9 steps passed' : 'The demo FAILED'} in ${seconds(Date.now() - started)}.`);
  print('Open the sandboxes in the Temporal Web UI:');
  print(`  alice  ${links.alice}`);
  print(`  bob    ${links.bob}`);
  return { ok, steps, alice, bob, links };
}

/** Deletes alice and bob left by an earlier run (the original demo's pre-run cleanup). */
async function cleanUpEarlierRun(gw: {
  list(): Promise<DriverSandbox[]>;
  delete(id: string): Promise<boolean>;
}): Promise<number> {
  const leftovers = (await gw.list()).filter(
    (s) => s.workspace === WORKSPACE && (s.name === 'alice' || s.name === 'bob'),
  );
  await Promise.all(leftovers.map((s) => gw.delete(s.id)));
  return leftovers.length;
}

/** A DriverSandbox as the gateway sends it on CreateSandbox. */
function gatewaySandbox(
  id: string,
  name: string,
  options: {
    driverConfig: Record<string, unknown>;
    platformConfig?: Record<string, unknown>;
    token?: string;
  },
): DriverSandbox {
  return DriverSandbox.fromPartial({
    id,
    name,
    workspace: WORKSPACE,
    namespace: '',
    spec: {
      logLevel: 'info',
      command: ['python3', '/opt/helpdesk/agent.py'],
      tty: false,
      sandboxToken: options.token ?? '',
      environment: { HELPDESK_MODEL: 'gpt-oss:20b-cloud' },
      template: {
        image: DEMO_IMAGE,
        labels: { app: 'helpdesk', user: name },
        environment: {},
        driverConfig: options.driverConfig,
        platformConfig: options.platformConfig ?? {},
      },
    },
  });
}
