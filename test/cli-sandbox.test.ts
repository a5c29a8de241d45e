// `ateflow sandbox …` as a user runs it: the compiled CLI (dist/) as a child process against a
// facade over its socket. Every command with good and bad input: what it prints and its exit
// code (the table in src/cli/exit.ts), sandboxes by id and by name, every wait bounded.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { EXIT } from '../src/cli/exit';
import { ateflow, buildCli, type Run } from './helpers/cli';
import { PINNED_IMAGE, startFacadeStack, type FacadeStack } from './helpers/stack';

interface Listed {
  id: string;
  name: string;
  workspace: string;
  state: string;
  workerPod: string;
  idleTimeoutMs: number;
  hold?: { reason: string };
}

const expectExit = (run: Run, code: number, what: string) =>
  assert.equal(run.code, code, `${what}: exit ${run.code}, expected ${code}\n${run.stdout}\n${run.stderr}`);

describe('ateflow sandbox CLI', () => {
  let f: FacadeStack;
  const id = randomUUID();
  const nosuch = randomUUID();
  const cli = (...args: string[]) => ateflow(['sandbox', '--driver', f.settings.socketPath, ...args]);
  const sim = (...args: string[]) => ateflow(['sim', '--admin', f.stack.sim.adminAddress, ...args]);
  const json = async <T>(...args: string[]): Promise<T> => {
    const run = await cli(...args, '-o', 'json');
    expectExit(run, EXIT.ok, args.join(' '));
    return JSON.parse(run.stdout) as T;
  };
  const createDetached = async (name: string, workspace = 'default') => {
    const run = await cli(
      'create',
      '--name',
      name,
      '--workspace',
      workspace,
      '--image',
      PINNED_IMAGE,
      '-o',
      'json',
    );
    expectExit(run, EXIT.ok, `create ${name}`);
    return JSON.parse(run.stdout) as Listed;
  };

  before(async () => {
    buildCli();
    f = await startFacadeStack();
  });
  after(async () => f?.teardown());

  it('create: waits until it runs, showing progress; refuses bad input with the right code', async () => {
    const run = await cli(
      'create',
      '--id',
      id,
      '--name',
      'cli-box',
      '--image',
      PINNED_IMAGE,
      '--idle-timeout',
      '45m',
      '-o',
      'json',
    );
    expectExit(run, EXIT.ok, 'create');
    const sandbox = JSON.parse(run.stdout) as Listed;
    assert.equal(sandbox.id, id);
    assert.equal(sandbox.state, 'RUNNING');
    assert.equal(sandbox.idleTimeoutMs, 45 * 60_000);
    assert.match(run.stderr, /accepted/);
    assert.match(run.stderr, /create .*: done in/);

    const unpinned = await cli('create', '--image', 'ubuntu:24.04', '--detach');
    expectExit(unpinned, EXIT.refused, 'unpinned image');
    assert.match(unpinned.stderr, /^ateflow: .*not pinned by digest/m);
    const badDuration = await cli('create', '--image', PINNED_IMAGE, '--idle-timeout', 'soon');
    expectExit(badDuration, EXIT.usage, 'bad --idle-timeout');
    assert.match(badDuration.stderr, /--idle-timeout <duration>.*"soon" is not a duration/);
    const badEnv = await cli('create', '--image', PINNED_IMAGE, '--env', 'NOEQUALS');
    expectExit(badEnv, EXIT.usage, 'bad --env');
    assert.match(badEnv.stderr, /--env expects KEY=VALUE, got "NOEQUALS"/);
    const taken = await cli('create', '--name', 'cli-box', '--image', PINNED_IMAGE);
    expectExit(taken, EXIT.refused, 'a name taken in the workspace');
    assert.match(taken.stderr, new RegExp(`already has a sandbox named "cli-box" \\(${id}\\)`));
  });

  it('create: a wait that cannot finish ends at --timeout, wherever the flag is placed', async () => {
    const slowId = randomUUID();
    const fault = await sim('fault', '*', '--actor', slowId, '--code', 'OK', '--latency-ms', '6000');
    expectExit(fault, EXIT.ok, 'inject latency');
    const slow = await cli('create', '--id', slowId, '--image', PINNED_IMAGE, '--timeout', '2s');
    expectExit(slow, EXIT.unavailable, 'create past --timeout');
    assert.match(slow.stderr, /ateflow: sandbox .* did not reach RUNNING within --timeout 2s/);
    assert.ok(slow.ms < 6_000, `took ${slow.ms} ms`);
    expectExit(await sim('clear-faults'), EXIT.ok, 'clear faults');
    expectExit(await cli('delete', slowId), EXIT.ok, 'delete the slow one');
    const badTimeout = await cli('list', '--timeout', 'forever');
    expectExit(badTimeout, EXIT.usage, 'bad --timeout');
    expectExit(await cli('list', '--timeout', '0'), EXIT.usage, '--timeout 0');
    const tiny = await cli('get', id, '--timeout', '1ms');
    expectExit(tiny, EXIT.unavailable, 'get within 1ms');
    assert.match(tiny.stderr, /no answer within --timeout 1ms/);
  });

  it('get and list: by id or by name; unknown is not found; an ambiguous name lists the candidates', async () => {
    const list = await cli('list');
    expectExit(list, EXIT.ok, 'list');
    assert.match(list.stdout, /^ID\s+NAME\s+WORKSPACE\s+STATE/);
    assert.match(list.stdout, new RegExp(`${id}\\s+cli-box\\s+default\\s+RUNNING`));
    expectExit(await cli('list', '-o', 'xml'), EXIT.usage, 'list -o xml');

    const byName = await json<Listed>('get', 'cli-box');
    assert.equal(byName.id, id);
    const byId = await cli('get', id, '-o', 'yaml');
    expectExit(byId, EXIT.ok, 'get by id');
    assert.match(byId.stdout, /name: cli-box/);
    for (const missing of [nosuch, 'no-such-name', 'Not A Name']) {
      const run = await cli('get', missing);
      expectExit(run, EXIT.notFound, `get ${missing}`);
      assert.match(run.stderr, /ateflow: no sandbox with id or name ".*"/);
    }
    expectExit(await cli('get'), EXIT.usage, 'get without a sandbox');

    const a = await createDetached('twin', 'team-a');
    const b = await createDetached('twin', 'team-b');
    const ambiguous = await cli('get', 'twin');
    expectExit(ambiguous, EXIT.usage, 'ambiguous name');
    assert.match(ambiguous.stderr, /"twin" names 2 sandboxes; give the id or --workspace/);
    assert.match(ambiguous.stderr, new RegExp(`${a.id}\\s+team-a`));
    assert.match(ambiguous.stderr, new RegExp(`${b.id}\\s+team-b`));
    assert.equal((await json<Listed>('get', 'twin', '--workspace', 'team-b')).id, b.id);
    expectExit(await cli('get', 'twin', '-w', 'team-c'), EXIT.notFound, 'name in another workspace');
    const onlyA = await json<Listed[]>('list', '--workspace', 'team-a');
    assert.deepEqual(
      onlyA.map((s) => s.id),
      [a.id],
    );
    for (const twin of [a, b]) expectExit(await cli('delete', twin.id), EXIT.ok, 'delete twin');
  });

  it('stop and start by name; a start that leaves the sandbox FAILED exits 6', async () => {
    const stop = await cli('stop', 'cli-box');
    expectExit(stop, EXIT.ok, 'stop');
    assert.match(stop.stdout, /state\s+SUSPENDED/);
    assert.match(stop.stderr, /stop .*: done in/);
    expectExit(await cli('stop', nosuch), EXIT.notFound, 'stop unknown');

    const fault = await sim(
      'fault',
      'ResumeActor',
      '--code',
      'FAILED_PRECONDITION',
      '--count',
      '1',
      '--leave-transitional',
    );
    expectExit(fault, EXIT.ok, 'inject a failing resume');
    const failed = await cli('start', 'cli-box');
    expectExit(failed, EXIT.sandboxFailed, 'start that fails');
    assert.match(failed.stderr, /ateflow: start .*: the sandbox is FAILED/);
    assert.match(failed.stdout, /state\s+FAILED/);
    // FAILED is not a dead end: start retries.
    const start = await cli('start', 'cli-box');
    expectExit(start, EXIT.ok, 'start again');
    assert.match(start.stdout, /state\s+RUNNING/);
    expectExit(await cli('start', 'no-such-name'), EXIT.notFound, 'start unknown');
  });

  it('checkpoint, touch, idle-timeout and migrate: good input, unknown sandboxes, bad values', async () => {
    const checkpoint = await cli('checkpoint', 'cli-box');
    expectExit(checkpoint, EXIT.ok, 'checkpoint');
    assert.match(checkpoint.stdout, /state\s+RUNNING/);
    expectExit(await cli('checkpoint', nosuch), EXIT.notFound, 'checkpoint unknown');

    expectExit(await cli('touch', 'cli-box'), EXIT.ok, 'touch');
    expectExit(await cli('touch', 'no-such-name'), EXIT.notFound, 'touch unknown');

    const idle = await cli('idle-timeout', 'cli-box', '10m');
    expectExit(idle, EXIT.ok, 'idle-timeout');
    assert.match(idle.stdout, /idle timeout\s+10m/);
    const badIdle = await cli('idle-timeout', 'cli-box', 'soon');
    expectExit(badIdle, EXIT.usage, 'idle-timeout soon');
    assert.match(badIdle.stderr, /"soon" is not a duration/);
    expectExit(await cli('idle-timeout', nosuch, '10m'), EXIT.notFound, 'idle-timeout unknown');

    const before = await json<Listed>('get', 'cli-box');
    const migrate = await cli('migrate', 'cli-box', '--reason', 'cli test');
    expectExit(migrate, EXIT.ok, 'migrate');
    const moved = await json<Listed>('get', 'cli-box');
    assert.equal(moved.state, 'RUNNING');
    assert.notEqual(moved.workerPod, before.workerPod);
    const badSelector = await cli('migrate', 'cli-box', '--selector', 'novalue');
    expectExit(badSelector, EXIT.usage, 'migrate --selector novalue');
    assert.match(badSelector.stderr, /--selector expects KEY=VALUE/);
    expectExit(await cli('migrate', nosuch), EXIT.notFound, 'migrate unknown');
    type WithSelector = { state: string; workerPod: string; workerSelector?: Record<string, string> };
    const prior = await json<WithSelector>('get', 'cli-box');
    const noPool = await cli('migrate', 'cli-box', '--selector', 'pool=nonexistent');
    expectExit(noPool, EXIT.refused, 'migrate --selector pool=nonexistent');
    assert.match(noPool.stderr, /no worker pool nonexistent .*the pools are: default\. Nothing was changed/);
    const kept = await json<WithSelector>('get', 'cli-box');
    assert.equal(kept.state, 'RUNNING');
    assert.equal(kept.workerPod, prior.workerPod);
    assert.deepEqual(kept.workerSelector, prior.workerSelector);
  });

  it('drain: a node empties (0); a pool that cannot be left reports failures (2); bad flags (1)', async () => {
    const { workerPod } = await json<Listed>('get', 'cli-box');
    const workers = JSON.parse((await sim('-o', 'json', 'workers')).stdout) as {
      pod: string;
      node: string;
    }[];
    const node = workers.find((w) => w.pod === workerPod)?.node;
    assert.ok(node, `no node for ${workerPod}`);
    const drain = await cli('drain', '--node', node, '--reason', 'cli test');
    expectExit(drain, EXIT.ok, 'drain a node');
    assert.match(drain.stdout, new RegExp(`${id}\\s+MIGRATED`));
    // Without a selector that excludes it, the only pool is where every sandbox lands again.
    const stuck = await cli('drain', '--pool', 'default');
    expectExit(stuck, EXIT.failed, 'drain the only pool');
    assert.match(stuck.stdout, new RegExp(`${id}\\s+FAILED`));
    assert.match(stuck.stderr, /ateflow: (\d+) of \1 sandboxes were not moved off/);
    expectExit(await cli('drain'), EXIT.usage, 'drain without --pool or --node');
    expectExit(await cli('drain', '--pool', 'a', '--node', 'b'), EXIT.usage, 'drain with both');
    expectExit(await cli('drain', '--pool', 'default', '--parallelism', '0'), EXIT.usage, 'parallelism 0');
  });

  it('hold and release: a held sandbox refuses start (5); a hold needs a reason (1)', async () => {
    const hold = await cli('hold', 'cli-box', '--reason', 'quarantine');
    expectExit(hold, EXIT.ok, 'hold');
    assert.match(hold.stdout, /hold\s+quarantine/);
    const refused = await cli('start', 'cli-box');
    expectExit(refused, EXIT.refused, 'start while held');
    assert.match(refused.stderr, /on hold \(quarantine\); release it first/);
    expectExit(await cli('hold', 'cli-box'), EXIT.usage, 'hold without --reason');
    expectExit(await cli('hold', nosuch, '--reason', 'x'), EXIT.notFound, 'hold unknown');
    const release = await cli('release', 'cli-box');
    expectExit(release, EXIT.ok, 'release');
    assert.doesNotMatch(release.stdout, /^hold/m);
    expectExit(await cli('release', 'no-such-name'), EXIT.notFound, 'release unknown');
    expectExit(await cli('start', 'cli-box'), EXIT.ok, 'start after release');
  });

  it('watch: an unknown sandbox is not found at once; a watch ends at --timeout placed after it', async () => {
    const unknown = await cli('watch', nosuch);
    expectExit(unknown, EXIT.notFound, 'watch unknown');
    assert.ok(unknown.ms < 5_000, `took ${unknown.ms} ms`);
    expectExit(await cli('watch', '--timeout', 'soon'), EXIT.usage, 'watch --timeout soon');

    const watching = cli('watch', 'cli-box', '--timeout', '4s');
    await new Promise((r) => setTimeout(r, 1_000));
    expectExit(await cli('stop', 'cli-box'), EXIT.ok, 'stop while watched');
    const watch = await watching;
    expectExit(watch, EXIT.ok, 'watch');
    assert.match(watch.stdout, new RegExp(`${id}\\s+Normal\\s+\\w+: `));
    assert.match(watch.stderr, /stopped watching after 4s \(--timeout\)/);
    assert.ok(watch.ms >= 4_000 && watch.ms < 10_000, `watched for ${watch.ms} ms`);
  });

  it('history and delete: by name; unknown is not found without "done"; a deleted one keeps its history', async () => {
    const history = await cli('history', 'cli-box');
    expectExit(history, EXIT.ok, 'history');
    assert.match(history.stdout, /^SEQ\s+TIME\s+TYPE\s+REASON\s+MESSAGE/);
    assert.match(history.stdout, /Suspended|Stopped/);
    expectExit(await cli('history', nosuch), EXIT.notFound, 'history unknown');

    const watching = cli('watch', 'cli-box', '--timeout', '30s');
    await new Promise((r) => setTimeout(r, 1_000));
    const deleted = await cli('delete', 'cli-box');
    expectExit(deleted, EXIT.ok, 'delete');
    assert.match(deleted.stdout, new RegExp(`deleted sandbox ${id}`));
    const watch = await watching;
    expectExit(watch, EXIT.ok, 'watch until deleted');
    assert.match(watch.stderr, /was deleted; stopped watching/);
    assert.ok(watch.ms < 20_000, `the watch went on for ${watch.ms} ms after the delete`);

    const again = await cli('delete', id);
    expectExit(again, EXIT.notFound, 'delete again');
    assert.equal(again.stdout, '');
    assert.doesNotMatch(again.stderr, /done/);
    assert.match(again.stderr, /ateflow: no sandbox with id or name/);
    expectExit(await cli('delete', 'no-such-name'), EXIT.notFound, 'delete unknown name');
    const kept = await cli('history', id);
    expectExit(kept, EXIT.ok, 'history of a deleted sandbox');
    assert.match(kept.stdout, /Deleted/);
  });

  it('says when the driver cannot be reached (4) and when the command is unknown (1)', async () => {
    const unreachable = await ateflow(['sandbox', '--driver', '/nonexistent/driver.sock', 'list']);
    expectExit(unreachable, EXIT.unavailable, 'no driver');
    assert.match(unreachable.stderr, /cannot reach the ateflow driver at \/nonexistent\/driver.sock/);
    const unknown = await cli('frobnicate');
    expectExit(unknown, EXIT.usage, 'unknown command');
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  });
});
