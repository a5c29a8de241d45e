// Idle means nobody is using the sandbox, seen through the real OpenShell gateway: a sandbox used
// with `openshell sandbox exec` every 2 s for three idle timeouts is never suspended; left alone it
// is suspended (the gateway shows Stopped, as after `openshell sandbox stop`), and the one standard
// action `openshell sandbox start` brings it back Ready. Also: the gateway usage stream reports an
// exec and nothing for an idle sandbox. SSH and port-forwarding: test/openshell-ssh.test.ts.
// Skips only outside CI without the binaries.
import assert from 'node:assert/strict';
import type { RunningGateway } from '../src/openshell/gateway';
import { GatewayUsageWatcher } from '../src/usage/gateway-usage';
import { startTestDevStack, type TestDevStack } from './helpers/dev-stack';
import { openShellCli, openShellSkip, requireOpenShell } from './helpers/openshell';
import { skippable } from './helpers/skip';
import { eventually } from './helpers/sim';

const IDLE_TIMEOUT_S = 6;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const { after, before, describe, it } = skippable(openShellSkip);

describe('idle suspend follows use through the real gateway', () => {
  let dev: TestDevStack;
  const gateway = () => dev.stack.gateway as RunningGateway;
  const { cli: run, phase } = openShellCli(gateway);
  const cli = (...args: string[]) => run(args);
  const idOf = async (name: string) => /Id:\s*(\S+)/.exec((await cli('sandbox', 'get', name)).stdout)![1];
  const create = async (name: string, idleTimeout = `${IDLE_TIMEOUT_S}s`) => {
    const config = JSON.stringify({ ateflow: { idle_timeout: idleTimeout } });
    const created = await cli(
      'sandbox',
      'create',
      '--name',
      name,
      '--driver-config-json',
      config,
      '--detach',
      '--no-tty',
      '--',
      'sleep',
      'infinity',
    );
    assert.equal(created.code, 0, created.stderr);
  };

  before(async () => {
    requireOpenShell();
    // ATEFLOW_GATEWAY_API=off here shows the busy sandbox suspended: the test can fail.
    dev = await startTestDevStack(0, {
      gateway: true,
      env: { ATEFLOW_GATEWAY_API: process.env.ATEFLOW_GATEWAY_API ?? '' },
    });
  });
  after(async () => {
    await dev?.teardown();
  });

  it('sees exec as a use, and nothing while the sandbox is left alone', async () => {
    await create('watched', '0'); // idle suspend off: this test only watches the stream
    const id = await idOf('watched');
    const uses: string[] = [];
    const watcher = new GatewayUsageWatcher({
      url: gateway().endpoint,
      onUse: (sid, line) => sid === id && uses.push(line),
    });
    try {
      watcher.watch(id);
      await sleep(3_000); // the supervisor's heartbeats and the like are no use
      assert.deepEqual(uses, []);
      const exec = await cli('sandbox', 'exec', '-n', 'watched', '--no-tty', '--', 'true');
      assert.equal(exec.code, 0, exec.stderr);
      await eventually(
        () => (uses.some((l) => /ExecSandbox/.test(l)) ? true : undefined),
        10_000,
        50,
        'the exec use',
      );
    } finally {
      watcher.close();
    }
  });

  it('never suspends a sandbox in use, suspends it when left alone, and start brings it back', async () => {
    await create('busy');
    assert.equal(await phase('busy'), 'Ready');
    const until = Date.now() + 3 * IDLE_TIMEOUT_S * 1000;
    let execs = 0;
    while (Date.now() < until) {
      const exec = await cli('sandbox', 'exec', '-n', 'busy', '--no-tty', '--', 'echo', 'working');
      assert.equal(exec.code, 0, `exec ${execs} refused: ${exec.stderr}`);
      execs++;
      await sleep(2_000);
    }
    assert.equal(await phase('busy'), 'Ready', `suspended although used every 2 s (${execs} execs)`);

    const leftAlone = Date.now();
    await eventually(
      async () => ((await phase('busy')) === 'Stopped' ? true : undefined),
      30_000,
      250,
      'the idle suspend',
    );
    console.log(
      `# left alone → Stopped after ${((Date.now() - leftAlone) / 1000).toFixed(1)} s (idle timeout ${IDLE_TIMEOUT_S} s)`,
    );

    const started = Date.now();
    const start = await cli('sandbox', 'start', 'busy');
    assert.equal(start.code, 0, start.stderr);
    console.log(`# openshell sandbox start → Ready: ${((Date.now() - started) / 1000).toFixed(2)} s`);
    assert.equal(await phase('busy'), 'Ready');
    assert.equal((await cli('sandbox', 'exec', '-n', 'busy', '--no-tty', '--', 'true')).code, 0);
  });
});
