// The real OpenShell parts in tests: whether they can run, and the CLI as a user types it.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { OpenShellBinaries } from '../../src/openshell/binaries';
import { locateOpenShell, withoutOpenShellVars } from '../../src/openshell/binaries';
import { runOpenShell, runProcess, type CliResult } from '../../src/openshell/cli';
import type { RunningGateway } from '../../src/openshell/gateway';

const found = locateOpenShell();

/**
 * Why a suite that needs the binaries skips (for `skippable`, helpers/skip.ts): outside CI only.
 * In CI they must be there (.ci/run unpacks them), so a missing part fails the suite (see
 * requireOpenShell).
 */
export const openShellSkip: string | false = 'skip' in found && !process.env.CI ? found.skip : false;

/** The binaries, or the reason they are missing as an error (a suite's `before`). */
export function requireOpenShell(): OpenShellBinaries {
  if ('skip' in found) throw new Error(found.skip);
  return found;
}

/** The `openshell` CLI against `gateway()`, and the phase it shows for a sandbox. */
export function openShellCli(gateway: () => RunningGateway) {
  const cli = (args: string[], timeoutMs = 120_000): Promise<CliResult> =>
    runOpenShell(requireOpenShell().cli, gateway().cliEnv, args, { timeoutMs });
  const phase = async (name: string) =>
    /Phase:\s*(\w+)/.exec((await cli(['sandbox', 'get', name])).stdout)?.[1];
  return { cli, phase };
}

/** The system `ssh` client (Debian's openssh-client), or why it is missing. */
function locateSsh(): string | { skip: string } {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const path = join(dir, 'ssh');
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return { skip: 'no `ssh` client on PATH (install Debian package openssh-client)' };
}

const ssh = locateSsh();

/** `skip` for suites that also need the system ssh client: outside CI only, as openShellSkip. */
export const sshSkip: string | false =
  openShellSkip || (typeof ssh !== 'string' && !process.env.CI ? ssh.skip : false);

/** The ssh client's path, or the reason it is missing as an error (a suite's `before`). */
export function requireSsh(): string {
  if (typeof ssh !== 'string') throw new Error(ssh.skip);
  return ssh;
}

/**
 * SSH into a sandbox as a user does with the CLI's ssh-proxy as ProxyCommand (name mode, which
 * needs a registered gateway: call `register()` once). Host keys are not checked (each sandbox
 * makes its own) and no user ssh config is read.
 */
export function openShellSsh(gateway: () => RunningGateway, gatewayName = 'ateflow-test') {
  const { cli } = openShellCli(gateway);
  const env = () => ({ ...withoutOpenShellVars(process.env), ...gateway().cliEnv });
  const register = async () => {
    const added = await cli(['gateway', 'add', gateway().endpoint, '--name', gatewayName]);
    if (added.code !== 0) throw new Error(`openshell gateway add: ${added.stderr}`);
  };
  const run = (name: string, command: string, timeoutMs = 60_000): Promise<CliResult> => {
    const proxy = `${requireOpenShell().cli} ssh-proxy --gateway-name ${gatewayName} --name ${name}`;
    const args = [
      '-F',
      '/dev/null',
      '-o',
      `ProxyCommand=${proxy}`,
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'LogLevel=ERROR',
      `sandbox@${name}`,
      command,
    ];
    return runProcess(requireSsh(), args, env(), timeoutMs);
  };
  return { register, run };
}
