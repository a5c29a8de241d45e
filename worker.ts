// The ateflow Temporal worker: sandbox workflows plus the activities that drive Substrate.
// Run any number of these on one task queue to scale out (`npm run worker`).
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadConfig, type Config } from './src/config';
import { logger } from './src/logger';

export async function createWorker(config: Config, connection?: NativeConnection): Promise<Worker> {
  const conn = connection ?? (await NativeConnection.connect({ address: config.ATEFLOW_TEMPORAL_ADDRESS }));
  return Worker.create({
    connection: conn,
    namespace: config.ATEFLOW_TEMPORAL_NAMESPACE,
    taskQueue: config.ATEFLOW_TASK_QUEUE,
    workflowsPath: require.resolve('./src/workflows'),
  });
}

if (require.main === module) {
  const config = loadConfig();
  createWorker(config)
    .then((worker) => {
      logger.info({ taskQueue: config.ATEFLOW_TASK_QUEUE }, 'worker started');
      return worker.run();
    })
    .catch((err: unknown) => {
      logger.error({ err }, 'worker failed');
      process.exit(1);
    });
}
