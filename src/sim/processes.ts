// Process-backed actors (SimulatorOptions.processActors). When an actor runs, the MAIN container
// of its template (containers[0]) runs as a real process on this machine, in its own mount,
// network and pid namespaces (`unshare --mount --net --pid --fork --mount-proc`). Inside the
// mount namespace only: a private tmpfs on /run (so `ip netns add` and friends leave nothing in
// the host's /run), the actor's id at /run/ate/actor-id (bind-mounted, rewritten on every start
// and thaw), and a `sandbox` user and group 10001 bind-mounted over /etc/passwd and /etc/group.
//
// A checkpoint (suspend, pause) FREEZES the process tree — cgroup v1 freezer when writable,
// else SIGSTOP of every process in the tree — and cuts its bridged connections; a restore from
// the same snapshot THAWS it, wherever it lands. The image is ignored: the command runs from the
// host filesystem.
//
// Loopback bridge: the process has only its own loopback, so the TCP port of a loopback
// OPENSHELL_ENDPOINT is bridged. Inside, a small Node forwarder listens on that host:port and
// pipes each connection to a Unix socket in the process's private directory; the simulator
// listens there and pipes to the host's port. The simulator holds the outer connections, so it
// can cut them.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { logger } from '../logger';
import { StatusError } from './errors';

const log = logger.child({ component: 'sim-processes' });

/** The user and group the OpenShell supervisor drops to (`sandbox`, 10001). */
export const SANDBOX_UID = 10001;
const PASSWD_ENTRY = `sandbox:x:${SANDBOX_UID}:${SANDBOX_UID}::/sandbox:/bin/sh`;
const GROUP_ENTRY = `sandbox:x:${SANDBOX_UID}:`;

export const FREEZER_ROOT = '/sys/fs/cgroup/freezer';
/** Every simulator's freezer cgroups live under here, one directory per simulator. */
const CGROUP_PARENT = 'ateflow-sim';

/** What every actor process gets unless its template's env says otherwise. */
const BASE_ENV: Record<string, string> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
};

const READY_TIMEOUT_MS = 15_000;
const SETTLE_TIMEOUT_MS = 5_000;
const POLL_MS = 5;

/**
 * Host side, before the namespaces: join the freezer cgroup (so every descendant is in it),
 * then unshare. `setpriv --pdeathsig` and `--kill-child` take the tree down with the simulator
 * if it dies without stopping.
 */
const WRAPPER_SCRIPT = [
  '[ -z "$1" ] || echo $$ > "$1" || exit 71',
  'u=$2; s=$3; shift 3',
  'set -- "$u" --mount --net --pid --fork --kill-child --mount-proc /bin/sh -c "$s" ateflow-sandbox "$@"',
  'if command -v setpriv >/dev/null 2>&1; then exec setpriv --pdeathsig KILL "$@"; fi',
  'exec "$@"',
].join('\n');

/**
 * Inside the namespaces, as their pid 1: private /run, identity, sandbox user, loopback and
 * the bridge forwarder; then "ready" on fd 3 and exec the main container's command.
 */
const SETUP_SCRIPT = [
  'set -e',
  'd=$1; node=$2; bridge=$3; shift 3',
  'mount --make-rprivate /',
  'ip link set lo up',
  'mount -n -t tmpfs -o mode=0755,nosuid,nodev ateflow-run /run',
  'mkdir -p /run/ate /run/netns /run/mount /run/lock',
  'chmod 1777 /run/lock',
  'ln -s /dev/shm /run/shm',
  ': > /run/ate/actor-id',
  'mount --bind "$d/actor-id" /run/ate/actor-id',
  'mount -o remount,bind,ro /run/ate/actor-id 2>/dev/null || true',
  'mount --bind "$d/passwd" /etc/passwd',
  'mount --bind "$d/group" /etc/group',
  'if [ -n "$bridge" ]; then',
  '  ready=$("$node" "$d/bridge.js" "$bridge" 4>&1 1>&2 3>&- &)',
  '  [ "$ready" = ready ] || { echo "ateflow-sim: the loopback bridge did not start" >&2; exit 72; }',
  'fi',
  'echo ready >&3',
  'exec 3>&-',
  'exec "$@"',
].join('\n');

/**
 * The forwarder inside the network namespace: listens on each bridged loopback address and
 * pipes every connection to that port's Unix socket; writes "ready" to fd 4 and closes it once
 * listening (its stdout is the log). Plain CommonJS, run by the host's node.
 */
const BRIDGE_SCRIPT = `'use strict';
const net = require('net');
const fs = require('fs');
const bridges = JSON.parse(process.argv[2]);
let pending = bridges.reduce((n, b) => n + b.listen.length, 0);
const listening = () => {
  if (--pending === 0) { fs.writeSync(4, 'ready\\n'); fs.closeSync(4); }
};
for (const b of bridges) {
  b.listen.forEach((host, i) => {
    const server = net.createServer({ allowHalfOpen: true }, (inner) => {
      const outer = net.connect({ path: b.socket, allowHalfOpen: true });
      const end = () => { inner.destroy(); outer.destroy(); };
      for (const s of [inner, outer]) { s.on('error', end); s.on('close', end); }
      inner.pipe(outer);
      outer.pipe(inner);
    });
    server.on('error', (err) => {
      process.stderr.write('ateflow-sim bridge ' + host + ' port ' + b.port + ': ' + err.message + '\\n');
      if (i === 0) process.exit(1);
      listening(); // an extra address (::1 for localhost) is optional
    });
    server.listen(b.port, host, listening);
  });
}
`;

export type FreezerMode = 'auto' | 'cgroup' | 'signal';

export interface ProcessRuntimeOptions {
  /** One log file per actor (stdout and stderr); default a temporary directory removed on stop. */
  logDir?: string;
  /** 'auto' (default): the cgroup v1 freezer when writable, else SIGSTOP of the process tree. */
  freezer?: FreezerMode;
  /** The unshare binary; default `unshare` from PATH. */
  unshare?: string;
}

/** What to run for one actor. */
export interface LaunchSpec {
  atespace: string;
  actorId: string;
  /** The main container's command. */
  argv: string[];
  /** The main container's env, secrets resolved. */
  env: Record<string, string>;
  /** Where it runs, for messages and the log: node and pod. */
  node: string;
  pod: string;
  /** How this start came about (cold boot, restore from which snapshot). */
  reason: string;
}

export type ProcessState = 'starting' | 'running' | 'frozen' | 'exited';

export interface ActorProcessInfo {
  atespace: string;
  actorId: string;
  state: ProcessState;
  /** Host pid of the main container's process (pid 1 of its pid namespace). */
  pid: number;
  /** Host pid of the tree's root (the unshare process). */
  rootPid: number;
  /** Every live process of the tree (host pids). */
  pids: number[];
  /** The freezer cgroup directory, when the cgroup freezer is used. */
  cgroup?: string;
  /** The private directory (identity file, passwd and group copies, bridge sockets). */
  dir: string;
  logFile: string;
  bridgedPorts: number[];
  /** Pod it runs on, or held by a snapshot (frozen). */
  pod: string;
}

interface Bridge {
  /** Where the simulator connects on the host. */
  host: string;
  port: number;
  /** The Unix socket between the forwarder and the simulator. */
  socket: string;
  /** Where the forwarder listens inside (the first is required). */
  listen: string[];
}

const alive = (pid: number) => existsSync(`/proc/${pid}`);

const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True when `promise` settles within `ms` (the timer does not outlive it). */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls until `done()` or the timeout; true when done. */
async function until(done: () => boolean, timeoutMs = SETTLE_TIMEOUT_MS): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (done()) return true;
    if (Date.now() > deadline) return false;
    await sleepMs(POLL_MS);
  }
}

/** pid → parent pid for every process on the host. */
function parentMap(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  return children;
}

/** `root` and all its descendants. */
function processTree(root: number): number[] {
  if (!alive(root)) return [];
  const children = parentMap();
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

/** A process's state letter (R, S, T, Z…), or undefined when it is gone. */
function stateOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');

/** The loopback host and port OPENSHELL_ENDPOINT names, if it is a loopback URL. */
export function loopbackEndpoint(value: string | undefined): { host: string; port: number } | undefined {
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (!loopback) return undefined;
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { host, port };
}

/** One actor's process tree, its private directory, cgroup and bridges. */
export class ActorProcess {
  state: ProcessState = 'starting';
  pid = 0;
  pod: string;
  readonly exited: Promise<void>;
  private child?: ChildProcess;
  private resolveExited!: () => void;
  private readonly servers: Server[] = [];
  private readonly connections = new Set<Socket>();
  private killing?: Promise<void>;
  private cleaning?: Promise<void>;

  constructor(
    readonly atespace: string,
    readonly actorId: string,
    readonly dir: string,
    readonly logFile: string,
    readonly bridges: Bridge[],
    readonly cgroup: string | undefined,
    pod: string,
  ) {
    this.pod = pod;
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
  }

  get rootPid(): number {
    return this.child?.pid ?? 0;
  }

  get isAlive(): boolean {
    return this.state !== 'exited' && !this.killing;
  }

  /** Every live process of the tree (host pids). */
  pids(): number[] {
    if (this.cgroup) {
      try {
        return readFileSync(join(this.cgroup, 'cgroup.procs'), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map(Number);
      } catch {
        return [];
      }
    }
    return this.rootPid ? processTree(this.rootPid) : [];
  }

  info(): ActorProcessInfo {
    return {
      atespace: this.atespace,
      actorId: this.actorId,
      state: this.state,
      pid: this.pid,
      rootPid: this.rootPid,
      pids: this.pids(),
      cgroup: this.cgroup,
      dir: this.dir,
      logFile: this.logFile,
      bridgedPorts: this.bridges.map((b) => b.port),
      pod: this.pod,
    };
  }

  note(line: string): void {
    try {
      appendFileSync(this.logFile, `--- ${new Date().toISOString()} ateflow-sim: ${line}\n`);
    } catch {
      // the log directory went away; nothing to tell
    }
  }

  /** Opens the Unix sockets the forwarder inside dials; each connection goes to the host's port. */
  async listenBridges(): Promise<void> {
    for (const bridge of this.bridges) {
      const server = createServer({ allowHalfOpen: true }, (inner) => {
        const outer = connect({ host: bridge.host, port: bridge.port, allowHalfOpen: true });
        const end = () => {
          inner.destroy();
          outer.destroy();
          this.connections.delete(inner);
          this.connections.delete(outer);
        };
        for (const s of [inner, outer]) {
          this.connections.add(s);
          s.on('error', end);
          s.on('close', end);
        }
        inner.pipe(outer);
        outer.pipe(inner);
      });
      this.servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(bridge.socket, () => {
          server.off('error', reject);
          resolve();
        });
      });
    }
  }

  /** Spawns the tree; resolves once the setup inside reported ready (the main command is exec'd). */
  async spawn(spec: LaunchSpec, unshare: string, abort: AbortSignal): Promise<void> {
    const logOffset = existsSync(this.logFile) ? statSync(this.logFile).size : 0;
    const fd = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      const bridgeArg = this.bridges.length ? JSON.stringify(this.bridges) : '';
      child = spawn(
        '/bin/sh',
        [
          '-c',
          WRAPPER_SCRIPT,
          'ateflow-actor',
          this.cgroup ? join(this.cgroup, 'cgroup.procs') : '',
          unshare,
          SETUP_SCRIPT,
          this.dir,
          process.execPath,
          bridgeArg,
          ...spec.argv,
        ],
        { env: { ...BASE_ENV, ...spec.env }, stdio: ['ignore', fd, fd, 'pipe'], detached: true },
      );
    } finally {
      closeSync(fd);
    }
    this.child = child;
    child.once('exit', (code, sig) => {
      const was = this.state;
      this.state = 'exited';
      this.note(
        this.killing
          ? 'process tree killed'
          : `process exited (${sig ? `signal ${sig}` : `code ${code}`}) while ${was}`,
      );
      if (!this.killing) this.cleanup();
      this.resolveExited();
    });
    child.once('error', (err) => {
      this.note(`could not spawn: ${err.message}`);
      this.state = 'exited';
      this.resolveExited();
    });

    const readyPipe = child.stdio[3] as NodeJS.ReadableStream | null;
    const failure = (why: string) => {
      const tail = this.logSince(logOffset);
      return new StatusError(
        GrpcStatus.UNKNOWN,
        `atelet on node ${spec.node}: starting the sandbox process of actor ${spec.actorId} failed: ${why}` +
          (tail ? `: ${tail}` : ''),
      );
    };
    try {
      await new Promise<void>((resolve, reject) => {
        let text = '';
        const timer = setTimeout(
          () => reject(failure(`not ready after ${READY_TIMEOUT_MS} ms`)),
          READY_TIMEOUT_MS,
        );
        const onAbort = () => reject(abort.reason instanceof Error ? abort.reason : new Error('aborted'));
        if (abort.aborted) onAbort();
        abort.addEventListener('abort', onAbort, { once: true });
        let settled = false;
        const settle = () => {
          settled = true;
          clearTimeout(timer);
          abort.removeEventListener('abort', onAbort);
        };
        readyPipe?.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
          if (text.includes('ready\n')) {
            settle();
            resolve();
          }
        });
        readyPipe?.on('error', () => undefined);
        void this.exited.then(() => {
          if (settled) return;
          settle();
          const code = child.exitCode;
          reject(failure(`its namespace setup exited with code ${code ?? child.signalCode ?? '?'}`));
        });
      });
    } catch (err) {
      await this.kill();
      throw err;
    }
    (readyPipe as { destroy?: () => void } | null)?.destroy?.();
    this.pid = processTree(child.pid ?? 0)[1] ?? 0; // the unshare process's one child
    this.state = 'running';
  }

  /** The last lines this start wrote to the log (the setup's error message). */
  private logSince(offset: number): string {
    try {
      const fd = openSync(this.logFile, 'r');
      try {
        const size = statSync(this.logFile).size;
        const length = Math.min(size - offset, 4096);
        if (length <= 0) return '';
        const buffer = Buffer.alloc(length);
        readSync(fd, buffer, 0, length, size - length);
        return buffer
          .toString('utf8')
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l && !l.startsWith('--- '))
          .slice(-3)
          .join('; ');
      } finally {
        closeSync(fd);
      }
    } catch {
      return '';
    }
  }

  /** Rewrites /run/ate/actor-id (the bind mount shows the new content). */
  writeIdentity(): void {
    writeFileSync(join(this.dir, 'actor-id'), this.actorId);
  }

  /** Freezes the tree, then cuts every bridged connection (the far side sees them end). */
  async freeze(why: string): Promise<void> {
    if (!this.isAlive || this.state === 'frozen') return;
    if (this.cgroup) {
      const file = join(this.cgroup, 'freezer.state');
      const frozen = await until(() => {
        if (!this.isAlive) return true;
        writeFileSync(file, 'FROZEN');
        return readFileSync(file, 'utf8').trim() === 'FROZEN';
      });
      if (!frozen) throw new Error(`the freezer cgroup ${this.cgroup} did not reach FROZEN`);
    } else {
      // SIGSTOP until no new process shows up, then wait for each to be stopped.
      const stopped = new Set<number>();
      for (let round = 0; round < 50; round++) {
        const fresh = processTree(this.rootPid).filter((p) => !stopped.has(p));
        if (fresh.length === 0) break;
        for (const pid of fresh) {
          signal(pid, 'SIGSTOP');
          stopped.add(pid);
        }
      }
      const done = await until(() =>
        [...stopped].every((p) => {
          const s = stateOf(p);
          return s === undefined || s === 'T' || s === 'Z' || s === 'X';
        }),
      );
      if (!done) throw new Error(`the process tree of actor ${this.actorId} did not stop`);
    }
    if (this.isAlive) this.state = 'frozen';
    this.cutConnections();
    this.note(`frozen (${why}); bridged connections cut`);
  }

  /** Thaws the tree; false when it is no longer alive. */
  async thaw(why: string, pod: string): Promise<boolean> {
    if (!this.isAlive) return false;
    this.writeIdentity();
    this.pod = pod;
    if (this.cgroup) {
      const file = join(this.cgroup, 'freezer.state');
      const thawed = await until(() => {
        if (!this.isAlive) return true;
        writeFileSync(file, 'THAWED');
        return readFileSync(file, 'utf8').trim() === 'THAWED';
      });
      if (!thawed) throw new Error(`the freezer cgroup ${this.cgroup} did not reach THAWED`);
    } else {
      for (const pid of processTree(this.rootPid)) signal(pid, 'SIGCONT');
    }
    if (!this.isAlive) return false;
    this.state = 'running';
    this.note(`thawed (${why}) on pod ${pod}`);
    return true;
  }

  private cutConnections(): void {
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
  }

  /** Kills the whole tree (frozen or not), waits for it, and removes what it left. */
  kill(): Promise<void> {
    this.killing ??= this.killNow().catch((err: unknown) =>
      log.warn({ actor: this.actorId, err }, 'could not clean up after an actor process'),
    );
    return this.killing;
  }

  private async killNow(): Promise<void> {
    this.cutConnections();
    const seen = new Set<number>();
    const root = this.rootPid;
    if (this.state !== 'exited' && root) {
      // Everything but the unshare process first, so that it reaps the namespace's init and
      // exits by itself (a killed unshare leaves that zombie to the host's init).
      const sweep = (includingRoot: boolean) => {
        for (const pid of new Set([...this.pids(), ...processTree(root)])) {
          seen.add(pid);
          if (pid !== root || includingRoot) signal(pid, 'SIGKILL');
        }
        // Frozen tasks only die once thawed; stopped ones get SIGKILL anyway, SIGCONT is harmless.
        if (this.cgroup) {
          try {
            writeFileSync(join(this.cgroup, 'freezer.state'), 'THAWED');
          } catch {
            // the cgroup is gone
          }
        } else {
          for (const pid of seen) signal(pid, 'SIGCONT');
        }
      };
      sweep(false);
      if (!(await within(this.exited, SETTLE_TIMEOUT_MS))) {
        sweep(true);
        await within(this.exited, SETTLE_TIMEOUT_MS);
      }
    }
    const gone = await until(() => [...seen].every((p) => !alive(p)));
    if (!gone)
      log.warn({ actor: this.actorId, pids: [...seen].filter(alive) }, 'actor processes survived SIGKILL');
    this.state = 'exited';
    this.resolveExited();
    await this.cleanupAsync();
  }

  private cleanup(): void {
    void this.cleanupAsync();
  }

  /** Bridges closed, cgroup and private directory removed (once; every caller waits for it). */
  private cleanupAsync(): Promise<void> {
    this.cleaning ??= this.cleanupOnce();
    return this.cleaning;
  }

  private async cleanupOnce(): Promise<void> {
    this.cutConnections();
    await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
    if (this.cgroup) {
      const cgroup = this.cgroup;
      const removed = await until(() => {
        try {
          rmdirSync(cgroup);
          return true;
        } catch (err) {
          return (err as NodeJS.ErrnoException).code === 'ENOENT';
        }
      });
      if (!removed) log.warn({ cgroup }, 'could not remove an actor freezer cgroup');
    }
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch (err) {
      log.warn({ dir: this.dir, err }, 'could not remove an actor process directory');
    }
  }
}

/** Starts, freezes, thaws and kills actor processes; owns the log directory and cgroups. */
export class ProcessRuntime {
  readonly freezer: 'cgroup' | 'signal';
  readonly logDir: string;
  /** This simulator's freezer cgroup (parent of one cgroup per process). */
  readonly cgroupRoot?: string;
  private readonly ownsLogDir: boolean;
  private readonly unshare: string;
  private readonly processes = new Set<ActorProcess>();
  private seq = 0;
  private stopped = false;

  constructor(options: ProcessRuntimeOptions = {}) {
    this.unshare = options.unshare ?? 'unshare';
    this.ownsLogDir = !options.logDir;
    this.logDir = options.logDir ?? mkdtempSync(join(tmpdir(), 'ateflow-sim-logs-'));
    mkdirSync(this.logDir, { recursive: true });
    const wanted = options.freezer ?? 'auto';
    this.cgroupRoot = wanted === 'signal' ? undefined : ProcessRuntime.makeCgroupRoot();
    if (wanted === 'cgroup' && !this.cgroupRoot) {
      throw new Error(`processFreezer 'cgroup': no writable cgroup v1 freezer at ${FREEZER_ROOT}`);
    }
    this.freezer = this.cgroupRoot ? 'cgroup' : 'signal';
  }

  /** A freezer cgroup for this simulator, after removing those of simulators that died. */
  private static makeCgroupRoot(): string | undefined {
    const parent = join(FREEZER_ROOT, CGROUP_PARENT);
    if (!existsSync(join(FREEZER_ROOT, 'cgroup.procs'))) return undefined;
    const root = join(parent, `${process.pid}-${randomBytes(3).toString('hex')}`);
    // Another simulator may remove the (empty) parent meanwhile: try again.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        mkdirSync(parent, { recursive: true });
        ProcessRuntime.sweepStale(parent);
        mkdirSync(root);
        if (existsSync(join(root, 'freezer.state'))) return root;
        rmdirSync(root);
        return undefined;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
      }
    }
    return undefined;
  }

  /** Kills the leftovers of simulators whose process is gone (crashed without stopping). */
  private static sweepStale(parent: string): void {
    for (const name of readdirSync(parent)) {
      const owner = Number(name.split('-')[0]);
      if (!owner || alive(owner)) continue;
      const root = join(parent, name);
      for (const entry of readdirSync(root, { withFileTypes: true })) {
        if (!entry.isDirectory()) continue;
        const cgroup = join(root, entry.name);
        try {
          for (const pid of readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean))
            signal(Number(pid), 'SIGKILL');
          writeFileSync(join(cgroup, 'freezer.state'), 'THAWED');
          rmdirSync(cgroup);
        } catch {
          // still busy; a later sweep gets it
        }
      }
      try {
        rmdirSync(root);
      } catch {
        // still busy
      }
    }
  }

  logFileOf(atespace: string, actorId: string): string {
    return join(this.logDir, `${safeName(atespace)}_${safeName(actorId)}.log`);
  }

  /** Starts the actor's main container; throws a StatusError (UNKNOWN, from atelet) when it cannot. */
  async start(spec: LaunchSpec, abort: AbortSignal): Promise<ActorProcess> {
    if (this.stopped) throw new StatusError(GrpcStatus.UNAVAILABLE, 'the simulator is stopping');
    const seq = ++this.seq;
    // Unix socket paths are short (108 bytes): fall back to /tmp when TMPDIR is long.
    const base = tmpdir().length > 60 ? '/tmp' : tmpdir();
    const dir = mkdtempSync(join(base, 'ateflow-actor-'));
    const endpoint = loopbackEndpoint(spec.env.OPENSHELL_ENDPOINT);
    const bridges: Bridge[] = endpoint
      ? [
          {
            ...endpoint,
            socket: join(dir, `bridge-${endpoint.port}.sock`),
            listen: endpoint.host === 'localhost' ? ['127.0.0.1', '::1'] : [endpoint.host],
          },
        ]
      : [];
    let cgroup: string | undefined;
    if (this.cgroupRoot) {
      cgroup = join(this.cgroupRoot, `${safeName(spec.atespace)}_${safeName(spec.actorId)}-${seq}`);
      mkdirSync(cgroup);
    }
    const proc = new ActorProcess(
      spec.atespace,
      spec.actorId,
      dir,
      this.logFileOf(spec.atespace, spec.actorId),
      bridges,
      cgroup,
      spec.pod,
    );
    this.processes.add(proc);
    void proc.exited.then(() => this.processes.delete(proc));
    try {
      proc.writeIdentity();
      writeFileSync(join(dir, 'passwd'), withEntry(readFileSync('/etc/passwd', 'utf8'), PASSWD_ENTRY));
      writeFileSync(join(dir, 'group'), withEntry(readFileSync('/etc/group', 'utf8'), GROUP_ENTRY));
      if (bridges.length) writeFileSync(join(dir, 'bridge.js'), BRIDGE_SCRIPT);
      await proc.listenBridges();
      proc.note(
        `starting actor ${spec.atespace}/${spec.actorId} on pod ${spec.pod} (node ${spec.node}), ${spec.reason}: ${JSON.stringify(spec.argv)}` +
          (bridges.length ? `; bridging ${bridges.map((b) => `${b.host}:${b.port}`).join(', ')}` : ''),
      );
      await proc.spawn(spec, this.unshare, abort);
    } catch (err) {
      await proc.kill();
      this.processes.delete(proc);
      if (err instanceof StatusError) throw err;
      throw new StatusError(
        GrpcStatus.UNKNOWN,
        `atelet on node ${spec.node}: starting the sandbox process of actor ${spec.actorId} failed: ${(err as Error).message}`,
      );
    }
    return proc;
  }

  list(): ActorProcessInfo[] {
    return [...this.processes].map((p) => p.info());
  }

  /** Kills every actor process and removes this simulator's cgroup (and default log directory). */
  async stopAll(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.processes].map((p) => p.kill()));
    if (this.cgroupRoot) {
      const root = this.cgroupRoot;
      await until(() => {
        try {
          rmdirSync(root);
          return true;
        } catch (err) {
          return (err as NodeJS.ErrnoException).code === 'ENOENT';
        }
      });
      try {
        rmdirSync(join(FREEZER_ROOT, CGROUP_PARENT)); // only when no other simulator uses it
      } catch {
        // in use
      }
    }
    if (this.ownsLogDir) rmSync(this.logDir, { recursive: true, force: true });
  }

  /** Synchronous: SIGKILL every tree below its unshare process (which then exits) and thaw it. */
  killAllNow(): void {
    for (const proc of this.processes) {
      for (const pid of proc.pids()) if (pid !== proc.rootPid) signal(pid, 'SIGKILL');
      if (proc.cgroup) {
        try {
          writeFileSync(join(proc.cgroup, 'freezer.state'), 'THAWED');
        } catch {
          // gone
        }
      }
    }
  }
}

/** /etc/passwd or /etc/group with the sandbox entry replacing any line of that name. */
function withEntry(file: string, entry: string): string {
  const lines = file.split('\n').filter((l) => l !== '' && !l.startsWith('sandbox:'));
  return `${[...lines, entry].join('\n')}\n`;
}
