// End to end through the real OpenShell parts: the unmodified `openshell` CLI talks to a real
// `openshell-gateway`, which drives ateflow (`ateflow dev`'s stack: Temporal dev server, worker,
// facade) as its external compute driver; the simulator runs each sandbox's real
// `openshell-sandbox` supervisor as a process in its own namespaces, which connects back to the
// gateway. Every assertion is on what the CLI shows a user (phases, output, messages) or on what
// is left on this machine. Skips only outside CI when the binaries are absent (scripts/openshell.sh).
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { errorText } from '../src/openshell/cli';
import type { RunningGateway } from '../src/openshell/gateway';
import { DEV_SANDBOX_IMAGE } from '../src/demo/cluster';
import { startTestDevStack, type TestDevStack } from './helpers/dev-stack';
import { openShellCli, openShellSkip, requireOpenShell } from './helpers/openshell';
import { skippable } from './helpers/skip';
import { eventually as pollUntil } from './helpers/sim';

/** Polls a CLI-backed `check` every 200 ms until it gives a value. */
const eventually = <T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 30_000) =>
  pollUntil(check, timeoutMs, 200, what);

const netnsEntries = () => {
  try {
    return readdirSync('/run/netns').sort();
  } catch {
    return [];
  }
};

const { after, before, describe, it } = skippable(openShellSkip);

describe('OpenShell end to end: real gateway, CLI and supervisor drive ateflow', () => {
  let dev: TestDevStack;
  const netnsBefore = netnsEntries();
  const gateway = () => dev.stack.gateway as RunningGateway;
  const { cli, phase } = openShellCli(gateway);
  const ok = async (...args: string[]) => {
    const result = await cli(args);
    assert.equal(result.code, 0, `openshell ${args.join(' ')} failed: ${result.stderr}${result.stdout}`);
    return result;
  };
  const waitForPhase = (name: string, want: string) =>
    eventually(async () => ((await phase(name)) === want ? want : undefined), `${name} ${want}`, 60_000);
  const exec = (name: string, script: string) =>
    cli(['sandbox', 'exec', '-n', name, '--no-tty', '--', 'sh', '-c', script]);
  const timed = async <T>(what: string, work: () => Promise<T>) => {
    const started = Date.now();
    const result = await work();
    console.log(`# ${what}: ${((Date.now() - started) / 1000).toFixed(2)} s`);
    return result;
  };
  const processes = () => dev.stack.sim.core.processes?.list() ?? [];

  before(async () => {
    requireOpenShell();
    dev = await startTestDevStack(0, { gateway: true });
  });
  after(async () => {
    await dev?.teardown();
  });

  it('creates a sandbox without --from (the default image) and the gateway shows it Ready', async () => {
    const created = await timed('create → Ready (latency ×0)', () =>
      ok('sandbox', 'create', '--name', 'e1', '--detach', '--no-tty', '--', 'sleep', 'infinity'),
    );
    assert.match(created.stdout, /Created sandbox: e1/);
    assert.doesNotMatch(created.stdout, /Sandbox ready/); // nothing says "ready" before the gateway does
    assert.equal(await phase('e1'), 'Ready');
  });

  it('runs exec in the sandbox as its user and returns the output', async () => {
    const result = await exec('e1', 'echo hello from $(id -un)');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /hello from sandbox/);
  });

  it('stops: Stopped, exec refused; starts: Ready again with process memory intact', async () => {
    // A value that lives only in a process's memory: its argv (read through /proc/<pid>/cmdline,
    // which other exec sessions may read, unlike environ), plus the process's start time. A
    // restarted sandbox would have neither; a resumed one has both, unchanged.
    const started = await exec(
      'e1',
      "nohup sh -c 'while :; do sleep 1; done' memory-kept-$$ >/dev/null 2>&1 & echo $!",
    );
    const memoryPid = started.stdout.trim();
    assert.match(memoryPid, /^\d+$/, started.stderr);
    const readMemory = `tr '\\0' ' ' < /proc/${memoryPid}/cmdline; echo; cut -d' ' -f22 /proc/${memoryPid}/stat`;
    const before = (await exec('e1', readMemory)).stdout.trim();
    assert.match(before, /memory-kept-\d+\s+\d+$/);

    await timed('stop → Stopped', () => ok('sandbox', 'stop', 'e1'));
    assert.equal(await phase('e1'), 'Stopped');
    const refused = await exec('e1', 'true');
    assert.notEqual(refused.code, 0);
    assert.match(errorText(refused.stderr), /not ready \(phase: Stopped\)/);
    const e1Processes = processes().filter((p) => p.atespace !== 'ate-golden');
    assert.ok(
      e1Processes.length > 0 && e1Processes.every((p) => p.state !== 'running'),
      'frozen while stopped',
    );

    await timed('start → Ready (latency ×0)', () => ok('sandbox', 'start', 'e1'));
    assert.equal(await phase('e1'), 'Ready');
    const afterStart = await exec('e1', readMemory);
    assert.equal(afterStart.stdout.trim(), before, 'the same process, with the same memory, after start');
  });

  it('creates with --from a pinned image', async () => {
    await ok(
      'sandbox',
      'create',
      '--name',
      'e2',
      '--from',
      DEV_SANDBOX_IMAGE,
      '--detach',
      '--no-tty',
      '--',
      'sleep',
      'infinity',
    );
    assert.equal(await phase('e2'), 'Ready');
    assert.match((await exec('e2', 'echo two')).stdout, /two/);
  });

  it('shows the user our message for each kind of bad request, and creates nothing', async () => {
    const bad: [string[], RegExp][] = [
      [
        ['--from', 'busybox:latest'],
        /\\?"busybox:latest\\?" is not pinned by digest.*--from <image>@sha256:<digest>/,
      ],
      [
        ['--driver-config-json', '{"ateflow":{"bogus":1}}'],
        /driver_config key \\?"bogus\\?" is not supported/,
      ],
      [['--driver-config-json', '{"ateflow":{"idle_timeout":"soon"}}'], /\\?"soon\\?" is not a duration/],
      [['--gpu'], /GPU/],
    ];
    for (const [flags, message] of bad) {
      const result = await cli([
        'sandbox',
        'create',
        '--name',
        'bad',
        ...flags,
        '--detach',
        '--no-tty',
        '--',
        'true',
      ]);
      assert.notEqual(result.code, 0, `accepted: ${flags.join(' ')}`);
      assert.match(errorText(result.stderr), message);
    }
    assert.doesNotMatch((await ok('sandbox', 'list')).stdout, /\bbad\b/);
  });

  it('survives a gateway restart: sandboxes come back Ready and exec works', async () => {
    await gateway().restart();
    await waitForPhase('e1', 'Ready');
    assert.match((await exec('e1', 'echo after gateway restart')).stdout, /after gateway restart/);
  });

  it('survives an ateflow restart: the sandbox is restored and the gateway shows it Ready', async () => {
    await timed('ateflow restart → Ready', async () => {
      await dev.restart();
      await waitForPhase('e1', 'Ready');
    });
    assert.match((await exec('e1', 'echo after ateflow restart')).stdout, /after ateflow restart/);
  });

  it('deletes: gone from the gateway, nothing left in the simulator or on this machine', async () => {
    const hostPids = processes().flatMap((p) => p.pids);
    assert.ok(hostPids.length > 0);
    for (const name of ['e1', 'e2']) {
      const deleted = await ok('sandbox', 'delete', name);
      assert.match(deleted.stdout, /Deleted sandbox/);
    }
    await eventually(
      async () => ((await cli(['sandbox', 'list'])).stdout.match(/\be[12]\b/) ? undefined : true),
      'the gateway rows to go',
    );
    await eventually(
      () => Promise.resolve(processes().length === 0 || undefined),
      'every actor process to go',
    );
    const actors = [...dev.stack.sim.core.store.allActors()].filter((a) => a.atespace !== 'ate-golden');
    assert.deepEqual(
      actors.map((a) => a.actorId),
      [],
      'no actors left',
    );
    assert.deepEqual(netnsEntries(), netnsBefore, 'no /run/netns leftovers');
    const alive = hostPids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    assert.deepEqual(alive, [], 'no orphaned processes');
  });
});
