// The gateway's trust boundary is the socket itself (no TLS, no auth metadata), so we follow
// OpenShell's rules for external drivers: a private parent directory (0700, ours, not a shared
// sticky directory such as /tmp), a 0600 socket, a stale socket of ours replaced, anything else
// refused, and the socket removed on exit.
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { dirname, resolve } from 'node:path';

const STICKY_BIT = 0o1000;
const euid = () => process.geteuid?.() ?? 0;

/** Refuses an unsafe location; makes the directory private; removes a stale socket of ours. */
export async function prepareSocketPath(path: string): Promise<void> {
  const socketPath = resolve(path);
  const dir = dirname(socketPath);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const dirStat = await lstat(dir);
  if (!dirStat.isDirectory()) {
    throw new Error(`socket directory ${dir} is not a real directory (a symlink?); use a private directory`);
  }
  if (dirStat.uid !== euid()) {
    throw new Error(`socket directory ${dir} is owned by uid ${dirStat.uid}, not by us (uid ${euid()})`);
  }
  if (dirStat.mode & STICKY_BIT) {
    throw new Error(
      `socket directory ${dir} is a shared sticky directory; put the socket in a private directory`,
    );
  }
  await chmod(dir, 0o700);

  const existing = await lstat(socketPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!existing) return;
  if (!existing.isSocket()) {
    throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
  }
  if (existing.uid !== euid()) {
    throw new Error(`${socketPath} is a socket of uid ${existing.uid}, not ours; refusing to replace it`);
  }
  if (await socketAnswers(socketPath)) {
    throw new Error(`another process is already serving on ${socketPath}; stop it or choose another path`);
  }
  await unlink(socketPath);
}

/** Restricts a freshly bound socket to its owner. */
export async function restrictSocket(path: string): Promise<void> {
  await chmod(path, 0o600);
}

/** Removes the socket if it is still the one we bound (same inode). */
export async function removeSocket(path: string, boundInode: number): Promise<void> {
  const current = await lstat(path).catch(() => undefined);
  if (current?.isSocket() && current.ino === boundInode) await unlink(path).catch(() => undefined);
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((done) => {
    const probe = createConnection({ path });
    probe.once('connect', () => (probe.destroy(), done(true)));
    probe.once('error', () => done(false));
  });
}
