// `ateflow` itself, `ateflow dev` and `ateflow demo` as a user runs them: the compiled CLI as a
// child process. Help and version, the exit-code table in every group's help, usage errors, and
// the real thing: a compiled `ateflow dev` (its worker bundles the compiled workflows) on free
// ports, the helpdesk demo through `ateflow demo` against it, and Ctrl-C.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { version } from '../package.json';
import { EXIT } from '../src/cli/exit';
import { ateflow, buildCli, interrupt, spawnAteflow, waitForOutput, type Run } from './helpers/cli';
import { freePort } from './helpers/dev-stack';

const expectExit = (run: Run, code: number, what: string) =>
  assert.equal(run.code, code, `${what}: exit ${run.code}, expected ${code}\n${run.stdout}\n${run.stderr}`);

const TABLE = [
  /^ {2}0 {2}ok$/m,
  /^ {2}1 {2}usage or bad input/m,
  /^ {2}2 {2}failed/m,
  /^ {2}3 {2}not found/m,
  /^ {2}4 {2}unavailable or timed out/m,
  /^ {2}5 {2}refused/m,
  /^ {2}6 {2}the sandbox is FAILED/m,
];

describe('ateflow CLI: top level, dev and demo', () => {
  before(() => buildCli());

  it('prints its version and help, the exit codes in every group; usage errors exit 1', async () => {
    const v = await ateflow(['--version']);
    expectExit(v, EXIT.ok, '--version');
    assert.equal(v.stdout.trim(), version);
    for (const args of [
      ['--help'],
      ['sandbox', '--help'],
      ['sim', '--help'],
      ['demo', '--help'],
      ['dev', '--help'],
    ]) {
      const help = await ateflow(args);
      expectExit(help, EXIT.ok, args.join(' '));
      for (const line of TABLE) assert.match(help.stdout, line, `${args.join(' ')}: ${line}`);
    }
    assert.match((await ateflow(['help', 'sandbox'])).stdout, /Usage: ateflow sandbox/);
    assert.match((await ateflow(['sandbox', 'list', '--help'])).stdout, /--timeout <duration>/);
    const unknown = await ateflow(['frobnicate']);
    expectExit(unknown, EXIT.usage, 'unknown command');
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    expectExit(await ateflow(['--bogus']), EXIT.usage, 'unknown option');
    expectExit(await ateflow([]), EXIT.usage, 'no command');
  });

  it('dev and demo: bad flags are usage errors (1); no stack is unavailable (4)', async () => {
    for (const args of [
      ['dev', '--latency-scale', 'fast'],
      ['dev', '--cluster', 'a.yaml', '--kube', 'b'],
      ['dev', '--data-plane-port', '70000'],
      ['dev', '--gateway-port', 'x'],
      ['demo', '--timeout', 'soon'],
      ['demo', '--bob-idle', '0'],
    ]) {
      const run = await ateflow(args);
      expectExit(run, EXIT.usage, args.join(' '));
      assert.ok(run.ms < 10_000, `${args.join(' ')} took ${run.ms} ms`);
    }
    const noStack = await ateflow(['demo', '--driver', '/nonexistent/compute-driver.sock']);
    expectExit(noStack, EXIT.unavailable, 'demo without a stack');
    assert.match(noStack.stderr, /no compute driver socket at \/nonexistent\/compute-driver.sock/);
  });

  describe('a compiled ateflow dev', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ateflow-cli-dev-'));
    let env: Record<string, string> = {};
    let dev: ReturnType<typeof spawnAteflow> | undefined;

    before(async () => {
      const [temporal, ui, ateapi, admin, dataPlane, driverTcp] = await Promise.all(
        Array.from({ length: 6 }, () => freePort()),
      );
      env = {
        ATEFLOW_TEMPORAL_ADDRESS: `127.0.0.1:${temporal}`,
        ATEFLOW_UI_PORT: String(ui),
        ATEFLOW_ATEAPI_ENDPOINT: `127.0.0.1:${ateapi}`,
        ATEFLOW_SIM_ADMIN: `127.0.0.1:${admin}`,
        ATEFLOW_DATA_DIR: join(dir, 'data'),
        ATEFLOW_OBSERVE_INTERVAL: '200ms',
        ATEFLOW_WATCH_POLL_INTERVAL: '100ms',
      };
      const args = [
        'dev',
        '--latency-scale',
        '0.02',
        '--no-gateway',
        '--data-plane-port',
        String(dataPlane),
        '--driver-tcp-port',
        String(driverTcp),
      ];
      // dev waits for the Temporal frontend to be healthy, not only listening: no retry here.
      dev = spawnAteflow(args, env);
      await waitForOutput(dev, /Press Ctrl-C to stop\./, 120_000);
    });
    after(async () => {
      if (dev && dev.exitCode === null) dev.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    it('runs the helpdesk demo through `ateflow demo` (0); a failing step exits 2', async () => {
      const demo = await ateflow(['demo', '--bob-idle', '8s', '--timeout', '20s'], {
        env,
        killAfterMs: 180_000,
      });
      expectExit(demo, EXIT.ok, 'demo');
      assert.match(demo.stdout, /All 9 steps passed/);
      // The sandboxes it left are there by name.
      const bob = await ateflow(['sandbox', 'get', 'bob', '--workspace', 'helpdesk', '-o', 'json'], { env });
      expectExit(bob, EXIT.ok, 'get bob');
      assert.equal((JSON.parse(bob.stdout) as { name: string }).name, 'bob');
      // No simulator admin API: the story cannot be told.
      const broken = await ateflow(['demo', '--sim-admin', '127.0.0.1:1', '--timeout', '5s'], {
        env,
        killAfterMs: 120_000,
      });
      expectExit(broken, EXIT.failed, 'demo without the admin API');
      assert.match(broken.stderr, /^ateflow: step \d+ failed: /m);
    });

    it('stops on Ctrl-C with exit 0, keeping its state', async () => {
      assert.ok(dev);
      // The facade waits for its in-flight Temporal calls before its connection closes.
      const code = await interrupt(dev, 60_000);
      assert.equal(code, EXIT.ok, dev.output());
      assert.match(dev.output(), /stopped; state kept for the next start\./);
    });
  });
});
