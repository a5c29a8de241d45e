// `ateflow sandbox …` as a user runs it: a child process against a facade over its socket.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { PINNED_IMAGE, startFacadeStack, type FacadeStack } from './helpers/stack';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('ateflow sandbox CLI', () => {
  let f: FacadeStack;
  const id = randomUUID();
  const cli = (...args: string[]) =>
    new Promise<Run>((done) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'sandbox', '--driver', f.settings.socketPath, ...args],
        { env: { ...process.env, ATEFLOW_LOG_LEVEL: 'warn' } },
        (err, stdout, stderr) => done({ code: err ? Number(err.code) : 0, stdout, stderr }),
      );
    });

  before(async () => {
    f = await startFacadeStack();
  });
  after(async () => f?.teardown());

  it('creates a sandbox, showing progress, and waits until it runs', async () => {
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
    assert.equal(run.code, 0, run.stderr);
    const sandbox = JSON.parse(run.stdout) as { id: string; state: string; idleTimeoutMs: number };
    assert.equal(sandbox.id, id);
    assert.equal(sandbox.state, 'RUNNING');
    assert.equal(sandbox.idleTimeoutMs, 45 * 60_000);
    assert.match(run.stderr, /accepted/);
    assert.match(run.stderr, /create .*: done in/);
  });

  it('lists as a table and stops, then gets as yaml', async () => {
    const list = await cli('list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID\s+NAME\s+WORKSPACE\s+STATE/);
    assert.match(list.stdout, new RegExp(`${id}\\s+cli-box\\s+default\\s+RUNNING`));
    const stop = await cli('stop', id);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /state\s+SUSPENDED/);
    const get = await cli('get', id, '-o', 'yaml');
    assert.match(get.stdout, /state: SUSPENDED/);
  });

  it('uses meaningful exit codes', async () => {
    const missing = await cli('get', randomUUID());
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /ateflow: sandbox .* not found/);
    const refused = await cli('create', '--image', 'ubuntu:24.04', '--detach');
    assert.equal(refused.code, 4);
    assert.match(refused.stderr, /not pinned by digest/);
    const badFlag = await cli('migrate', id, '--selector', 'novalue');
    assert.equal(badFlag.code, 4);
  });

  it('prints the history and deletes', async () => {
    const history = await cli('history', id);
    assert.match(history.stdout, /^SEQ\s+TIME\s+TYPE\s+REASON\s+MESSAGE/);
    assert.match(history.stdout, /Suspended|Stopped/);
    const deleted = await cli('delete', id);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, /deleted sandbox/);
    const again = await cli('delete', id);
    assert.equal(again.code, 3);
    assert.match(again.stdout, /already gone/);
  });
});
