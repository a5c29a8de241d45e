// The real OpenShell parts in tests: whether they can run, and the CLI as a user types it.
import type { OpenShellBinaries } from '../../src/openshell/binaries';
import { locateOpenShell } from '../../src/openshell/binaries';
import { runOpenShell, type CliResult } from '../../src/openshell/cli';
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
