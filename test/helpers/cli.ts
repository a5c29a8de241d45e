// The compiled `ateflow` CLI as a user runs it: a child process of dist/src/cli/main.js, built
// first when stale (scripts/build-cli.sh), with its exit code, output and wall time.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');
export const CLI = resolve(root, 'dist', 'src', 'cli', 'main.js');

/** Compiles dist/ when it is missing or older than the sources (fast when it is not). */
export function buildCli(): void {
  execFileSync(resolve(root, 'scripts', 'build-cli.sh'), {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  env?: Record<string, string>;
  /** Kill the child after this long (a test failure, never an outcome); default 60 s. */
  killAfterMs?: number;
}

/** Runs `ateflow <args>`; a child that outlives `killAfterMs` fails the test. */
export function ateflow(args: string[], options: RunOptions = {}): Promise<Run> {
  const started = Date.now();
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        cwd: root,
        env: { ...process.env, ATEFLOW_LOG_LEVEL: 'warn', ...options.env },
        timeout: options.killAfterMs ?? 60_000,
      },
      (err, stdout, stderr) => {
        const ms = Date.now() - started;
        if (err && err.killed) {
          fail(new Error(`ateflow ${args.join(' ')} did not exit within ${ms} ms\n${stdout}\n${stderr}`));
          return;
        }
        done({ code: err ? Number(err.code) : 0, stdout, stderr, ms });
      },
    );
  });
}

/** Starts `ateflow <args>` in the background (a server: `dev`, `sim start`). */
export function spawnAteflow(
  args: string[],
  env: Record<string, string> = {},
): ChildProcess & { output(): string } {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: root,
    env: { ...process.env, ATEFLOW_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return Object.assign(child, { output: () => output });
}

/** Resolves once `child` has printed something matching `pattern`; fails if it exits first. */
export function waitForOutput(
  child: ChildProcess & { output(): string },
  pattern: RegExp,
  timeoutMs: number,
): Promise<void> {
  return new Promise((done, fail) => {
    const check = () => {
      if (pattern.test(child.output())) finish();
    };
    const exited = (code: number | null) =>
      finish(new Error(`exited (${code}) before printing ${pattern}:\n${child.output()}`));
    const timer = setTimeout(
      () => finish(new Error(`nothing matching ${pattern} within ${timeoutMs} ms:\n${child.output()}`)),
      timeoutMs,
    );
    const finish = (err?: Error) => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      child.off('exit', exited);
      if (err) fail(err);
      else done();
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', exited);
    check();
  });
}

/** Sends SIGINT and resolves with the exit code (fails after `timeoutMs`). */
export function interrupt(child: ChildProcess, timeoutMs = 30_000): Promise<number | null> {
  return new Promise((done, fail) => {
    if (child.exitCode !== null) return done(child.exitCode);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`did not exit within ${timeoutMs} ms of SIGINT`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done(code);
    });
    child.kill('SIGINT');
  });
}
