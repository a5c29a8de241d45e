// Real Temporal servers for tests: the native time-skipping server and the dev server, both
// started from existing binaries (never the SDK's download). One environment per test file.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { temporalCliPath, temporalTestServerPath } from '../../src/temporal/binaries';
import { addSearchAttributes } from '../../src/temporal/search-attributes';
import { sandboxSearchAttributes } from '../../src/workflows/search-attributes';

// Workers log state changes at INFO; tests only want warnings and errors. Core's own warnings come
// through the same logger, less one that only says the time-skipping test server is not the real
// server (it advertises no heartbeat-details capability), which no test can act on.
const KNOWN_TEST_SERVER_WARNING = 'Temporal Server 1.16.0 or newer is required';
Runtime.install({
  logger: new DefaultLogger('WARN', (entry) => {
    if (entry.message.includes(KNOWN_TEST_SERVER_WARNING)) return;
    console.error(`${entry.level} ${entry.message}`, entry.meta ?? '');
  }),
  telemetryOptions: { logging: { forward: {}, filter: { core: 'WARN', other: 'ERROR' } } },
});

/** Time-skipping server; our search attributes are registered through the operator service. */
export async function startTimeSkippingServer(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalTestServerPath() } },
  });
  await addSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

/** Dev server (SQLite, visibility with List/Count), our search attributes registered at boot. */
export async function startDevServer(extraArgs: string[] = []): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      searchAttributes: sandboxSearchAttributes,
      extraArgs: ['--dynamic-config-value', 'frontend.enableExecuteMultiOperation=true', ...extraArgs],
    },
  });
}

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

/** Bundles a workflows module once per test process. */
export function workflowBundle(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(workflowsPath);
  if (!bundle) {
    bundle = bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
    bundles.set(workflowsPath, bundle);
  }
  return bundle;
}

const noop = () => undefined;
const quietBundlerLogger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: console.error,
  log: noop,
};
