// The socket rules the gateway relies on (its only trust boundary): private directory, 0600
// socket, stale socket of ours replaced, anything else refused, removed on exit.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareSocketPath, removeSocket, restrictSocket } from '../src/driver/socket';

const listen = (path: string) =>
  new Promise<Server>((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(path, () => done(server));
  });
const close = (server: Server) => new Promise<void>((done) => server.close(() => done()));
/** A process that is killed while listening leaves its socket file behind (closing cleanly removes it). */
async function leaveStaleSocket(path: string): Promise<void> {
  const child = spawn(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
  ]);
  await once(child.stdout, 'data');
  child.kill('SIGKILL');
  await once(child, 'exit');
}
const mode = (path: string) => lstatSync(path).mode & 0o777;
const isRoot = process.geteuid?.() === 0;

describe('driver socket', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'ateflow-socket-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('creates a private 0700 parent directory and a 0600 socket', async () => {
    const path = join(root, 'fresh', 'nested', 'driver.sock');
    await prepareSocketPath(path);
    assert.equal(mode(join(root, 'fresh', 'nested')), 0o700);
    const server = await listen(path);
    await restrictSocket(path);
    assert.equal(mode(path), 0o600);
    await close(server);
  });

  it('tightens an existing directory of ours to 0700', async () => {
    const dir = join(root, 'loose');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    await prepareSocketPath(join(dir, 'driver.sock'));
    assert.equal(mode(dir), 0o700);
  });

  it('replaces a stale socket of ours (nobody listening)', async () => {
    const path = join(root, 'stale', 'driver.sock');
    await prepareSocketPath(path);
    await leaveStaleSocket(path);
    assert.ok(lstatSync(path).isSocket(), 'the crashed process left its socket behind');
    await prepareSocketPath(path);
    assert.equal(lstatSync(path, { throwIfNoEntry: false }), undefined);
  });

  it('refuses a socket that another process is serving', async () => {
    const path = join(root, 'live', 'driver.sock');
    await prepareSocketPath(path);
    const server = await listen(path);
    await assert.rejects(prepareSocketPath(path), /another process is already serving/);
    await close(server);
  });

  it('refuses a path that is not a socket', async () => {
    const dir = join(root, 'file');
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'driver.sock'), 'not a socket');
    await assert.rejects(prepareSocketPath(join(dir, 'driver.sock')), /is not a socket; refusing/);
  });

  it('refuses a symlinked directory', async () => {
    const real = join(root, 'real');
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, join(root, 'link'));
    await assert.rejects(prepareSocketPath(join(root, 'link', 'driver.sock')), /not a real directory/);
  });

  it('refuses a shared sticky directory such as /tmp', async () => {
    const dir = join(root, 'shared');
    mkdirSync(dir);
    chmodSync(dir, 0o1777);
    await assert.rejects(prepareSocketPath(join(dir, 'driver.sock')), /shared sticky directory/);
  });

  it(
    'refuses a directory or socket owned by another user',
    { skip: !isRoot && 'needs root to chown' },
    async () => {
      const dir = join(root, 'foreign-dir');
      mkdirSync(dir, { mode: 0o700 });
      chownSync(dir, 4242, 4242);
      await assert.rejects(prepareSocketPath(join(dir, 'driver.sock')), /owned by uid 4242, not by us/);

      const ours = join(root, 'foreign-socket');
      const path = join(ours, 'driver.sock');
      await prepareSocketPath(path);
      await leaveStaleSocket(path);
      chownSync(path, 4242, 4242);
      await assert.rejects(prepareSocketPath(path), /socket of uid 4242, not ours/);
    },
  );

  it('removes only the socket it bound', async () => {
    const path = join(root, 'cleanup', 'driver.sock');
    await prepareSocketPath(path);
    await leaveStaleSocket(path);
    const inode = lstatSync(path).ino;
    await removeSocket(path, inode + 1);
    assert.ok(lstatSync(path).isSocket(), 'a different inode is left alone');
    await removeSocket(path, inode);
    assert.equal(lstatSync(path, { throwIfNoEntry: false }), undefined);
  });
});
