// Process-backed actors (SimulatorOptions.processActors): the template's main container runs as
// a real process in its own namespaces; suspend and pause freeze it, resume thaws it (memory
// kept), pod loss and delete kill it, and nothing is left behind. Needs Linux and root.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Actor_Status } from '../src/gen/ateapi';
import type { ActorProcessInfo } from '../src/sim';
import { assertStatus, eventually, startSim, type SimHarness } from './helpers/sim';
import { skippable } from './helpers/skip';

const canRun =
  process.platform === 'linux' &&
  process.getuid?.() === 0 &&
  spawnSync('unshare', ['--version']).status === 0 &&
  spawnSync('ip', ['-V']).status === 0;
const { after, before, describe, it } = skippable(canRun ? false : 'needs Linux, root, unshare and ip');

/**
 * The actor's program: reports what it sees of its namespaces and identity, keeps a counter
 * ONLY in memory (rewritten to a file every 20 ms), says hello on the bridged endpoint and
 * dials again whenever its connection ends. Also runs `ip netns add`, as the OpenShell
 * supervisor does, to show nothing leaks into the host's /run/netns.
 */
const AGENT = `'use strict';
const fs = require('fs'), net = require('net'), cp = require('child_process'), crypto = require('crypto');
const id = fs.readFileSync('/run/ate/actor-id', 'utf8').trim();
const out = require('path').join(process.env.AGENT_OUT, id);
fs.mkdirSync(out, { recursive: true });
const boot = crypto.randomUUID();
const put = (name, text) => {
  fs.writeFileSync(out + '/' + name + '.tmp', text);
  fs.renameSync(out + '/' + name + '.tmp', out + '/' + name);
};
let netnsAdd;
try {
  cp.execFileSync('ip', ['netns', 'add', 'ateflow-probe-' + id], { stdio: 'pipe' });
  netnsAdd = 'ok';
} catch (e) {
  netnsAdd = String(e.stderr || e.message);
}
put('info.json', JSON.stringify({
  boot,
  pid: process.pid,
  pidns: fs.readlinkSync('/proc/self/ns/pid'),
  netns: fs.readlinkSync('/proc/self/ns/net'),
  actorId: id,
  sandbox: cp.execFileSync('id', ['sandbox']).toString().trim(),
  links: cp.execFileSync('ip', ['-o', 'link']).toString().trim().split('\\n').map((l) => l.split(':')[1].trim()),
  secret: process.env.SECRET_TOKEN,
  literal: process.env.LITERAL,
  path: process.env.PATH,
  netnsAdd,
  runNetns: fs.readdirSync('/run/netns'),
}));
console.log('agent up ' + boot);
let n = 0;
setInterval(() => put('counter', boot + ' ' + ++n), 20);
const url = new URL(process.env.OPENSHELL_ENDPOINT);
let dials = 0;
const dial = () => {
  const s = net.connect(Number(url.port), url.hostname);
  s.on('connect', () => s.write('hello ' + boot + ' ' + ++dials + '\\n'));
  s.on('error', () => {});
  s.on('close', () => setTimeout(dial, 50));
};
dial();
`;

interface Info {
  boot: string;
  pid: number;
  pidns: string;
  netns: string;
  actorId: string;
  sandbox: string;
  links: string[];
  secret: string;
  literal: string;
  path: string;
  netnsAdd: string;
  runNetns: string[];
}

/** A host TCP service on 127.0.0.1 (the gateway's place): every connection and its hello. */
class HostService {
  readonly conns: { socket: Socket; hello: string; closed: boolean }[] = [];
  private readonly server: Server;
  port = 0;

  constructor() {
    this.server = createServer((socket) => {
      const conn = { socket, hello: '', closed: false };
      this.conns.push(conn);
      socket.on('data', (d: Buffer) => (conn.hello += d.toString('utf8')));
      socket.on('error', () => undefined);
      socket.on('close', () => (conn.closed = true));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  from(boot: string) {
    return this.conns.filter((c) => c.hello.startsWith(`hello ${boot} `));
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.socket.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

const isAlive = (pid: number) => existsSync(`/proc/${pid}`);
const hostNs = (kind: string) => readlinkSync(`/proc/self/ns/${kind}`);
const runNetns = () => (existsSync('/run/netns') ? readdirSync('/run/netns').sort() : []);
/** Private directories of actor processes (by the actor id file they hold) still on disk. */
const actorDirsOf = (actorId: string) =>
  readdirSync(tmpdir())
    .filter((n) => n.startsWith('ateflow-actor-'))
    .filter((n) => {
      try {
        return readFileSync(join(tmpdir(), n, 'actor-id'), 'utf8') === actorId;
      } catch {
        return false;
      }
    });
/** Every pid `ps` lists (a second witness besides /proc). */
const psPids = () =>
  new Set(
    execFileSync('ps', ['-e', '-o', 'pid='], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter(Boolean),
  );
const stateOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
};
/** A fixed observation window for "nothing happens" checks (never for waiting on progress). */
const observe = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One simulator with process actors, a template running AGENT, and the bookkeeping to check. */
class ProcessSim {
  h!: SimHarness;
  readonly service = new HostService();
  readonly out = mkdtempSync(join(tmpdir(), 'ateflow-proc-test-'));
  readonly logDir = join(this.out, 'logs');
  /** Every pid any actor process ever had: none may survive. */
  readonly seenPids = new Set<number>();
  private n = 0;

  constructor(
    private readonly options: { freezer?: 'cgroup' | 'signal'; unshare?: string; prefix?: string } = {},
  ) {}

  async start(): Promise<void> {
    await this.service.listen();
    writeFileSync(join(this.out, 'agent.js'), AGENT);
    this.h = await startSim({
      processActors: true,
      processLogDir: this.logDir,
      processFreezer: this.options.freezer,
      processUnshare: this.options.unshare,
    });
    await this.h.admin.call('applySecret', {
      namespace: 'default',
      name: 'creds',
      data: { token: 's3cret' },
    });
    await this.h.admin.call('applyActorTemplate', {
      templateJson: JSON.stringify({
        apiVersion: 'ate.dev/v1alpha1',
        kind: 'ActorTemplate',
        metadata: { name: 'agent', namespace: 'default' },
        spec: {
          pauseImage: 'pause@sha256:1',
          snapshotsConfig: { location: 'gs://procs/' },
          containers: [
            {
              name: 'main',
              image: 'agent@sha256:1',
              command: ['/bin/sh', '-c', 'exec "$AGENT_NODE" "$AGENT_SCRIPT"'],
              env: [
                { name: 'AGENT_NODE', value: process.execPath },
                { name: 'AGENT_SCRIPT', value: join(this.out, 'agent.js') },
                { name: 'AGENT_OUT', value: this.out },
                { name: 'LITERAL', value: 'plain' },
                { name: 'OPENSHELL_ENDPOINT', value: `http://127.0.0.1:${this.service.port}` },
                { name: 'SECRET_TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } },
              ],
              readyz: { httpGet: { port: 8080 } },
            },
            // A sidecar is not run: only the main container becomes a process.
            { name: 'side', image: 'side@sha256:1', command: ['/bin/false'] },
          ],
        },
      }),
    });
    // Wait for the golden snapshot, so first resumes restore from it (a fresh process each).
    await eventually(async () => {
      const { templateJson } = await this.h.admin.call<{ templateJson: string }>('getActorTemplate', {
        namespace: 'default',
        name: 'agent',
      });
      return (JSON.parse(templateJson) as { status?: { phase?: string } }).status?.phase === 'Ready'
        ? true
        : undefined;
    });
    await this.h.api.call('CreateAtespace', { name: 'ws' });
  }

  async newActor(): Promise<{ atespace: string; name: string }> {
    const ref = { atespace: 'ws', name: `${this.options.prefix ?? 'proc'}-${++this.n}` };
    await this.h.api.call('CreateActor', {
      actorRef: ref,
      actorTemplateNamespace: 'default',
      actorTemplateName: 'agent',
    });
    return ref;
  }

  call(rpc: 'ResumeActor' | 'SuspendActor' | 'PauseActor', ref: { atespace: string; name: string }) {
    return this.h.api.call(rpc, { actorRef: ref });
  }

  /** The runtime's view of the actor's process (recording its pids). */
  proc(name: string): ActorProcessInfo | undefined {
    const found = this.h.sim.core.processes!.list().find((p) => p.actorId === name);
    for (const pid of found?.pids ?? []) this.seenPids.add(pid);
    return found;
  }

  info(name: string): Promise<Info> {
    const file = join(this.out, name, 'info.json');
    return eventually(() =>
      existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Info) : undefined,
    );
  }

  counter(name: string): { boot: string; n: number } | undefined {
    try {
      const [boot, n] = readFileSync(join(this.out, name, 'counter'), 'utf8').split(' ');
      return { boot, n: Number(n) };
    } catch {
      return undefined;
    }
  }

  /** Waits for the counter to pass `above` (with the boot id it must have, if given). */
  counterAbove(name: string, above: number, boot?: string) {
    return eventually(() => {
      const c = this.counter(name);
      return c && c.n > above && (!boot || c.boot === boot) ? c : undefined;
    });
  }

  log(name: string): string {
    const file = join(this.logDir, `ws_${name}.log`);
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }

  async close(): Promise<void> {
    const cgroupRoot = this.h?.sim.core.processes?.cgroupRoot;
    await this.h?.close();
    await this.service.close();
    // Nothing an actor ran survives the simulator, by /proc and by ps.
    const seen = [...this.seenPids];
    await eventually(() => (seen.every((p) => !isAlive(p)) ? true : undefined));
    const listed = psPids();
    assert.deepEqual(
      seen.filter((p) => listed.has(p)),
      [],
      'ps lists no actor pid after stop',
    );
    if (cgroupRoot) assert.equal(existsSync(cgroupRoot), false, 'the simulator cgroup is removed');
    rmSync(this.out, { recursive: true, force: true });
  }
}

describe('process actors', () => {
  const sim = new ProcessSim();
  const netnsBefore = runNetns();
  let ref: { atespace: string; name: string };
  let first: Info;
  let mainPid: number;

  before(async () => sim.start());
  after(async () => sim.close());

  it('a process actor runs in its own pid and network namespaces, as its actor, with a sandbox user', async () => {
    ref = await sim.newActor();
    const resumed = await sim.call('ResumeActor', ref);
    assert.equal(resumed.actor?.status, Actor_Status.STATUS_RUNNING);
    first = await sim.info(ref.name);
    assert.equal(first.pid, 1, 'the main container is pid 1 of its own pid namespace');
    assert.notEqual(first.pidns, hostNs('pid'));
    assert.notEqual(first.netns, hostNs('net'));
    assert.deepEqual(first.links, ['lo'], 'only a loopback interface');
    assert.equal(first.actorId, ref.name, '/run/ate/actor-id names the actor');
    assert.match(first.sandbox, /^uid=10001\(sandbox\) gid=10001\(sandbox\)/);
    assert.equal(first.secret, 's3cret', 'secretKeyRef env is resolved');
    assert.equal(first.literal, 'plain');
    assert.ok(first.path.includes('/usr/bin'), 'PATH is set');
    assert.equal(first.netnsAdd, 'ok');
    assert.deepEqual(first.runNetns, [`ateflow-probe-${ref.name}`], 'ip netns add works inside');
    assert.deepEqual(runNetns(), netnsBefore, 'but nothing appears in the host /run/netns');
    assert.ok(!readFileSync('/etc/passwd', 'utf8').includes('sandbox:x:10001'), 'host passwd untouched');

    const proc = sim.proc(ref.name)!;
    assert.equal(proc.state, 'running');
    assert.equal(proc.pod, `default/${resumed.actor?.ateomPodName}`);
    assert.equal(sim.h.sim.core.processes!.freezer, 'cgroup');
    // NSpid: host pid, then 1 inside.
    assert.match(
      readFileSync(`/proc/${proc.pid}/status`, 'utf8'),
      new RegExp(`NSpid:\\s+${proc.pid}\\s+1\\n`),
    );
    mainPid = proc.pid;

    // Its stdout is in its log, after the simulator's note of how it started (from the golden snapshot).
    await eventually(() => (sim.log(ref.name).includes(`agent up ${first.boot}`) ? true : undefined));
    assert.match(
      sim.log(ref.name),
      /starting actor ws\/proc-1 .*restore from external:gs:\/\/procs\/.*fresh process/,
    );
    // Golden actors run no process, and sidecars do not run.
    assert.deepEqual(
      readdirSync(sim.logDir).filter((f) => f.startsWith('ate-golden')),
      [],
    );
    assert.equal(sim.h.sim.core.processes!.list().length, 1);
  });

  it('memory survives suspend → resume: same process, counter continues, frozen meanwhile', async () => {
    await sim.counterAbove(ref.name, 3, first.boot);
    await sim.call('SuspendActor', ref);
    const frozen = sim.proc(ref.name)!;
    assert.equal(frozen.state, 'frozen');
    assert.equal(readFileSync(join(frozen.cgroup!, 'freezer.state'), 'utf8').trim(), 'FROZEN');
    const atSuspend = sim.counter(ref.name)!;
    await observe(200); // ten ticks of the counter
    assert.deepEqual(sim.counter(ref.name), atSuspend, 'the counter does not advance while suspended');

    await sim.call('ResumeActor', ref);
    const after = await sim.counterAbove(ref.name, atSuspend.n, first.boot);
    assert.equal(after.boot, first.boot, 'same process memory');
    assert.ok(after.n < atSuspend.n + 20, `the counter continues from ${atSuspend.n} (got ${after.n})`);
    assert.equal(sim.proc(ref.name)!.pid, mainPid, 'same pid');
    assert.equal(sim.proc(ref.name)!.state, 'running');
  });

  it('the loopback bridge: the host service sees the connection, its end on suspend, a new one after resume', async () => {
    const live = await eventually(() => sim.service.from(first.boot).find((c) => !c.closed));
    const before = sim.service.from(first.boot).length;
    await sim.call('SuspendActor', ref);
    await eventually(() => (live.closed ? true : undefined));
    await observe(200);
    assert.equal(sim.service.from(first.boot).length, before, 'no connection while suspended');

    await sim.call('ResumeActor', ref);
    const again = await eventually(() =>
      sim.service.conns.find((c) => c !== live && !c.closed && c.hello.startsWith(`hello ${first.boot} `)),
    );
    assert.ok(sim.service.conns.indexOf(again) >= before, 'a new connection from the same process');
  });

  it('migration: a resume on another pod thaws the same process', async () => {
    const startPod = (await sim.h.api.call('GetActor', { actorRef: ref })).actor!.ateomPodName;
    let pod = startPod;
    for (let i = 0; i < 30 && pod === startPod; i++) {
      await sim.call('SuspendActor', ref);
      pod = (await sim.call('ResumeActor', ref)).actor!.ateomPodName;
    }
    assert.notEqual(pod, startPod, 'landed on another pod');
    assert.equal(sim.proc(ref.name)!.pid, mainPid);
    assert.equal(sim.proc(ref.name)!.pod, `default/${pod}`);
    const c = await sim.counterAbove(ref.name, sim.counter(ref.name)!.n, first.boot);
    assert.equal(c.boot, first.boot);
  });

  it('pause freezes the process on its node; resume thaws it', async () => {
    await sim.call('PauseActor', ref);
    assert.equal(sim.proc(ref.name)!.state, 'frozen');
    const atPause = sim.counter(ref.name)!;
    await observe(100);
    assert.deepEqual(sim.counter(ref.name), atPause);
    await sim.call('ResumeActor', ref);
    await sim.counterAbove(ref.name, atPause.n, first.boot);
    assert.equal(sim.proc(ref.name)!.pid, mainPid);
  });

  it('a killed pod kills the process; the next resume starts a fresh one (memory lost)', async () => {
    const pids = sim.proc(ref.name)!.pids;
    assert.ok(pids.length >= 3, `unshare, main, forwarder: ${pids.join(' ')}`);
    const pod = (await sim.h.api.call('GetActor', { actorRef: ref })).actor!.ateomPodName;
    await sim.h.admin.call('killWorker', { pod });
    await eventually(() => (pids.every((p) => !isAlive(p)) ? true : undefined));
    assert.equal(sim.proc(ref.name), undefined);
    assert.equal(
      (await sim.h.api.call('GetActor', { actorRef: ref })).actor!.status,
      Actor_Status.STATUS_SUSPENDED,
    );
    assert.match(sim.log(ref.name), new RegExp(`pod default/${pod} is gone`));

    rmSync(join(sim.out, ref.name, 'info.json'));
    await sim.call('ResumeActor', ref);
    const fresh = await sim.info(ref.name);
    assert.notEqual(fresh.boot, first.boot, 'a new process');
    assert.notEqual(sim.proc(ref.name)!.pid, mainPid);
    const c = await sim.counterAbove(ref.name, 0, fresh.boot);
    assert.ok(c.n < 20, 'its counter starts over');
  });

  it('delete kills the frozen process and leaves no process, cgroup, directory or /run/netns entry', async () => {
    await sim.call('SuspendActor', ref);
    const proc = sim.proc(ref.name)!;
    assert.equal(proc.state, 'frozen');
    assert.ok(existsSync(proc.cgroup!) && existsSync(proc.dir));
    await sim.h.api.call('DeleteActor', { actorRef: ref });
    await eventually(() => (proc.pids.every((p) => !isAlive(p)) ? true : undefined));
    const listed = psPids();
    assert.deepEqual(
      proc.pids.filter((p) => listed.has(p)),
      [],
    );
    assert.equal(existsSync(proc.cgroup!), false, 'cgroup removed');
    assert.equal(existsSync(proc.dir), false, 'private directory (sockets, identity) removed');
    assert.deepEqual(runNetns(), netnsBefore, 'no /run/netns leftovers');
    assert.equal(sim.proc(ref.name), undefined);
    assert.match(sim.log(ref.name), /actor ws\/proc-1 deleted[^]*process tree killed/);
  });

  it('a node loss kills the processes its pause snapshots held', async () => {
    const other = await sim.newActor();
    await sim.call('ResumeActor', other);
    await sim.info(other.name);
    const running = await sim.h.api.call('GetActor', { actorRef: other });
    const node = (
      await sim.h.admin.call<{ workers: { pod: string; node: string }[] }>('listWorkers')
    ).workers.find((w) => w.pod === running.actor!.ateomPodName)!.node;
    await sim.call('PauseActor', other);
    const pids = sim.proc(other.name)!.pids;
    await sim.h.admin.call('killNode', { node });
    await eventually(() => (pids.every((p) => !isAlive(p)) ? true : undefined));
    assert.equal(sim.proc(other.name), undefined);
  });

  it('stop kills every actor process', async () => {
    const last = await sim.newActor();
    await sim.call('ResumeActor', last);
    await sim.info(last.name);
    assert.ok(sim.proc(last.name)!.pids.length > 0); // recorded; sim.close() checks they are gone
  });
});

describe('process actors with the SIGSTOP fallback', () => {
  const sim = new ProcessSim({ freezer: 'signal' });
  before(async () => sim.start());
  after(async () => sim.close());

  it('suspend stops every process of the tree; resume continues it; delete kills it', async () => {
    assert.equal(sim.h.sim.core.processes!.freezer, 'signal');
    const ref = await sim.newActor();
    await sim.call('ResumeActor', ref);
    const info = await sim.info(ref.name);
    await sim.counterAbove(ref.name, 3, info.boot);
    const live = await eventually(() => sim.service.from(info.boot).find((c) => !c.closed));

    await sim.call('SuspendActor', ref);
    const proc = sim.proc(ref.name)!;
    assert.equal(proc.cgroup, undefined);
    for (const pid of proc.pids) assert.equal(stateOf(pid), 'T', `pid ${pid} is stopped`);
    await eventually(() => (live.closed ? true : undefined));
    const atSuspend = sim.counter(ref.name)!;
    await observe(200);
    assert.deepEqual(sim.counter(ref.name), atSuspend);

    await sim.call('ResumeActor', ref);
    await sim.counterAbove(ref.name, atSuspend.n, info.boot);
    assert.equal(sim.proc(ref.name)!.pid, proc.pid);
    await eventually(() =>
      sim.service.conns.find((c) => c !== live && c.hello.startsWith(`hello ${info.boot} `)),
    );

    await sim.call('SuspendActor', ref);
    const pids = sim.proc(ref.name)!.pids;
    await sim.h.api.call('DeleteActor', { actorRef: ref });
    await eventually(() => (pids.every((p) => !isAlive(p)) ? true : undefined));
    assert.equal(existsSync(proc.dir), false);
  });
});

describe('process actors without namespaces', () => {
  const fake = mkdtempSync(join(tmpdir(), 'ateflow-fake-unshare-'));
  const unshare = join(fake, 'unshare');
  writeFileSync(unshare, '#!/bin/sh\necho "unshare: unshare failed: Operation not permitted" >&2\nexit 1\n', {
    mode: 0o755,
  });
  const sim = new ProcessSim({ unshare, prefix: `nons-${process.pid}` });
  before(async () => sim.start());
  after(async () => {
    await sim.close();
    rmSync(fake, { recursive: true, force: true });
  });

  it('Resume fails with UNKNOWN from atelet naming the cause; the simulator carries on', async () => {
    const ref = await sim.newActor();
    await assertStatus(
      sim.call('ResumeActor', ref),
      GrpcStatus.UNKNOWN,
      new RegExp(
        `^atelet on node \\S+: starting the sandbox process of actor ${ref.name} failed: ` +
          'its namespace setup exited with code 1: unshare: unshare failed: Operation not permitted$',
      ),
    );
    assert.equal(
      (await sim.h.api.call('GetActor', { actorRef: ref })).actor!.status,
      Actor_Status.STATUS_RESUMING,
    );
    assert.deepEqual(sim.h.sim.core.processes!.list(), []);
    assert.deepEqual(actorDirsOf(ref.name), [], 'its private directory is removed');
    assert.deepEqual(
      readdirSync(join(sim.h.sim.core.processes!.cgroupRoot!)).filter((n) => n.startsWith('ws_')),
      [],
    );
  });
});
