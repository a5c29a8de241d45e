// `ateflow dev`: the whole stack on this machine, in one process tree, on loopback:
//   - the Temporal dev server (child process; SQLite under the data dir; Web UI; our search
//     attributes registered),
//   - in-process: the Substrate simulator (state saved under the data dir), a worker, and the
//     driver facade (ComputeDriver + ateflow.v1 Operations on a Unix socket and on TCP),
//   - when the OpenShell binaries are there (scripts/openshell.sh): a real OpenShell gateway wired
//     to the facade (child process; state under <data dir>/gateway), and the simulator runs every
//     sandbox's supervisor as a real process that connects to it, so the `openshell` CLI works.
// Ctrl-C stops everything; the next start finds its sandboxes again.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { Runtime, type WorkerOptions } from '@temporalio/worker';
import { Connection } from '@temporalio/client';
import { Command } from 'commander';
import { loadConfig, type Config } from '../config';
import { EXIT, type Outcome } from './exit';
import { DEV_GATEWAY_PORT, DEV_SANDBOX_IMAGE, devCluster } from '../demo/cluster';
import { startDriverFromConfig } from '../driver/main';
import { loadDriverSettings } from '../driver/settings';
import { logger, temporalLogger } from '../logger';
import { locateOpenShell, type OpenShellBinaries } from '../openshell/binaries';
import { startGateway, type RunningGateway } from '../openshell/gateway';
import { loadClusterFile, startSimulator, type Simulator } from '../sim';
import { startKubeBackedSimulator } from '../sim/kube';
import { temporalCliPath } from '../temporal/binaries';
import { SANDBOX_WORKFLOW_TYPE } from '../temporal/published-view';
import { addSearchAttributes } from '../temporal/search-attributes';
import { sandboxSearchAttributes } from '../workflows/search-attributes';
import { createWorker, workerDepsFromConfig } from '../../worker';

/** Ports of `ateflow dev` that have no configuration key of their own. */
export const DEV_DATA_PLANE_PORT = 7102;
export const DEV_DRIVER_TCP_PORT = 7200;

export interface DevStackOptions {
  /** Addresses, ports, data dir, task queue, timeouts (src/config.ts). */
  config: Config;
  /** Simulator latency scale: 1 realistic, 0 instant. */
  latencyScale?: number;
  /** A cluster YAML instead of the built-in dev cluster (src/demo/cluster.ts). */
  clusterFile?: string;
  /**
   * A kubeconfig: ActorTemplates, WorkerPools and Secrets come from that Kubernetes API server
   * (our CRDs from deploy/crds installed), and synthesized templates are applied there.
   */
  kubeconfig?: string;
  /** Default 7102. */
  dataPlanePort?: number;
  /** Facade TCP port; default ATEFLOW_DRIVER_TCP_PORT, or 7200 when that is 0. */
  driverTcpPort?: number;
  /** The OpenShell gateway's port (default 7300); sandboxes get it as OPENSHELL_ENDPOINT. */
  gatewayPort?: number;
  /** Start a real OpenShell gateway: default when its binaries are found; false never. */
  gateway?: boolean;
  /** Pre-bundled workflow code (tests bundle once per process). */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Progress lines while starting and stopping; default console.log. */
  log?: (line: string) => void;
}

export interface DevStack {
  dataDir: string;
  temporalAddress: string;
  namespace: string;
  webUiUrl: string;
  driverSocket: string;
  driverTcp: string;
  sim: Simulator;
  /** The real OpenShell gateway, when one runs (else why not). */
  gateway: RunningGateway | { missing: string };
  taskQueue: string;
  /** Sandbox workflows that were already there at start (found again after a restart). */
  sandboxesFound: number;
  /** Resolves when the worker stops (Ctrl-C, or a fatal error). */
  stopped: Promise<void>;
  /** Stops everything, the Temporal child included; idempotent. */
  stop(): Promise<void>;
}

/** An error whose message is the whole story: the CLI prints it as one line, no stack. */
export class DevStartError extends Error {
  override name = 'DevStartError';
  /** The exit code's outcome (src/cli/exit.ts): most start failures are something unavailable. */
  constructor(
    message: string,
    readonly outcome: Outcome = 'unavailable',
  ) {
    super(message);
  }
}

function hostPort(address: string, key: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  const port = Number(address.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new DevStartError(`${key}=${address} is not host:port`, 'usage');
  return { host: address.slice(0, at), port };
}

/** True when something already holds host:port (we cannot bind it). */
function portTaken(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once('error', () => done(true));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => done(false)));
  });
}

function portAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host, port });
    socket.once('connect', () => (socket.destroy(), done(true)));
    socket.once('error', () => done(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The Temporal dev server an earlier, killed `ateflow dev` may have left running. */
function leftoverTemporal(dataDir: string): number | undefined {
  const file = join(dataDir, 'temporal.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : undefined;
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((done) => {
    const probe = createConnection({ path });
    probe.once('connect', () => (probe.destroy(), done(true)));
    probe.once('error', () => done(false));
  });
}

/**
 * A killed `ateflow dev` leaves its Temporal child running (it has its own process group). When
 * that child is ours (its command line names this data dir's database) and no ateflow dev serves
 * the socket, stop it.
 */
async function stopLeftoverTemporal(dataDir: string, socketPath: string, log: (line: string) => void) {
  const pid = leftoverTemporal(dataDir);
  if (pid === undefined) return;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return; // cannot tell whose it is: the port check will name the pid
  }
  if (!cmdline.includes(join(dataDir, 'temporal.db')) || (await socketAnswers(socketPath))) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(100);
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  log(
    `ateflow dev: stopped the Temporal dev server (pid ${pid}) that an earlier, killed ateflow dev left running`,
  );
}

async function preflight(
  dataDir: string,
  ports: { what: string; key: string; host: string; port: number }[],
  socketPath: string,
): Promise<void> {
  const seen = new Map<number, string>();
  for (const p of ports) {
    const other = seen.get(p.port);
    if (other) throw new DevStartError(`${p.what} and ${other} are both set to port ${p.port}`);
    seen.set(p.port, p.what);
  }
  const leftover = leftoverTemporal(dataDir);
  for (const p of ports) {
    if (await portTaken(p.host, p.port)) {
      const hint =
        leftover !== undefined && p.what.startsWith('Temporal')
          ? ` (by a Temporal dev server that ateflow dev started, pid ${leftover}: if no ateflow dev is running, kill it)`
          : '';
      throw new DevStartError(
        `${p.what} port ${p.host}:${p.port} is already in use${hint}: stop whatever listens there ` +
          `(another ateflow dev?), or choose another port with ${p.key}`,
      );
    }
  }
  let socket;
  try {
    socket = lstatSync(socketPath);
  } catch {
    return;
  }
  if (!socket.isSocket())
    throw new DevStartError(
      `${socketPath} exists and is not a socket; move it away or set ATEFLOW_DRIVER_SOCKET`,
    );
  if (await socketAnswers(socketPath))
    throw new DevStartError(
      `another process is serving the compute driver socket ${socketPath} (another ateflow dev or ` +
        'npm run driver?): stop it, or set ATEFLOW_DRIVER_SOCKET / ATEFLOW_DATA_DIR',
    );
  // A socket nobody serves is what a killed run leaves behind: the facade replaces it.
}

function searchAttributeTypeName(type: string): string {
  // The CLI spells types as Keyword, Datetime, KeywordList, …
  return type.toLowerCase().replace(/(^|_)(\w)/g, (_m, _sep: string, c: string) => c.toUpperCase());
}

/**
 * The SDK's logs through ateflow's logger (one line per activity retry, stacks at debug); the
 * dev console shows warnings and errors only (runDev sets the level).
 */
function quietTemporalSdk(): void {
  try {
    Runtime.install({ logger: temporalLogger() });
  } catch {
    // Already installed (tests install their own): keep it.
  }
}

function spawnTemporal(config: Config, dataDir: string, host: string, port: number): ChildProcess {
  const logFile = join(dataDir, 'temporal.log');
  const child = spawn(
    temporalCliPath(),
    [
      'server',
      'start-dev',
      '--ip',
      host,
      '--port',
      String(port),
      '--ui-port',
      String(config.ATEFLOW_UI_PORT),
      '--ui-disable-news-fetch',
      '--namespace',
      config.ATEFLOW_TEMPORAL_NAMESPACE,
      '--db-filename',
      join(dataDir, 'temporal.db'),
      '--log-level',
      'error',
      '--dynamic-config-value',
      'frontend.enableExecuteMultiOperation=true',
      ...sandboxSearchAttributes.flatMap((key) => [
        '--search-attribute',
        `${key.name}=${searchAttributeTypeName(key.type)}`,
      ]),
    ],
    // Its own process group: Ctrl-C reaches us only, and we stop it after the worker.
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  if (child.pid) writeFileSync(join(dataDir, 'temporal.pid'), `${child.pid}\n`);
  return child;
}

function lastLines(file: string, count: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-count).join('\n');
  } catch {
    return '';
  }
}

async function waitForTemporal(child: ChildProcess, host: string, port: number, logFile: string) {
  const deadline = Date.now() + 60_000;
  while (!(await portAnswers(host, port))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = lastLines(logFile, 5);
      throw new DevStartError(
        `the Temporal dev server exited (${child.exitCode ?? child.signalCode}) before listening on ` +
          `${host}:${port}${tail ? `; last lines of ${logFile}:\n${tail}` : ''}`,
      );
    }
    if (Date.now() > deadline)
      throw new DevStartError(`the Temporal dev server did not listen on ${host}:${port} within 60 s`);
    await sleep(100);
  }
  // Listening is not serving: right after the port opens the frontend still answers "Frontend is
  // not healthy yet". Wait until a real call succeeds.
  for (;;) {
    try {
      const connection = await Connection.connect({ address: `${host}:${port}`, connectTimeout: 2_000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) {
        throw new DevStartError(
          `the Temporal dev server on ${host}:${port} did not become healthy within 60 s: ${(err as Error).message}`,
        );
      }
      await sleep(200);
    }
  }
}

/**
 * The CLI's --search-attribute registers keys only in a fresh database; a database from an
 * older ateflow lacks the newer keys, so add whatever is missing.
 */
async function registerSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = sandboxSearchAttributes.filter((key) => !(key.name in (customAttributes ?? {})));
  await addSearchAttributes(connection, namespace, missing);
}

async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Starts the whole local stack; `stop()` takes it down again. */
export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  const { config } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const dataDir = resolve(config.ATEFLOW_DATA_DIR);
  const temporal = hostPort(config.ATEFLOW_TEMPORAL_ADDRESS, 'ATEFLOW_TEMPORAL_ADDRESS');
  const ateapi = hostPort(config.ATEFLOW_ATEAPI_ENDPOINT, 'ATEFLOW_ATEAPI_ENDPOINT');
  const admin = hostPort(config.ATEFLOW_SIM_ADMIN, 'ATEFLOW_SIM_ADMIN');
  const dataPlanePort = options.dataPlanePort ?? DEV_DATA_PLANE_PORT;
  const driverTcpPort = options.driverTcpPort ?? (config.ATEFLOW_DRIVER_TCP_PORT || DEV_DRIVER_TCP_PORT);
  const gatewayPort = options.gatewayPort ?? DEV_GATEWAY_PORT;
  const settings = {
    ...loadDriverSettings(config),
    tcpPort: driverTcpPort,
    defaultImage: config.ATEFLOW_DEFAULT_IMAGE ?? DEV_SANDBOX_IMAGE,
    gatewayEndpoint: config.ATEFLOW_GATEWAY_ENDPOINT || `http://127.0.0.1:${gatewayPort}`,
  };
  const driverSocket = resolve(settings.socketPath);
  temporalCliPath(); // a missing binary is reported before anything starts
  const openShell: OpenShellBinaries | { skip: string } =
    options.gateway === false ? { skip: 'not asked for' } : locateOpenShell();
  if ('skip' in openShell && options.gateway === true) throw new DevStartError(openShell.skip);
  const withGateway = !('skip' in openShell);

  mkdirSync(dataDir, { recursive: true });
  await stopLeftoverTemporal(dataDir, driverSocket, log);
  await preflight(
    dataDir,
    [
      { what: 'Temporal frontend', key: 'ATEFLOW_TEMPORAL_ADDRESS', ...temporal },
      { what: 'Temporal Web UI', key: 'ATEFLOW_UI_PORT', host: temporal.host, port: config.ATEFLOW_UI_PORT },
      { what: 'simulator ateapi', key: 'ATEFLOW_ATEAPI_ENDPOINT', ...ateapi },
      { what: 'simulator admin', key: 'ATEFLOW_SIM_ADMIN', ...admin },
      { what: 'simulator data plane', key: '--data-plane-port', host: ateapi.host, port: dataPlanePort },
      { what: 'compute driver TCP', key: 'ATEFLOW_DRIVER_TCP_PORT', host: '127.0.0.1', port: driverTcpPort },
      ...(withGateway
        ? [{ what: 'OpenShell gateway', key: '--gateway-port', host: '127.0.0.1', port: gatewayPort }]
        : []),
    ],
    driverSocket,
  );
  quietTemporalSdk();

  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        log(`ateflow dev: while stopping: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  };
  try {
    const listen = {
      latencyScale: options.latencyScale ?? 1,
      host: ateapi.host,
      port: ateapi.port,
      adminPort: admin.port,
      dataPlanePort,
    };
    const sim = options.kubeconfig
      ? await startKubeBackedSimulator({ ...listen, kubeconfig: options.kubeconfig })
      : await startSimulator({
          ...listen,
          cluster: options.clusterFile ? loadClusterFile(options.clusterFile) : devCluster(),
          persistence: { file: join(dataDir, 'simulator-state.json') },
          // Sandboxes' supervisors as real processes, so that they connect to the real gateway.
          processActors: withGateway,
          processLogDir: join(dataDir, 'actors'),
        });
    cleanups.push(() => sim.stop());

    const child = spawnTemporal(config, dataDir, temporal.host, temporal.port);
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    cleanups.push(async () => {
      await stopChild(child);
      process.removeListener('exit', killOnExit);
      rmSync(join(dataDir, 'temporal.pid'), { force: true });
    });
    await waitForTemporal(child, temporal.host, temporal.port, join(dataDir, 'temporal.log'));

    const deps = await workerDepsFromConfig({
      ...config,
      ATEFLOW_DATA_DIR: dataDir,
      ATEFLOW_ATEAPI_ENDPOINT: sim.address,
      ATEFLOW_SIM_ADMIN: sim.adminAddress,
      ATEFLOW_KUBECONFIG: options.kubeconfig ?? config.ATEFLOW_KUBECONFIG,
      // The simulator runs "images" on this machine: the supervisor is the unpacked binary.
      ...(withGateway && !process.env.ATEFLOW_SUPERVISOR_PATH
        ? { ATEFLOW_SUPERVISOR_PATH: openShell.supervisor }
        : {}),
    });
    cleanups.push(async () => {
      deps.ateapi.close();
      (deps.templates as { close?: () => void }).close?.();
      await deps.client.connection.close();
      await deps.connection.close();
    });
    await registerSearchAttributes(deps.client.connection as Connection, config.ATEFLOW_TEMPORAL_NAMESPACE);
    if (options.workflowBundle) deps.workflowBundle = options.workflowBundle;
    const worker = await createWorker(deps);
    const running = worker.run();
    cleanups.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
    });

    const facade = await startDriverFromConfig({ ...config, ATEFLOW_DATA_DIR: dataDir }, settings);
    cleanups.push(() => facade.close());

    let gateway: DevStack['gateway'] = { missing: 'skip' in openShell ? openShell.skip : '' };
    if (withGateway) {
      const running = await startGateway({
        stateDir: join(dataDir, 'gateway'),
        driverSocket: facade.socketPath,
        port: gatewayPort,
        binary: openShell.gateway,
      });
      cleanups.push(() => running.stop()); // before the facade: the gateway is its client
      gateway = running;
    }

    const sandboxesFound = await deps.client.workflow
      .count(`WorkflowType = '${SANDBOX_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`)
      .then((c) => c.count)
      .catch(() => 0);

    let stopping: Promise<void> | undefined;
    return {
      dataDir,
      temporalAddress: `${temporal.host}:${temporal.port}`,
      namespace: config.ATEFLOW_TEMPORAL_NAMESPACE,
      webUiUrl: `http://${temporal.host}:${config.ATEFLOW_UI_PORT}`,
      driverSocket: facade.socketPath,
      driverTcp: facade.tcpAddress ?? '',
      sim,
      gateway,
      taskQueue: config.ATEFLOW_TASK_QUEUE,
      sandboxesFound,
      stopped: running,
      stop: () => (stopping ??= cleanup()),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** The start-up banner: where each part listens. */
export function describeDevStack(stack: DevStack, latencyScale: number): string {
  const restored = stack.sim.restored;
  const ui = `${stack.webUiUrl}/namespaces/${encodeURIComponent(stack.namespace)}/workflows`;
  const lines = [
    `ateflow dev is up (state in ${stack.dataDir})`,
    `  Temporal frontend     ${stack.temporalAddress}  (namespace ${stack.namespace})`,
    `  Temporal Web UI       ${ui}`,
    `  compute driver        unix:${stack.driverSocket}`,
    `                        ${stack.driverTcp}  (ComputeDriver + ateflow.v1 Operations)`,
    `  simulator ateapi      ${stack.sim.address}  (latency ×${latencyScale})`,
    `  simulator admin       ${stack.sim.adminAddress}  (npm run ateflow -- sim workers)`,
    `  simulator data plane  ${stack.sim.dataPlaneUrl}/actors/<atespace>/<actor>/…`,
    `  worker                task queue ${stack.taskQueue}`,
  ];
  if (restored) {
    lines.push(
      `Found again: ${stack.sandboxesFound} sandbox${stack.sandboxesFound === 1 ? '' : 'es'}; ` +
        `simulator state reloaded (${restored.actors} actors, ${restored.reset} of them reset to ` +
        `SUSPENDED because their worker pods are new; ${restored.templates} templates).`,
    );
  }
  if ('endpoint' in stack.gateway) {
    const bins = locateOpenShell();
    const path = 'dir' in bins ? ` PATH=${bins.dir}:$PATH` : '';
    lines.push(
      `  OpenShell gateway     ${stack.gateway.endpoint}  (log ${stack.gateway.logFile})`,
      'Use the openshell CLI (in another terminal):',
      `  export OPENSHELL_GATEWAY_ENDPOINT=${stack.gateway.endpoint}${path}`,
      '  openshell sandbox create --name hello -- sleep infinity',
      '  openshell sandbox exec -n hello -- uname -a',
    );
  } else {
    lines.push(`  OpenShell gateway     not started: ${stack.gateway.missing}`);
  }
  lines.push('Try it: npm run ateflow -- demo   (in another terminal)', 'Press Ctrl-C to stop.');
  return lines.join('\n');
}

export interface DevFlags {
  latencyScale: number;
  cluster?: string;
  kube?: string;
  dataPlanePort?: number;
  driverTcpPort?: number;
  gatewayPort?: number;
  gateway?: boolean;
}

/** `ateflow dev`: runs until Ctrl-C. */
export async function runDev(config: Config, flags: DevFlags): Promise<void> {
  if (process.env.ATEFLOW_LOG_LEVEL === undefined) logger.level = 'warn';
  const stack = await startDevStack({
    config,
    latencyScale: flags.latencyScale,
    clusterFile: flags.cluster,
    kubeconfig: flags.kube,
    dataPlanePort: flags.dataPlanePort,
    driverTcpPort: flags.driverTcpPort,
    gatewayPort: flags.gatewayPort,
    gateway: flags.gateway,
  }).catch((err: unknown) => {
    if (err instanceof DevStartError) {
      console.error(`ateflow dev: ${err.message}`);
      process.exit(EXIT[err.outcome]);
    }
    throw err;
  });
  console.log(describeDevStack(stack, flags.latencyScale));

  let firstSignalAt = 0;
  const onSignal = () => {
    // A terminal's Ctrl-C may arrive twice (directly and relayed by tsx/npm): only a second
    // press a moment later forces the exit.
    if (firstSignalAt === 0) {
      firstSignalAt = Date.now();
      console.log('\nstopping ateflow dev (Ctrl-C again to force)…');
      void stack.stop().then(() => {
        console.log('stopped; state kept for the next start.');
        process.exit(0);
      });
    } else if (Date.now() - firstSignalAt > 1_000) {
      console.log('forced exit');
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await stack.stopped.catch(async (err: unknown) => {
    console.error(`ateflow dev: the worker stopped: ${err instanceof Error ? err.message : String(err)}`);
    await stack.stop();
    process.exit(1);
  });
}

const parsePort = (text: string) => {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${text} is not a port`);
  return port;
};

export function devCommand(): Command {
  return new Command('dev')
    .description(
      'run ateflow locally in one process tree: Temporal dev server with the Web UI, the Substrate ' +
        'simulator, a worker and the compute driver facade (prints every address; Ctrl-C stops)',
    )
    .option('--latency-scale <factor>', 'simulator latencies: 1 realistic, 0 instant', '1')
    .option('--cluster <file>', 'simulated cluster YAML (default: pools standard and highmem, demo template)')
    .option(
      '--kube <kubeconfig>',
      'take ActorTemplates, WorkerPools and Secrets from this Kubernetes API server (CRDs in deploy/crds)',
    )
    .option('--data-plane-port <port>', 'simulator data plane port', String(DEV_DATA_PLANE_PORT))
    .option(
      '--driver-tcp-port <port>',
      `facade TCP port (default $ATEFLOW_DRIVER_TCP_PORT, else ${DEV_DRIVER_TCP_PORT})`,
    )
    .option('--gateway-port <port>', 'OpenShell gateway port', String(DEV_GATEWAY_PORT))
    .option('--no-gateway', 'do not start the OpenShell gateway even when its binaries are there')
    .action(
      async (flags: {
        latencyScale: string;
        cluster?: string;
        kube?: string;
        dataPlanePort: string;
        driverTcpPort?: string;
        gatewayPort: string;
        gateway: boolean;
      }) => {
        if (flags.cluster && flags.kube) throw new Error('use either --cluster or --kube, not both');
        const latencyScale = Number(flags.latencyScale);
        if (!(latencyScale >= 0))
          throw new Error(`--latency-scale ${flags.latencyScale} is not a number >= 0`);
        await runDev(loadConfig(), {
          latencyScale,
          cluster: flags.cluster,
          kube: flags.kube,
          dataPlanePort: parsePort(flags.dataPlanePort),
          driverTcpPort: flags.driverTcpPort === undefined ? undefined : parsePort(flags.driverTcpPort),
          gatewayPort: parsePort(flags.gatewayPort),
          // --no-gateway: never; otherwise whenever the binaries are found.
          gateway: flags.gateway ? undefined : false,
        });
      },
    );
}
