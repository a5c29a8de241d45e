// The driver facade process: `tsx src/driver/main.ts`. Serves ComputeDriver and ateflow.v1 on the
// socket the gateway dials; run it before the gateway (within 30 s) and next to it.
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { version } from '../../package.json';
import { loadConfig, type Config } from '../config';
import { logger } from '../logger';
import { loadSealingKey } from '../sealing';
import { ateapiClientFromConfig } from '../substrate/client';
import { temporalConnectionOptions } from '../temporal/connection';
import { UsageTouches } from '../usage/usage-touches';
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
  const sandboxes = new SandboxWorkflows(client, {
    taskQueue: config.ATEFLOW_TASK_QUEUE,
    temporalAddress,
    callTimeoutMs: settings.callTimeoutMs,
    readTimeoutMs: settings.readTimeoutMs,
  });
  const server = await startDriverServer({
    settings,
    version,
    sandboxes,
    ateapi,
    sealingKey: loadSealingKey(process.env, config.ATEFLOW_DATA_DIR),
    temporalAddress,
  });
  const usage = startUsageTouches(config, settings, server, sandboxes);
  return {
    ...server,
    close: async () => {
      await usage?.close();
      await server.close();
      ateapi.close();
      await client.connection.close();
    },
  };
}

/** Idle clocks follow use seen by the gateway, unless ATEFLOW_GATEWAY_API is `off` or unknown. */
function startUsageTouches(
  config: Config,
  settings: DriverSettings,
  server: RunningDriverServer,
  sandboxes: SandboxWorkflows,
): UsageTouches | undefined {
  const url = config.ATEFLOW_GATEWAY_API || settings.gatewayEndpoint;
  if (!url || url === 'off') return undefined;
  const tokenFile = config.ATEFLOW_GATEWAY_API_TOKEN_FILE;
  const usage = new UsageTouches(server.events, sandboxes, {
    url,
    bearerToken: tokenFile ? () => readFileSync(tokenFile, 'utf8').trim() : undefined,
  });
  usage.start().catch((err: Error) => logger.warn({ err: err.message }, 'usage: could not start'));
  return usage;
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
