// Locates the real OpenShell binaries (gateway, CLI, supervisor; NVIDIA/OpenShell 2f7fb655) that
// scripts/openshell.sh unpacks into the git-ignored .tools. Nothing here unpacks or downloads:
// when they are missing, the caller gets a reason (tests skip with it) that says how to get them.
import { accessSync, constants } from 'node:fs';
import { join, resolve } from 'node:path';

export const OPENSHELL_COMMIT = '2f7fb655';

export interface OpenShellBinaries {
  dir: string;
  /** `openshell-gateway`, the control plane; dials our compute driver's socket. */
  gateway: string;
  /** `openshell`, the user CLI. */
  cli: string;
  /** `openshell-sandbox`, the in-sandbox supervisor. */
  supervisor: string;
}

const defaultDir = resolve(__dirname, '..', '..', '.tools', `openshell-${OPENSHELL_COMMIT}`);

/** The binaries in OPENSHELL_BIN_DIR, else in .tools; or why they cannot be used. */
export function locateOpenShell(): OpenShellBinaries | { skip: string } {
  const fromEnv = process.env.OPENSHELL_BIN_DIR;
  const dir = fromEnv || defaultDir;
  const found: OpenShellBinaries = {
    dir,
    gateway: join(dir, 'openshell-gateway'),
    cli: join(dir, 'openshell'),
    supervisor: join(dir, 'openshell-sandbox'),
  };
  for (const path of [found.gateway, found.cli, found.supervisor]) {
    try {
      accessSync(path, constants.X_OK);
    } catch {
      return {
        skip:
          `OpenShell binaries not found (${path} is not executable${fromEnv ? ', from OPENSHELL_BIN_DIR' : ''}); ` +
          `run scripts/openshell.sh to unpack them into .tools, or point OPENSHELL_BIN_DIR at a directory ` +
          `holding openshell-gateway, openshell and openshell-sandbox`,
      };
    }
  }
  return found;
}

/** OPENSHELL_* variables override the gateway's and the CLI's config; never inherit them. */
export function withoutOpenShellVars(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !k.startsWith('OPENSHELL_')) out[k] = v;
  return out;
}
