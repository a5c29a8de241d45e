// The ateflow Temporal worker: sandbox workflows plus the activities that drive Substrate, and the
// fleet observer. Run any number of these on one task queue to scale out (`npm run worker`).
import { Client, Connection, WorkflowIdConflictPolicy } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from './src/activities';
import { loadConfig, type Config } from './src/config';
import { logger, temporalLogger } from './src/logger';
import { FleetObserver } from './src/observer/fleet-observer';
import { loadSealingKey } from './src/sealing';
import { ateapiClientFromConfig, type AteapiClient } from './src/substrate/client';
import { KubernetesTemplateStore } from './src/substrate/kubernetes-templates';
import { SimulatorTemplateStore } from './src/substrate/simulator-templates';
import type { SynthesisSettings } from './src/substrate/synthesize-template';
import type { TemplateStore } from './src/substrate/template-store';
import { temporalConnectionOptions } from './src/temporal/connection';
import { FLEET_OBSERVER_WORKFLOW_ID, fleetObserverWorkflow } from './src/workflows/fleet-observer';

export interface WorkerDeps {
  connection: NativeConnection;
  client: Client;
  namespace: string;
  taskQueue: string;
  ateapi: AteapiClient;
  templates: TemplateStore;
  sealingKey: Buffer;
  synthesis: SynthesisSettings;
  /**
   * Fleet observer sweep interval; 0 runs no observer from this worker (time-skipping tests:
   * a forever-running activity would keep the test server from skipping time).
   */
  observeIntervalMs: number;
  /** Workflows kept in memory (Worker maxCachedWorkflows); default: the SDK's, sized to the heap. */
  workflowCacheSize?: number;
  /** Pre-bundled workflow code (tests bundle once per process); default: bundle src/workflows. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

/** A worker for the given clients; also makes sure the singleton fleet observer is running. */
export async function createWorker(deps: WorkerDeps): Promise<Worker> {
  const observer = new FleetObserver(deps.ateapi, deps.client);
  const worker = await Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    ...(deps.workflowCacheSize !== undefined ? { maxCachedWorkflows: deps.workflowCacheSize } : {}),
    ...(deps.workflowBundle
      ? { workflowBundle: deps.workflowBundle }
      : { workflowsPath: require.resolve('./src/workflows') }),
    activities: createActivities({
      ateapi: deps.ateapi,
      templates: deps.templates,
      sealingKey: deps.sealingKey,
      synthesis: deps.synthesis,
      observer,
    }),
  });
  if (deps.observeIntervalMs > 0) {
    await deps.client.workflow.start(fleetObserverWorkflow, {
      workflowId: FLEET_OBSERVER_WORKFLOW_ID,
      taskQueue: deps.taskQueue,
      args: [deps.observeIntervalMs],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
  }
  return worker;
}

/** Clients and settings for a worker, from configuration. */
export async function workerDepsFromConfig(config: Config): Promise<WorkerDeps> {
  const temporal = temporalConnectionOptions(config);
  return {
    connection: await NativeConnection.connect(temporal),
    client: new Client({
      connection: await Connection.connect(temporal),
      namespace: config.ATEFLOW_TEMPORAL_NAMESPACE,
    }),
    namespace: config.ATEFLOW_TEMPORAL_NAMESPACE,
    taskQueue: config.ATEFLOW_TASK_QUEUE,
    ateapi: ateapiClientFromConfig(config),
    templates: config.ATEFLOW_KUBECONFIG
      ? KubernetesTemplateStore.fromFile(config.ATEFLOW_KUBECONFIG)
      : new SimulatorTemplateStore(config.ATEFLOW_SIM_ADMIN),
    sealingKey: loadSealingKey(process.env, config.ATEFLOW_DATA_DIR),
    synthesis: {
      pauseImage: config.ATEFLOW_PAUSE_IMAGE,
      snapshotLocation: config.ATEFLOW_SNAPSHOT_LOCATION,
      gatewayEndpoint: config.ATEFLOW_GATEWAY_ENDPOINT,
      supervisorPath: config.ATEFLOW_SUPERVISOR_PATH,
    },
    observeIntervalMs: config.ATEFLOW_OBSERVE_INTERVAL,
    workflowCacheSize: config.ATEFLOW_WORKFLOW_CACHE_SIZE,
  };
}

/**
 * The SDK's logs (worker, activities, workflows' `log.*`, and Core's warnings, forwarded) go
 * through ateflow's logger, as JSON lines at ATEFLOW_LOG_LEVEL: an activity that fails is one
 * line with its attempt and reason; stacks only at debug.
 */
export function installTemporalLogging(): void {
  Runtime.install({
    logger: temporalLogger(),
    telemetryOptions: { logging: { forward: {}, filter: { core: 'WARN', other: 'ERROR' } } },
  });
}

if (require.main === module) {
  const config = loadConfig();
  installTemporalLogging();
  workerDepsFromConfig(config)
    .then(async (deps) => {
      const worker = await createWorker(deps);
      logger.info({ taskQueue: config.ATEFLOW_TASK_QUEUE }, 'worker started');
      process.once('SIGINT', () => worker.shutdown());
      process.once('SIGTERM', () => worker.shutdown());
      await worker.run();
      // Open connections would keep the process alive after the worker stopped.
      await deps.client.connection.close();
      await deps.connection.close();
      deps.ateapi.close();
      deps.templates.close?.();
    })
    .catch((err: unknown) => {
      logger.error({ err }, 'worker failed');
      process.exit(1);
    });
}
