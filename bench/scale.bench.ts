// Scale: ateflow with 1,000 and 10,000 live sandboxes (BENCH_SCALE_SIZES), each figure next to a
// bare Temporal workflow doing the same in engine terms on the same server in the same run.
// Worker, facade and bare worker run as separate processes (RSS, heap, CPU per process); the
// zero-latency simulator runs in this one. Temporal: a dev server started here, or the cluster
// at BENCH_TEMPORAL_ADDRESS (scripts/temporal-cluster.sh). Prints figures; asserts nothing.
//
// Per size: creates/s (accepted by the facade), create → RUNNING p50/p99 (as the gateway's watch
// sees it), the gateway's sweep (ListSandboxes + GetSandbox for every sandbox, one after another
// as the gateway's reconcile loop does, from a compiled client: bench/scale/sweeper.ts; wall time,
// GetSandbox p50/p99, the facade's CPU during the sweep and over the whole minute it starts), the
// watch delay p99 of the few sandboxes in transition meanwhile, and RSS/heap per process. First,
// the same sweep against a grpc-js server answering from memory: the floor for any grpc-js facade.
// The mix: every sandbox has a 45 s idle timeout, so by the sweep most have suspended themselves
// (the bare workflows run their suspend's activities after as long); a few are started again to
// be running, and a few are stopped and started during the sweep.
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { connectFacade, type FacadeClient } from '../src/driver/client';
import { DriverSandbox, type WatchSandboxesEvent } from '../src/gen/compute_driver';
import { defaultCluster, startSimulator } from '../src/sim';
import { conditionsOf, gateway } from '../test/helpers/stack';
import { startDevServer } from '../test/helpers/temporal';
import { bareCreate, bareFinish, type BareSandboxInput } from './scale/bare-workflows';
import { buildSweeper, grpcJsFloor, sweep } from './scale/sweeper';
import type { ProcessStats } from './scale/process';
import { figure } from './figures';

const SIZES = (process.env.BENCH_SCALE_SIZES ?? '1000,10000').split(',').map(Number);
const CONCURRENCY = 32;
const IDLE_TIMEOUT_MS = 45_000;
const IDLE_TIMEOUT = `${IDLE_TIMEOUT_MS / 1000}s`;
const TRANSITIONING = 10;
const TASK_QUEUE = 'bench-scale';

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const fmtMs = (value: number) => `${value.toFixed(value < 10 ? 2 : 0)} ms`;
const percentOfMinute = (cpuMs: number) => `${((cpuMs / 60_000) * 100).toFixed(2)}%`;
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const READY = (s: DriverSandbox | undefined) => conditionsOf(s).includes('Ready=True/ActorRunning');
const STOPPED = (s: DriverSandbox | undefined) => conditionsOf(s).some((c) => c.startsWith('Suspended=True'));

function sandboxOf(id: string, idleTimeout = IDLE_TIMEOUT): DriverSandbox {
  return DriverSandbox.fromPartial({
    id,
    name: `scale-${id.slice(0, 8)}`,
    workspace: 'bench',
    spec: {
      command: ['/bin/bash', '-l'],
      template: {
        platformConfig: { substrate_actor_template: 'sandbox' },
        driverConfig: { idle_timeout: idleTimeout },
      },
    },
  });
}

/** A child process of the bench with its stats channel. */
class BenchProcess {
  private constructor(
    readonly role: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(role: string, env: NodeJS.ProcessEnv, logFile: string): Promise<BenchProcess> {
    const log = openSync(logFile, 'a');
    const child = fork(join(__dirname, 'scale', 'process.ts'), [role], {
      env,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', log, log, 'ipc'],
    });
    await new Promise<void>((ready, failed) => {
      child.once('message', () => ready());
      child.once('exit', (code) => failed(new Error(`${role} exited (${code}) at start; see ${logFile}`)));
    });
    return new BenchProcess(role, child);
  }

  stats(): Promise<ProcessStats> {
    return new Promise((answer) => {
      this.child.once('message', (message: { stats: ProcessStats }) => answer(message.stats));
      this.child.send('stats');
    });
  }

  async stop(): Promise<void> {
    const exited = new Promise((done) => this.child.once('exit', done));
    this.child.send('stop');
    await Promise.race([exited, sleep(15_000)]);
    this.child.kill('SIGKILL');
  }
}

/** Records, per sandbox, when the watch first showed it Ready and each snapshot's arrival. */
class ReadyTracker {
  readonly readyAt = new Map<string, number>();
  readonly stoppedAt = new Map<string, number>();
  private readonly stream;
  constructor(client: FacadeClient) {
    this.stream = client.driver.watchSandboxes({});
    this.stream.on('data', (event: WatchSandboxesEvent) => {
      const sandbox = event.sandbox?.sandbox;
      if (!sandbox) return;
      const now = performance.now();
      if (READY(sandbox)) {
        if (!this.readyAt.has(sandbox.id)) this.readyAt.set(sandbox.id, now);
      } else if (STOPPED(sandbox)) this.stoppedAt.set(sandbox.id, now);
    });
    this.stream.on('error', () => undefined);
  }
  close(): void {
    this.stream.cancel();
  }
}

async function inParallel<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

interface Figures {
  createsPerS: number;
  toRunningP50: number;
  toRunningP99: number;
  sweepWallMs: number;
  sweepCpuMs: number;
  minuteCpuMs: number;
  /** Stop and start calls the churn made through the facade from the sweep's start to the minute's end. */
  minuteChurnCalls?: number;
  getP50: number;
  getP99: number;
  watchP99: number;
  workerRss: number;
  workerHeap: number;
  facadeRss?: number;
  facadeHeap?: number;
  mix?: string;
  lost?: number;
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ateflow-scale-'));
  // Kept after the run (the temporary directory is not): where nondeterminism or SDK errors would show.
  const logFile = resolve(__dirname, '..', '.data', 'bench', 'scale-processes.log');
  mkdirSync(dirname(logFile), { recursive: true });
  rmSync(logFile, { force: true });
  await buildSweeper();
  for (const size of SIZES) {
    const floor = await grpcJsFloor(size, dir);
    figure(
      `grpc-js floor, ${size.toLocaleString('en-US')} sandboxes answered from memory: sweep ${fmtMs(floor.wallMs)}, ` +
        `GetSandbox p50/p99 ${fmtMs(floor.getP50Ms)}/${fmtMs(floor.getP99Ms)}, server CPU ${fmtMs(floor.serverCpuMs)}`,
    );
  }
  let env: TestWorkflowEnvironment | undefined;
  const external = process.env.BENCH_TEMPORAL_ADDRESS;
  const address = external ?? (env = await startDevServer()).address;
  const cluster = defaultCluster();
  cluster.pools[0].spec.replicas = Math.max(...SIZES) + 64;
  const sim = await startSimulator({ latencyScale: 0, cluster });
  const processEnv = {
    ...process.env,
    ATEFLOW_TEMPORAL_ADDRESS: address,
    ATEFLOW_TASK_QUEUE: TASK_QUEUE,
    ATEFLOW_ATEAPI_ENDPOINT: sim.address,
    ATEFLOW_SIM_ADMIN: sim.adminAddress,
    ATEFLOW_DATA_DIR: dir,
    ATEFLOW_DRIVER_SOCKET: join(dir, 'driver.sock'),
    ATEFLOW_GATEWAY_API: 'off',
    ATEFLOW_GATEWAY_ENDPOINT: 'http://127.0.0.1:9',
    ATEFLOW_LOG_LEVEL: 'warn',
    ATEFLOW_DRIVER_CALL_TIMEOUT: '600s',
    ATEFLOW_DRIVER_READ_TIMEOUT: '60s',
  };
  const worker = await BenchProcess.start('worker', processEnv, logFile);
  const facade = await BenchProcess.start('facade', processEnv, logFile);
  const bareWorker = await BenchProcess.start('bare', processEnv, logFile);
  const client = connectFacade(processEnv.ATEFLOW_DRIVER_SOCKET);
  const connection = await Connection.connect({ address });
  const temporal = new Client({ connection });
  const gw = gateway(client, 600_000);
  const tracker = new ReadyTracker(client);
  const sandboxIds: string[] = [];
  const bareIds: string[] = [];
  figure(
    `Temporal ${external ? `cluster at ${external}` : 'dev server (in-memory SQLite)'}; simulator latency 0; ` +
      `one worker, one facade; ${CONCURRENCY} concurrent creates; idle timeout ${IDLE_TIMEOUT}; logs: ${logFile}`,
  );
  try {
    const activities = await activitiesOf(gw, temporal, tracker);
    figure(
      `a sandbox runs ${activities.createActivities} activities to create and ${activities.suspendActivities} to ` +
        `suspend when idle; the bare workflow runs as many, the latter after the same idle timeout`,
    );
    for (const size of SIZES) {
      const ours = await sandboxesTo(
        size,
        sandboxIds,
        gw,
        tracker,
        facade,
        worker,
        processEnv.ATEFLOW_DRIVER_SOCKET,
      );
      const bare = await bareTo(size, bareIds, temporal, activities, bareWorker, address);
      printRow(size, ours, bare);
    }
  } finally {
    tracker.close();
    client.close();
    await Promise.all(
      bareIds.map((id) =>
        temporal.workflow
          .getHandle(id)
          .signal(bareFinish)
          .catch(() => undefined),
      ),
    );
    await connection.close();
    await Promise.all([worker.stop(), facade.stop(), bareWorker.stop()]);
    await sim.stop();
    await env?.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Activities a sandbox runs to create (until RUNNING) and to suspend when idle, counted in a real history. */
async function activitiesOf(
  gw: ReturnType<typeof gateway>,
  temporal: Client,
  tracker: ReadyTracker,
): Promise<Omit<BareSandboxInput, 'idleTimeoutMs'>> {
  const id = randomUUID();
  await gw.create(sandboxOf(id, '1s'));
  while (!tracker.readyAt.has(id)) await sleep(50);
  const handle = temporal.workflow.getHandle(`sandbox/${id}`);
  const count = async () =>
    ((await handle.fetchHistory()).events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).length;
  const createActivities = await count();
  while (!tracker.stoppedAt.has(id)) await sleep(50);
  const suspendActivities = (await count()) - createActivities;
  await gw.delete(id);
  return { createActivities, suspendActivities };
}

async function sandboxesTo(
  size: number,
  ids: string[],
  gw: ReturnType<typeof gateway>,
  tracker: ReadyTracker,
  facade: BenchProcess,
  worker: BenchProcess,
  socket: string,
): Promise<Figures> {
  const batch = Array.from({ length: size - ids.length }, () => randomUUID());
  const calledAt = new Map<string, number>();
  const began = performance.now();
  await inParallel(batch, CONCURRENCY, async (id) => {
    calledAt.set(id, performance.now());
    await gw.create(sandboxOf(id));
  });
  const createsPerS = batch.length / ((performance.now() - began) / 1000);
  ids.push(...batch);
  // Bounded: a Ready the watch never shows is a finding (counted), not a reason to wait forever.
  const readyBy = performance.now() + 300_000;
  while (batch.some((id) => !tracker.readyAt.has(id)) && performance.now() < readyBy) await sleep(200);
  const unseen = batch.filter((id) => !tracker.readyAt.has(id)).length;
  const toRunning = batch
    .filter((id) => tracker.readyAt.has(id))
    .map((id) => tracker.readyAt.get(id)! - calledAt.get(id)!);

  // The mix: let most idle out (within the idle timeout of the last create), make a few run again,
  // and keep a few moving.
  const idledBy = performance.now() + IDLE_TIMEOUT_MS + 15_000;
  while (
    ids.filter((id) => tracker.stoppedAt.has(id)).length < ids.length * 0.9 &&
    performance.now() < idledBy
  )
    await sleep(500);
  await inParallel(ids.slice(0, Math.ceil(size * 0.05)), 8, async (id) => {
    await gw.start(id).catch(() => undefined);
  });
  const moving = ids.slice(-TRANSITIONING);
  const watchDelays: number[] = [];
  let sweeping = true;
  let churnCalls = 0;
  const churn = Promise.all(
    moving.map(async (id) => {
      while (sweeping) {
        // Started first: a stop of a sandbox that has already idled out changes nothing to watch.
        await gw.start(id);
        await sleep(500);
        const returned = await gw.stop(id).then(() => performance.now());
        churnCalls += 2;
        while (sweeping && (tracker.stoppedAt.get(id) ?? 0) < returned) await sleep(5);
        if (sweeping) watchDelays.push(tracker.stoppedAt.get(id)! - returned);
      }
    }),
  );
  await sleep(2_000);
  const cpuBefore = (await facade.stats()).cpuMicros;
  const sweepStart = performance.now();
  const swept = await sweep('driver', socket);
  const sweepCpuMs = ((await facade.stats()).cpuMicros - cpuBefore) / 1000;
  const listed = await gw.list(); // the mix as the sweep saw it, and nothing lost or doubled
  // The gateway sweeps once a minute: the facade's CPU over that whole minute (poller included).
  await sleep(60_000 - (performance.now() - sweepStart));
  const minuteCpuMs = ((await facade.stats()).cpuMicros - cpuBefore) / 1000;
  const minuteChurnCalls = churnCalls;
  sweeping = false;
  await churn;
  const states = new Map<string, number>();
  for (const s of listed) {
    const key = READY(s) ? 'running' : STOPPED(s) ? 'suspended' : 'transitioning';
    states.set(key, (states.get(key) ?? 0) + 1);
  }
  const listedIds = new Set(listed.map((s) => s.id));
  const workerStats = await worker.stats();
  const facadeStats = await facade.stats();
  return {
    createsPerS,
    toRunningP50: percentile(toRunning, 50),
    toRunningP99: percentile(toRunning, 99),
    sweepWallMs: swept.wallMs,
    sweepCpuMs,
    minuteCpuMs,
    minuteChurnCalls,
    getP50: swept.getP50Ms,
    getP99: swept.getP99Ms,
    watchP99: percentile(watchDelays, 99),
    workerRss: workerStats.rss,
    workerHeap: workerStats.heapUsed,
    facadeRss: facadeStats.rss,
    facadeHeap: facadeStats.heapUsed,
    mix: [...states].map(([k, v]) => `${v} ${k}`).join(', ') + `; Ready never seen by the watch: ${unseen}`,
    lost: ids.filter((id) => !listedIds.has(id)).length + (listed.length - listedIds.size),
  };
}

/** The same in engine terms: update-with-start, N activities, then open; list + describe each. */
async function bareTo(
  size: number,
  ids: string[],
  temporal: Client,
  activities: Omit<BareSandboxInput, 'idleTimeoutMs'>,
  bareWorker: BenchProcess,
  address: string,
): Promise<Figures> {
  const { WithStartWorkflowOperation } = await import('@temporalio/client');
  const batch = Array.from({ length: size - ids.length }, () => `bare/${randomUUID()}`);
  const toRunning: number[] = [];
  const began = performance.now();
  let accepted = 0;
  let acceptedAt = 0;
  await inParallel(batch, CONCURRENCY, async (id) => {
    const t = performance.now();
    // Accepted once the start is durable (as CreateSandbox), RUNNING once the update returns.
    const update = await temporal.workflow.startUpdateWithStart(bareCreate, {
      waitForStage: 'ACCEPTED',
      startWorkflowOperation: new WithStartWorkflowOperation('bareSandbox', {
        workflowId: id,
        taskQueue: `${TASK_QUEUE}-bare`,
        args: [{ ...activities, idleTimeoutMs: IDLE_TIMEOUT_MS }],
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
    if (++accepted === batch.length) acceptedAt = performance.now();
    void update.result().then(() => toRunning.push(performance.now() - t));
  });
  const createsPerS = batch.length / ((acceptedAt - began) / 1000);
  ids.push(...batch);
  while (toRunning.length < batch.length) await sleep(200);
  await sleep(IDLE_TIMEOUT_MS); // as for the sandboxes: swept once the last ones have run their suspend
  const swept = await sweep(
    'temporal',
    address,
    'default',
    `WorkflowType = 'bareSandbox' AND ExecutionStatus = 'Running'`,
  );
  const stats = await bareWorker.stats();
  return {
    createsPerS,
    toRunningP50: percentile(toRunning, 50),
    toRunningP99: percentile(toRunning, 99),
    sweepWallMs: swept.wallMs,
    sweepCpuMs: NaN,
    minuteCpuMs: NaN,
    getP50: swept.getP50Ms,
    getP99: swept.getP99Ms,
    watchP99: NaN,
    workerRss: stats.rss,
    workerHeap: stats.heapUsed,
  };
}

function printRow(size: number, ours: Figures, bare: Figures): void {
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  figure(`\n${size.toLocaleString('en-US')} live sandboxes (${ours.mix}; lost or duplicated: ${ours.lost})`);
  const rows: [string, string, string, string][] = [
    [
      'creates/s',
      ours.createsPerS.toFixed(1),
      bare.createsPerS.toFixed(1),
      ratio(ours.createsPerS, bare.createsPerS),
    ],
    [
      'create → RUNNING p50',
      fmtMs(ours.toRunningP50),
      fmtMs(bare.toRunningP50),
      ratio(ours.toRunningP50, bare.toRunningP50),
    ],
    [
      'create → RUNNING p99',
      fmtMs(ours.toRunningP99),
      fmtMs(bare.toRunningP99),
      ratio(ours.toRunningP99, bare.toRunningP99),
    ],
    [
      'sweep wall (list + N× get)',
      fmtMs(ours.sweepWallMs),
      fmtMs(bare.sweepWallMs),
      ratio(ours.sweepWallMs, bare.sweepWallMs),
    ],
    [
      'facade CPU during the sweep',
      `${fmtMs(ours.sweepCpuMs)} (${percentOfMinute(ours.sweepCpuMs)} of a core/min)`,
      '—',
      '',
    ],
    [
      `facade CPU over its minute`,
      `${fmtMs(ours.minuteCpuMs)} (${percentOfMinute(ours.minuteCpuMs)}, ${ours.minuteChurnCalls} stop/start)`,
      '—',
      '',
    ],
    [
      'GetSandbox p50 (bare: describe)',
      fmtMs(ours.getP50),
      fmtMs(bare.getP50),
      ratio(ours.getP50, bare.getP50),
    ],
    [
      'GetSandbox p99 (bare: describe)',
      fmtMs(ours.getP99),
      fmtMs(bare.getP99),
      ratio(ours.getP99, bare.getP99),
    ],
    ['WatchSandboxes delay p99', fmtMs(ours.watchP99), '—', ''],
    [
      'worker RSS / heap',
      `${mb(ours.workerRss)} / ${mb(ours.workerHeap)}`,
      `${mb(bare.workerRss)} / ${mb(bare.workerHeap)}`,
      ratio(ours.workerRss, bare.workerRss),
    ],
    ['facade RSS / heap', `${mb(ours.facadeRss!)} / ${mb(ours.facadeHeap!)}`, '—', ''],
  ];
  figure(`  ${'figure'.padEnd(34)}${'ateflow'.padEnd(30)}${'bare workflow'.padEnd(16)}ratio`);
  for (const [what, a, b, r] of rows) figure(`  ${what.padEnd(34)}${a.padEnd(30)}${b.padEnd(16)}${r}`);
}
