// SSH and port-forwarding through the real OpenShell gateway reach a simulated sandbox's supervisor
// (its embedded SSH server on /run/openshell/ssh.sock, behind the gateway relay), and they count
// as use for idle suspend:
// - `ssh` with `openshell ssh-proxy` as ProxyCommand runs a command and gets its output; the usage
//   stream sees the relay open while the session lasts and closed after;
// - SSH every 2 s for three idle timeouts: never suspended; left alone: suspended;
// - `openshell forward start` (one long-lived SSH tunnel: its connections show no line of their
//   own anywhere) with traffic every 2 s: never suspended while the tunnel is open; once it is
//   closed, suspended.
// With ATEFLOW_GATEWAY_API=off the busy sandboxes are suspended: the tests can fail. Skips only
// outside CI without the binaries or the ssh client (Debian's openssh-client); the line parsing
// runs everywhere.
import { spawn, type ChildProcess } from 'node:child_process';
import * as nodeTest from 'node:test';
import assert from 'node:assert/strict';
import { withoutOpenShellVars } from '../src/openshell/binaries';
import type { RunningGateway } from '../src/openshell/gateway';
import { GatewayUsageWatcher, isUseLine, relayEvent } from '../src/usage/gateway-usage';
import { freePort, startTestDevStack, type TestDevStack } from './helpers/dev-stack';
import { openShellCli, openShellSsh, requireOpenShell, requireSsh, sshSkip } from './helpers/openshell';
import { eventually } from './helpers/sim';
import { skippable } from './helpers/skip';

const IDLE_TIMEOUT_S = 6;
const GATEWAY_NAME = 'ateflow-test';
const { after, before, describe, it } = skippable(sshSkip);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

// Lines as gateway 2f7fb655 streamed them (WatchSandbox follow_logs) for exec, ssh and forwards.
void nodeTest.describe('gateway and supervisor lines that mean use', () => {
  void nodeTest.it(
    'knows a relay start from the gateway and relay opens and ends from the supervisor',
    () => {
      assert.ok(isUseLine('relay stream: claimed pending relay, bridging'));
      assert.ok(isUseLine('ExecSandbox (relay): command started'));
      assert.ok(!isUseLine('supervisor session: accepted'));
      const ch = '96aefd14-0111-4b18-851d-7ffe71344010';
      const target = 'target=unix:/run/openshell/ssh.sock';
      assert.deepEqual(relayEvent(`NET:OPEN [INFO] [msg:ssh relay open (channel_id=${ch}, ${target})]`), {
        kind: 'open',
        key: `ssh:${ch}`,
      });
      assert.deepEqual(relayEvent(`NET:CLOSE [INFO] [msg:ssh relay closed (channel_id=${ch}, ${target})]`), {
        kind: 'close',
        key: `ssh:${ch}`,
      });
      assert.deepEqual(
        relayEvent(`NET:FAIL [LOW] [msg:ssh relay bridge failed (channel_id=${ch}, ${target}): x]`),
        {
          kind: 'close',
          key: `ssh:${ch}`,
        },
      );
      assert.deepEqual(relayEvent('NET:OPEN [INFO] 127.0.0.1:8000/tcp'), {
        kind: 'open',
        key: 'tcp:127.0.0.1:8000',
      });
      assert.deepEqual(relayEvent('NET:CLOSE [INFO] 127.0.0.1:8000/tcp'), {
        kind: 'close',
        key: 'tcp:127.0.0.1:8000',
      });
      // Not relays: the supervisor's session to the gateway, its network proxy, SSH protocol events.
      assert.equal(relayEvent('NET:OPEN [INFO] 127.0.0.1:35449'), undefined);
      assert.equal(relayEvent('NET:OPEN [INFO] ALLOWED python3(42) -> 127.0.0.1:8000/tcp'), undefined);
      assert.equal(relayEvent('SSH:OPEN [INFO] ALLOWED'), undefined);
    },
  );
});

describe('SSH and port-forward through the real gateway', () => {
  let dev: TestDevStack;
  const gateway = () => dev.stack.gateway as RunningGateway;
  const { cli: run, phase } = openShellCli(gateway);
  const ssh = openShellSsh(gateway, GATEWAY_NAME);
  const cli = (...args: string[]) => run(args);
  const idOf = async (name: string) => /Id:\s*(\S+)/.exec((await cli('sandbox', 'get', name)).stdout)![1];
  const create = async (name: string, idleTimeout: string, command: string[]) => {
    const config = JSON.stringify({ ateflow: { idle_timeout: idleTimeout } });
    const created = await cli(
      'sandbox',
      'create',
      '--name',
      name,
      '--driver-config-json',
      config,
      '--no-tty',
      '--',
      ...command,
    );
    assert.equal(created.code, 0, created.stderr);
    assert.equal(await phase(name), 'Ready');
  };
  const stoppedWithin = async (name: string, ms: number) => {
    const since = Date.now();
    await eventually(
      async () => ((await phase(name)) === 'Stopped' ? true : undefined),
      ms,
      250,
      `${name} idle-suspended`,
    );
    return Date.now() - since;
  };

  before(async () => {
    requireOpenShell();
    requireSsh();
    // ATEFLOW_GATEWAY_API=off here shows the busy sandboxes suspended: the tests can fail.
    dev = await startTestDevStack(0, {
      gateway: true,
      env: { ATEFLOW_GATEWAY_API: process.env.ATEFLOW_GATEWAY_API ?? '' },
    });
    await ssh.register(); // ssh-proxy's name mode resolves a registered gateway
  });
  after(async () => {
    await dev?.teardown();
  });

  it('runs a command over SSH; the usage stream sees the session open, then closed', async () => {
    await create('hello', '0', ['sleep', 'infinity']); // idle suspend off: only the stream is watched
    const id = await idOf('hello');
    const uses: string[] = [];
    const watcher = new GatewayUsageWatcher({
      url: gateway().endpoint,
      onUse: (sid, line) => sid === id && uses.push(line),
    });
    try {
      watcher.watch(id);
      await sleep(1_000);
      const first = await ssh.run('hello', 'echo "hello from $(id -un) in $(pwd)"');
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /^hello from sandbox in \//);
      console.log(`# ssh → command output in ${first.ms} ms`);
      await eventually(() => (uses.length ? true : undefined), 10_000, 50, 'the SSH use');

      // A session that lasts: open while it runs, closed after.
      const long = ssh.run('hello', 'sleep 4; echo done');
      await eventually(() => (watcher.openRelays(id) > 0 ? true : undefined), 10_000, 50, 'the open relay');
      const done = await long;
      assert.equal(done.code, 0, done.stderr);
      assert.equal(done.stdout.trim(), 'done');
      await eventually(
        () => (watcher.openRelays(id) === 0 ? true : undefined),
        10_000,
        50,
        'the relay closed',
      );
    } finally {
      watcher.close();
    }
  });

  it('never suspends a sandbox used over SSH every 2 s; left alone it is suspended', async () => {
    await create('ssh-busy', `${IDLE_TIMEOUT_S}s`, ['sleep', 'infinity']);
    const until = Date.now() + 3 * IDLE_TIMEOUT_S * 1000;
    let sessions = 0;
    while (Date.now() < until) {
      const used = await ssh.run('ssh-busy', 'echo working');
      assert.equal(used.code, 0, `ssh ${sessions} failed: ${used.stderr}`);
      assert.equal(used.stdout.trim(), 'working');
      sessions++;
      await sleep(2_000);
    }
    assert.equal(
      await phase('ssh-busy'),
      'Ready',
      `suspended although used every 2 s (${sessions} sessions)`,
    );
    const ms = await stoppedWithin('ssh-busy', 30_000);
    console.log(
      `# ${sessions} ssh sessions, never suspended; left alone → Stopped after ${seconds(ms)} (idle timeout ${IDLE_TIMEOUT_S} s)`,
    );
  });

  it('never suspends a sandbox while a port-forward carries traffic; closed, it is suspended', async () => {
    const port = await freePort(); // the same port on both sides: `forward start` forwards P to P
    await create('web', `${IDLE_TIMEOUT_S}s`, [
      'python3',
      '-m',
      'http.server',
      String(port),
      '--bind',
      '127.0.0.1',
    ]);
    const url = `http://127.0.0.1:${port}/`;
    // The forward as a user runs it, in the foreground, from the registered gateway.
    const env = {
      ...withoutOpenShellVars(process.env),
      ...gateway().cliEnv,
      OPENSHELL_GATEWAY: GATEWAY_NAME,
    };
    delete (env as Record<string, string>).OPENSHELL_GATEWAY_ENDPOINT;
    const forward: ChildProcess = spawn(requireOpenShell().cli, ['forward', 'start', String(port), 'web'], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true, // its own group: the ssh it spawns goes down with it
    });
    let stderr = '';
    forward.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    const stopForward = () => {
      try {
        process.kill(-forward.pid!, 'SIGTERM');
      } catch {
        // gone
      }
    };
    try {
      const opened = Date.now();
      const get = async () => {
        const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        return res.headers.get('server') ?? '';
      };
      await eventually(
        async () => ((await get().catch(() => '')).includes('SimpleHTTP') ? true : undefined),
        30_000,
        200,
        `the forward (${stderr.trim()})`,
      );
      console.log(`# forward start → first response through the tunnel in ${seconds(Date.now() - opened)}`);
      const until = Date.now() + 3 * IDLE_TIMEOUT_S * 1000;
      let requests = 0;
      while (Date.now() < until) {
        assert.match(await get(), /SimpleHTTP/, `request ${requests} through the forward`);
        requests++;
        await sleep(2_000);
      }
      assert.equal(
        await phase('web'),
        'Ready',
        `suspended although forwarded every 2 s (${requests} requests)`,
      );
      stopForward();
      const ms = await stoppedWithin('web', 30_000);
      console.log(
        `# ${requests} requests through the forward, never suspended; forward closed → Stopped after ${seconds(ms)}`,
      );
    } finally {
      stopForward();
    }
  });
});
