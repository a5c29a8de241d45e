// `ateflow dev`'s stack for tests: the same startDevStack the CLI runs (Temporal CLI child with
// the Web UI, simulator with saved state, worker, facade), on free loopback ports in a temporary
// data dir, with the simulator's latencies scaled down.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config';
import { startDevStack, type DevStack } from '../../src/cli/dev';
import { workflowBundle } from './temporal';

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
}

export interface TestDevStack {
  stack: DevStack;
  config: Config;
  dataPlanePort: number;
  driverTcpPort: number;
  /** Stops the stack and starts it again on the same data dir and ports (a restart). */
  restart(): Promise<void>;
  teardown(): Promise<void>;
}

export interface TestDevStackOptions {
  /** Also a real OpenShell gateway (and process-backed actors); default false. */
  gateway?: boolean;
  /** Extra configuration (src/config.ts keys). */
  env?: Record<string, string>;
}

export async function startTestDevStack(
  latencyScale = 0.02,
  options: TestDevStackOptions = {},
): Promise<TestDevStack> {
  const dir = mkdtempSync(join(tmpdir(), 'ateflow-dev-'));
  const [temporal, ui, ateapi, admin, dataPlanePort, driverTcpPort, gatewayPort] = await Promise.all(
    Array.from({ length: 7 }, () => freePort()),
  );
  const config = loadConfig({
    ATEFLOW_TEMPORAL_ADDRESS: `127.0.0.1:${temporal}`,
    ATEFLOW_UI_PORT: String(ui),
    ATEFLOW_ATEAPI_ENDPOINT: `127.0.0.1:${ateapi}`,
    ATEFLOW_SIM_ADMIN: `127.0.0.1:${admin}`,
    ATEFLOW_DATA_DIR: join(dir, 'data'),
    ATEFLOW_OBSERVE_INTERVAL: '200ms',
    ATEFLOW_WATCH_POLL_INTERVAL: '100ms',
    ...options.env,
  });
  const bundle = await workflowBundle(require.resolve('../../src/workflows'));
  const start = () =>
    startDevStack({
      config,
      latencyScale,
      dataPlanePort,
      driverTcpPort,
      gatewayPort,
      gateway: options.gateway ?? false,
      workflowBundle: bundle,
      log: () => undefined,
    });
  const dev: TestDevStack = {
    stack: await start(),
    config,
    dataPlanePort,
    driverTcpPort,
    async restart() {
      await dev.stack.stop();
      dev.stack = await start();
    },
    async teardown() {
      await dev.stack.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return dev;
}
