// The driver facade process: `tsx src/driver/main.ts`. Serves ComputeDriver and ateflow.v1 on the
// socket the gateway dials; run it before the gateway (within 30 s) and next to it.
import { Client, Connection } from '@temporalio/client';
import { version } from '../../package.json';
import { loadConfig, type Config } from '../config';
import { logger } from '../logger';
import { loadSealingKey } from '../sealing';
import { ateapiClientFromConfig } from '../substrate/client';
import { temporalConnectionOptions } from '../temporal/connection';
import { SandboxWorkflows } from './sandbox-workflows';
import { startDriverServer, type RunningDriverServer } from './server';
import { loadDriverSettings, type DriverSettings } from './settings';

export async function startDriverFromConfig(
  config: Config,
  settings: DriverSettings = loadDriverSettings(config),
): Promise<RunningDriverServer> {
  const temporalAddress = config.ATEFLOW_TEMPORAL_ADDRESS;
  const client = new Client({
    // Lazy: GetCapabilities must answer even while Temporal is still coming up.
    connection: Connection.lazy(temporalConnectionOptions(config)),
    namespace: config.ATEFLOW_TEMPORAL_NAMESPACE,
  });
  const ateapi = ateapiClientFromConfig(config);
  const server = await startDriverServer({
    settings,
    version,
    sandboxes: new SandboxWorkflows(client, {
      taskQueue: config.ATEFLOW_TASK_QUEUE,
      temporalAddress,
      callTimeoutMs: settings.callTimeoutMs,
      readTimeoutMs: settings.readTimeoutMs,
    }),
    ateapi,
    sealingKey: loadSealingKey(process.env, config.ATEFLOW_DATA_DIR),
    temporalAddress,
  });
  return {
    ...server,
    close: async () => {
      await server.close();
      ateapi.close();
      await client.connection.close();
    },
  };
}

if (require.main === module) {
  startDriverFromConfig(loadConfig())
    .then((server) => {
      const stop = () => void server.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    })
    .catch((err: unknown) => {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, 'driver failed to start');
      process.exit(1);
    });
}
