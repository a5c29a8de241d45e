// Runs a real, unmodified `openshell-gateway` wired to an external compute driver's Unix socket
// (ours), for end-to-end tests and local runs: writes its TOML and Ed25519 JWT keys into a state
// directory kept across restarts, starts it in its own process group, waits until its port
// accepts connections, and makes sure it never outlives this process (exit handler + a watchdog
// that kills it when our end of a pipe closes, even if we are SIGKILLed).
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { locateOpenShell, withoutOpenShellVars } from './binaries';

export interface GatewayOptions {
  /** Kept across restarts: JWT keys, TOML, sqlite db, private XDG dirs. */
  stateDir: string;
  /** The compute driver's Unix socket (the gateway dials it; it must appear within 30 s). */
  driverSocket: string;
  driverName?: string;
  /** 0 (default) picks a free port once; restart() keeps it. */
  port?: number;
  host?: string;
  /** Gateway stdout+stderr, appended; default `<stateDir>/gateway.log`. */
  logFile?: string;
  /** Path to `openshell-gateway`; default from locateOpenShell(). */
  binary?: string;
  /** How long to wait for the port; default 60 s (the gateway itself gives the driver 30 s). */
  startTimeoutMs?: number;
}

export interface RunningGateway {
  endpoint: string;
  port: number;
  readonly pid: number;
  logFile: string;
  /** Env for the CLI: the endpoint and private XDG dirs (never the user's ~/.config). */
  cliEnv: Record<string, string>;
  /** The gateway's log so far. */
  log(): string;
  /** SIGTERM, SIGKILL after 5 s; resolves once it exited. */
  stop(): Promise<void>;
  /** stop(), then start again on the same port with the same state. */
  restart(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
});

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const binary = options.binary ?? binaryOrThrow();
  const host = options.host ?? '127.0.0.1';
  const port = options.port || (await freePort(host));
  const dir = options.stateDir;
  const driverName = options.driverName ?? 'ateflow';
  // The gateway's own rule for driver names; it also keeps the TOML table key bare.
  if (!/^[A-Za-z0-9_-]+$/.test(driverName))
    throw new Error(`invalid driver name ${JSON.stringify(driverName)}`);
  const logFile = options.logFile ?? join(dir, 'gateway.log');
  const xdg = (who: string) => ({
    XDG_CONFIG_HOME: ensureDir(join(dir, who, 'config')),
    XDG_STATE_HOME: ensureDir(join(dir, who, 'state')),
    XDG_DATA_HOME: ensureDir(join(dir, who, 'data')),
    XDG_CACHE_HOME: ensureDir(join(dir, who, 'cache')),
  });
  const configPath = writeConfig(dir, driverName, options.driverSocket, `${host}:${port}`);
  const args = ['--config', configPath, '--db-url', `sqlite:${join(dir, 'gateway.db')}?mode=rwc`];
  const env = { ...withoutOpenShellVars(process.env), ...xdg('gateway'), NO_COLOR: '1' };

  let current = await launch(binary, args, env, logFile, host, port, options.startTimeoutMs ?? 60_000);
  const gateway: RunningGateway = {
    endpoint: `http://${host}:${port}`,
    port,
    get pid() {
      return current.child.pid!;
    },
    logFile,
    cliEnv: { OPENSHELL_GATEWAY_ENDPOINT: `http://${host}:${port}`, ...xdg('cli'), NO_COLOR: '1' },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    stop: () => current.stop(),
    async restart() {
      await current.stop();
      current = await launch(binary, args, env, logFile, host, port, options.startTimeoutMs ?? 60_000);
    },
  };
  return gateway;
}

function binaryOrThrow(): string {
  const found = locateOpenShell();
  if ('skip' in found) throw new Error(found.skip);
  return found.gateway;
}

function ensureDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  return path;
}

/** The gateway's TOML (compute-driver reference §5.4); JWT keys are generated once. */
function writeConfig(dir: string, driverName: string, socket: string, bind: string): string {
  const jwt = ensureDir(join(dir, 'jwt'));
  const [signing, pub, kid] = ['signing.pem', 'public.pem', 'kid'].map((f) => join(jwt, f));
  if (!existsSync(signing) || !existsSync(pub) || !existsSync(kid)) {
    const keys = generateKeyPairSync('ed25519', {
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    writeFileSync(signing, keys.privateKey, { mode: 0o600 });
    writeFileSync(pub, keys.publicKey);
    writeFileSync(kid, randomBytes(8).toString('hex'));
  }
  const s = JSON.stringify; // a JSON string is a valid TOML basic string
  const toml = [
    '[openshell]',
    'version = 1',
    '',
    '[openshell.gateway]',
    `bind_address = ${s(bind)}`,
    `compute_drivers = [${s(driverName)}]`,
    'disable_tls = true',
    '',
    '[openshell.gateway.auth]',
    'allow_unauthenticated_users = true',
    '',
    '[openshell.gateway.gateway_jwt]',
    `signing_key_path = ${s(signing)}`,
    `public_key_path = ${s(pub)}`,
    `kid_path = ${s(kid)}`,
    `gateway_id = ${s(`${driverName}-test`)}`,
    'ttl_secs = 0',
    '',
    `[openshell.drivers.${driverName}]`,
    `socket_path = ${s(socket)}`,
    '',
  ].join('\n');
  const path = join(dir, 'gateway.toml');
  writeFileSync(path, toml);
  return path;
}

interface Launched {
  child: ChildProcess;
  stop(): Promise<void>;
}

async function launch(
  binary: string,
  args: string[],
  env: Record<string, string>,
  logFile: string,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<Launched> {
  const fd = openSync(logFile, 'a');
  const child = spawn(binary, args, { env, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  if (child.pid === undefined) {
    const err = await new Promise<Error>((done) => child.once('error', done));
    throw new Error(`cannot run ${binary}: ${err.message}`, { cause: err });
  }
  child.unref(); // a forgotten gateway must not keep the process alive; the exit handler kills it
  live.add(child);
  const watchdog = startWatchdog(child.pid);
  const exited = new Promise<void>((done) =>
    child.once('exit', () => {
      live.delete(child);
      watchdog.kill('SIGKILL');
      done();
    }),
  );
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.ref();
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  child.once('error', () => undefined); // reported through 'exit' / the wait below
  try {
    await waitForPort(host, port, timeoutMs, () =>
      child.exitCode !== null || child.signalCode !== null
        ? `it exited (${child.exitCode ?? child.signalCode}) before listening`
        : undefined,
    );
  } catch (err) {
    await stop();
    const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-20).join('\n');
    throw new Error(`openshell-gateway did not start: ${(err as Error).message}\n${tail}`, { cause: err });
  }
  return { child, stop };
}

/**
 * A detached `sh` that kills the gateway's process group once our end of its stdin closes (we
 * exited, however). Not `kill -- -PGID`: dash's kill takes no `--`.
 */
function startWatchdog(pgid: number): ChildProcess {
  const script = 'read _; kill -TERM -"$1" 2>/dev/null; sleep 5; kill -KILL -"$1" 2>/dev/null';
  const dog = spawn('/bin/sh', ['-c', script, 'openshell-gateway-watchdog', String(pgid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  dog.on('error', () => undefined);
  dog.unref();
  (dog.stdin as unknown as Socket).unref();
  return dog;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((done, fail) => server.once('error', fail).listen(0, host, done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

async function waitForPort(
  host: string,
  port: number,
  timeoutMs: number,
  dead: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = dead();
    if (why) throw new Error(why);
    const ok = await new Promise<boolean>((done) => {
      const socket = connect(port, host);
      socket.once('connect', () => (socket.destroy(), done(true)));
      socket.once('error', () => (socket.destroy(), done(false)));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`${host}:${port} not accepting connections after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
