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

// Workers log state changes at INFO; tests only want warnings and errors, and from Core (printed
// to the console) only errors: its one warning here says that the time-skipping test server is not
// the real server (no heartbeat-details capability), which no test can act on. (Forwarding Core's
// logs instead would keep each test process alive after its tests.)
Runtime.install({
  logger: new DefaultLogger('WARN'),
  telemetryOptions: { logging: { console: {}, filter: { core: 'ERROR', other: 'ERROR' } } },
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
