// One process of the scale bench (forked with an IPC channel): an ateflow worker, an ateflow
// facade, or a worker for the bare workflows; configured from the environment like the real ones.
// Answers 'stats' with its memory and CPU, so the bench reports each process on its own.
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { startDriverFromConfig } from '../../src/driver/main';
import { createWorker, installTemporalLogging, workerDepsFromConfig } from '../../worker';

export interface ProcessStats {
  rss: number;
  heapUsed: number;
  /** User + system CPU time so far, microseconds. */
  cpuMicros: number;
}

async function start(role: string): Promise<() => Promise<void>> {
  const config = loadConfig();
  installTemporalLogging();
  if (role === 'facade') {
    const server = await startDriverFromConfig(config);
    return () => server.close();
  }
  if (role === 'worker') {
    const worker = await createWorker(await workerDepsFromConfig(config));
    const running = worker.run();
    return async () => (worker.shutdown(), await running);
  }
  const connection = await NativeConnection.connect({ address: config.ATEFLOW_TEMPORAL_ADDRESS });
  const worker = await Worker.create({
    connection,
    taskQueue: `${config.ATEFLOW_TASK_QUEUE}-bare`,
    workflowsPath: require.resolve('./bare-workflows'),
    activities: { noop: async () => undefined },
    maxCachedWorkflows: config.ATEFLOW_WORKFLOW_CACHE_SIZE,
  });
  const running = worker.run();
  return async () => (worker.shutdown(), await running);
}

const role = process.argv[2] ?? 'worker';
start(role)
  .then((stop) => {
    process.on('message', (message: string) => {
      if (message === 'stats') {
        const cpu = process.cpuUsage();
        const stats: ProcessStats = {
          rss: process.memoryUsage().rss,
          heapUsed: process.memoryUsage().heapUsed,
          cpuMicros: cpu.user + cpu.system,
        };
        process.send?.({ stats });
      } else if (message === 'stop') {
        void stop().finally(() => process.exit(0));
      }
    });
    process.send?.({ ready: true });
  })
  .catch((err: unknown) => {
    console.error(`${role} failed:`, err);
    process.exit(1);
  });
