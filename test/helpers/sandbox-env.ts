// A real sandbox stack for workflow tests: a Temporal server (time-skipping or dev), the Substrate
// simulator over gRPC, and an ateflow worker with the real activities. One per test file.
import { randomBytes, randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { createWorker } from '../../worker';
import {
  DEFAULT_TEMPLATE,
  parseClusterYaml,
  startSimulator,
  type ClusterSpec,
  type Simulator,
  type SimulatorOptions,
} from '../../src/sim';
import { AteapiClient } from '../../src/substrate/client';
import { SimulatorTemplateStore } from '../../src/substrate/simulator-templates';
import { CODE_GENERATION } from '../../src/workflows/patches';
import { sandboxWorkflow } from '../../src/workflows/sandbox';
import {
  createUpdate,
  sandboxWorkflowId,
  viewQuery,
  type SandboxInput,
  type SandboxState,
  type SandboxView,
} from '../../src/workflows/messages';
import { startDevServer, startTimeSkippingServer, workflowBundle } from './temporal';

export interface SandboxStack {
  env: TestWorkflowEnvironment;
  sim: Simulator;
  ateapi: AteapiClient;
  templates: SimulatorTemplateStore;
  taskQueue: string;
  sealingKey: Buffer;
  /** Starts another worker on the same task queue (e.g. after killing one). */
  startWorker(): Promise<Worker>;
  stopWorker(): Promise<void>;
  teardown(): Promise<void>;
}

export interface StackOptions {
  server: 'time-skipping' | 'dev';
  sim?: SimulatorOptions;
  /** Fleet observer interval; default 200 ms on the dev server, off on the time-skipping server. */
  observeIntervalMs?: number;
  devServerArgs?: string[];
  /** Start an in-process worker (default true). */
  worker?: boolean;
}

export async function startSandboxStack(options: StackOptions): Promise<SandboxStack> {
  const env =
    options.server === 'dev' ? await startDevServer(options.devServerArgs) : await startTimeSkippingServer();
  const sim = await startSimulator({ latencyScale: 0, seed: 7, ...options.sim });
  const ateapi = new AteapiClient({ endpoint: sim.address });
  const templates = new SimulatorTemplateStore(sim.adminAddress);
  const taskQueue = `sandboxes-${randomUUID()}`;
  const sealingKey = randomBytes(32);
  const bundle = await workflowBundle(require.resolve('../../src/workflows'));
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;

  const stack: SandboxStack = {
    env,
    sim,
    ateapi,
    templates,
    taskQueue,
    sealingKey,
    async startWorker() {
      worker = await createWorker({
        connection: env.nativeConnection,
        client: env.client,
        namespace: env.namespace ?? 'default',
        taskQueue,
        ateapi,
        templates,
        sealingKey,
        synthesis: {
          pauseImage: 'pause@sha256:' + '0'.repeat(64),
          snapshotLocation: 'gs://test-snapshots/',
          gatewayEndpoint: 'http://gateway.test:8080',
          supervisorPath: '/opt/openshell/bin/openshell-sandbox',
        },
        observeIntervalMs: options.observeIntervalMs ?? (options.server === 'dev' ? 200 : 0),
        workflowBundle: bundle,
      });
      running = worker.run();
      return worker;
    },
    async stopWorker() {
      worker?.shutdown();
      await running;
      worker = undefined;
    },
    async teardown() {
      await stack.stopWorker();
      ateapi.close();
      templates.close();
      await sim.stop();
      await env.teardown();
    },
  };
  if (options.worker !== false) await stack.startWorker();
  return stack;
}

/** A sandbox input using a pre-provisioned template of the simulator's default cluster. */
export function sandboxInput(overrides: Partial<SandboxInput> = {}): SandboxInput {
  const sandboxId = overrides.sandboxId ?? `sb-${randomUUID().slice(0, 8)}`;
  return {
    sandboxId,
    sandboxName: overrides.sandboxName ?? sandboxId,
    workspace: 'default',
    actor: { atespace: 'tests', name: sandboxId },
    template: { kind: 'existing', ref: { ...DEFAULT_TEMPLATE } },
    workerSelector: {},
    idleTimeoutMs: 0,
    labels: {},
    generation: CODE_GENERATION,
    ...overrides,
  };
}

/** CreateSandbox as the facade does it: update-with-start, USE_EXISTING. */
export function createSandbox(stack: SandboxStack, input: SandboxInput): Promise<SandboxView> {
  return stack.env.client.workflow.executeUpdateWithStart(createUpdate, {
    args: [{ input }],
    startWorkflowOperation: new WithStartWorkflowOperation(sandboxWorkflow, {
      workflowId: sandboxWorkflowId(input.sandboxId),
      taskQueue: stack.taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
    }),
  });
}

export const handleOf = (stack: SandboxStack, sandboxId: string) =>
  stack.env.client.workflow.getHandle<typeof sandboxWorkflow>(sandboxWorkflowId(sandboxId));

/**
 * Polls the sandbox's view until `predicate` holds. Activities run in real time even on the
 * time-skipping server, so state changes that follow a timer need polling, not one assertion.
 */
export async function waitForView(
  stack: SandboxStack,
  sandboxId: string,
  predicate: (view: SandboxView) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<SandboxView> {
  const deadline = Date.now() + timeoutMs;
  let view: SandboxView | undefined;
  for (;;) {
    view = await handleOf(stack, sandboxId).query(viewQuery);
    if (predicate(view)) return view;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; state ${view.state}: ${view.detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const inState = (state: SandboxState) => (view: SandboxView) => view.state === state;

/** A simulated cluster with the given worker pools (labelled `pool: <name>`) and the default template. */
export function clusterWithPools(pools: Record<string, number>): ClusterSpec {
  const poolDocs = Object.entries(pools).map(
    ([name, replicas]) => `kind: WorkerPool
metadata: { name: ${name}, namespace: default, labels: { pool: ${name} } }
spec: { replicas: ${replicas}, sandboxClass: gvisor }`,
  );
  const template = `kind: ActorTemplate
metadata: { name: ${DEFAULT_TEMPLATE.name}, namespace: ${DEFAULT_TEMPLATE.namespace} }
spec:
  pauseImage: pause@sha256:${'0'.repeat(64)}
  containers: [{ name: main, image: workload@sha256:${'1'.repeat(64)} }]
  snapshotsConfig: { location: gs://test/ }`;
  return parseClusterYaml([...poolDocs, template].join('\n---\n'));
}
