// Runs the real `openshell` CLI from code and tests, as a user would (no shell, stdin closed, so
// it never allocates a TTY and a persistent `sandbox create` returns once the sandbox is Ready).
// Output comes back without ANSI codes: the CLI colours its tables and progress lines even when
// piped and with NO_COLOR=1 (only its miette error reports honour NO_COLOR), so we strip them.
import { spawn } from 'node:child_process';
import { withoutOpenShellVars } from './binaries';

export interface CliResult {
  /** Exit code; null when killed (`signal` says why, e.g. on timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

/** `env` is laid over our environment minus inherited OPENSHELL_* (e.g. a gateway's cliEnv). */
export async function runOpenShell(
  cliPath: string,
  env: Record<string, string>,
  args: string[],
  options: { timeoutMs?: number } = {},
): Promise<CliResult> {
  const result = await runProcess(
    cliPath,
    args,
    { ...withoutOpenShellVars(process.env), NO_COLOR: '1', ...env },
    options.timeoutMs ?? 60_000,
  );
  return { ...result, stdout: stripAnsi(result.stdout), stderr: stripAnsi(result.stderr) };
}

/** Runs a program (no shell, stdin closed), collecting its output; killed after `timeoutMs`. */
export function runProcess(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<CliResult> {
  const started = Date.now();
  const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  return new Promise((done, fail) => {
    child.once('error', (e) => (clearTimeout(timer), fail(e)));
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      done({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Date.now() - started,
        timedOut,
      });
    });
  });
}

// CSI sequences (colours, cursor moves) and OSC sequences (hyperlinks).
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g;

export const stripAnsi = (text: string): string => text.replace(ANSI, '');

/**
 * An error report as one line: the CLI (miette) prints `Error:   × ` and wraps the message at
 * 80 columns with `  │ ` continuation prefixes, whatever COLUMNS says.
 */
export const errorText = (stderr: string): string =>
  stderr
    .replace(/^\s*Error:\s*×\s*/m, '')
    .replace(/\n\s*│ ?/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
