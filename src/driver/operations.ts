// ateflow.v1.Operations: the operations ComputeDriver cannot express (checkpoint, migrate,
// drain, touch, idle policy, holds, history, lifecycle event watch).
import { status } from '@grpc/grpc-js';
import {
  Sandbox,
  SandboxEvent,
  type DrainProgress,
  type DrainRequest,
  type OperationsServer,
} from '../gen/ateflow';
import type { Worker } from '../gen/ateapi';
import { logger } from '../logger';
import {
  checkpointUpdate,
  holdUpdate,
  migrateUpdate,
  releaseUpdate,
  setIdleTimeoutUpdate,
  type LifecycleEvent,
  type MigrateRequest,
  type SandboxView,
} from '../workflows/messages';
import type { FacadeAteapi } from './compute-driver';
import { DriverError, failedPrecondition, invalidArgument } from './errors';
import type { SandboxEventSource } from './event-source';
import { boundedUnary, followEvents, serverStream, unsendable } from './grpc-handlers';
import {
  checkDrainParallelism,
  checkIdleTimeoutMs,
  checkKubernetesName,
  checkReason,
  checkSandboxId,
  checkSelector,
} from './limits';
import { toSandboxEvent, toSandboxMessage } from './ops-messages';
import type { SandboxWorkflows } from './sandbox-workflows';
import type { DriverSettings } from './settings';

export interface OperationsDeps {
  settings: Pick<DriverSettings, 'callTimeoutMs'>;
  sandboxes: SandboxWorkflows;
  events: SandboxEventSource;
  ateapi: FacadeAteapi;
}

const DEFAULT_DRAIN_PARALLELISM = 4;

/** What `state` says of a sandbox whose view cannot be read or sent (ListSandboxes, GetSandbox). */
export const UNKNOWN_STATE = 'UNKNOWN';

/**
 * A sandbox in ateflow's terms, checked on its own before it goes on the wire. One that cannot be
 * sent (over LIMITS.reportedSandboxBytes, or a number that is no int64) is reported with what can
 * be said, its id and why, so that an operator sees it (and can delete it) and the rest still go.
 */
function reportable(view: SandboxView): Sandbox {
  const message = toSandboxMessage(view);
  const problem = unsendable(Sandbox, message);
  if (!problem) return message;
  logger.warn({ sandboxId: view.sandboxId, err: problem }, 'sandbox reported without its view');
  return unknownSandbox(view.sandboxId, `ateflow cannot report this sandbox: ${problem}`);
}

const unknownSandbox = (id: string, detail: string): Sandbox =>
  Sandbox.fromPartial({ id, state: UNKNOWN_STATE, detail });

export function operationsService(deps: OperationsDeps): OperationsServer {
  const { sandboxes } = deps;
  const unary = boundedUnary(deps.settings.callTimeoutMs);
  const migrate = (sandboxId: string, request: MigrateRequest) =>
    sandboxes.update(sandboxId, migrateUpdate, [request]);

  return {
    getSandbox: unary('GetSandbox', async (request) =>
      reportable(await sandboxes.view(checkSandboxId(request.sandboxId))),
    ),

    // One sandbox that cannot be read or sent is listed with its id, state UNKNOWN and why (and a
    // log line), never a reason to fail the list.
    listSandboxes: unary('ListSandboxes', async () => {
      const { views, failed } = await sandboxes.allViews();
      const listed = views.map(reportable);
      for (const [sandboxId, err] of failed) {
        logger.warn({ sandboxId, err: err.message }, 'ListSandboxes: view cannot be read');
        listed.push(unknownSandbox(sandboxId, `ateflow cannot read this sandbox's view: ${err.message}`));
      }
      return { sandboxes: listed };
    }),

    checkpoint: unary('Checkpoint', async (request) =>
      reportable(await sandboxes.update(checkSandboxId(request.sandboxId), checkpointUpdate, [])),
    ),

    migrate: unary('Migrate', async (request) => {
      const id = checkSandboxId(request.sandboxId);
      const selector = checkSelector(request.workerSelector, 'worker_selector');
      checkReason(request.reason);
      const replace = request.replaceSelector || Object.keys(selector).length > 0;
      await checkSelectorPools(selector, deps.ateapi, `migrate ${id}`);
      const view = await migrate(id, {
        ...(replace ? { workerSelector: selector } : {}),
        reason: request.reason || 'operator request',
      });
      return reportable(view);
    }),

    drain: serverStream('Drain', async (request, call) => {
      await drain(request, deps.ateapi, migrate, (message) => {
        if (!call.cancelled) call.write(message);
      });
      if (!call.cancelled) call.end();
    }),

    touch: unary('Touch', async (request) => {
      await sandboxes.touch(checkSandboxId(request.sandboxId));
      return {};
    }),

    setIdleTimeout: unary('SetIdleTimeout', async (request) => {
      const id = checkSandboxId(request.sandboxId);
      const idleTimeoutMs = checkIdleTimeoutMs(request.idleTimeoutMs, 'idle_timeout_ms');
      return reportable(await sandboxes.update(id, setIdleTimeoutUpdate, [idleTimeoutMs]));
    }),

    hold: unary('Hold', async (request) => {
      const id = checkSandboxId(request.sandboxId);
      checkReason(
        request.reason,
        'reason',
        'a hold needs a reason (it is shown to whoever tries to start the sandbox)',
      );
      return reportable(await sandboxes.update(id, holdUpdate, [{ reason: request.reason }]));
    }),

    release: unary('Release', async (request) =>
      reportable(await sandboxes.update(checkSandboxId(request.sandboxId), releaseUpdate, [])),
    ),

    history: unary('History', async (request) => {
      const id = checkSandboxId(request.sandboxId);
      const recorded = await sandboxes.history(id);
      // The live view may hold events newer than the last recorded result.
      const live = await sandboxes.view(id).then(
        (view) => view.events,
        () => [] as LifecycleEvent[],
      );
      const bySeq = new Map([...recorded, ...live].map((e) => [e.seq, e]));
      if (bySeq.size === 0) await sandboxes.view(id); // NOT_FOUND for an unknown sandbox
      return {
        events: [...bySeq.values()].sort((a, b) => a.seq - b.seq).map((e) => toSandboxEvent(id, e)),
      };
    }),

    watchEvents: serverStream('WatchEvents', async (request, call) => {
      checkSandboxId(request.sandboxId, 'sandbox_id', true);
      await followEvents(call, deps.events, (change) => {
        // A stream that follows one sandbox ends when the sandbox is gone (after a moment, for its
        // last events, which the same poll may relay after the deletion).
        if (change.kind === 'deleted' && change.sandboxId === request.sandboxId) {
          setTimeout(() => call.end(), WATCH_END_GRACE_MS).unref();
          return;
        }
        if (change.kind !== 'event') return;
        if (request.sandboxId && change.sandboxId !== request.sandboxId) return;
        const event = toSandboxEvent(change.sandboxId, change.event);
        // One event grpc-js cannot serialize would end the stream for every sandbox.
        const problem = unsendable(SandboxEvent, event);
        if (problem)
          logger.warn({ sandboxId: change.sandboxId, err: problem }, 'WatchEvents: event left out');
        else call.write(event);
      });
    }),
  };
}

const WATCH_END_GRACE_MS = 1_000;

/**
 * The label that names a pool in a worker selector (`--selector pool=<name>`): ateflow's pools
 * carry it (src/demo/cluster.ts POOL_LABEL, the test clusters).
 */
const POOL_LABEL = 'pool';

/**
 * Refuses a worker selector that names a pool Substrate does not have, before anything durable,
 * so that a sandbox is not left to fail its next start with "no worker pool matches". ateapi knows
 * pools only by the name on their workers (ListWorkers; a WorkerPool's labels are not exposed), so
 * `pool=<name>` is checked against those names; a selector on other labels cannot be checked here
 * and is logged with the pools there are. When the workers cannot be listed, the check is skipped
 * (the migration itself would meet the same outage).
 */
async function checkSelectorPools(
  selector: Record<string, string>,
  ateapi: FacadeAteapi,
  what: string,
): Promise<void> {
  if (Object.keys(selector).length === 0) return;
  let workers: Worker[];
  try {
    workers = await ateapi.listWorkers();
  } catch (err) {
    logger.warn({ err: (err as Error).message }, `${what}: worker selector not checked: cannot list workers`);
    return;
  }
  const pools = [...new Set(workers.map((w) => w.workerPool))].sort();
  const known = pools.length > 0 ? pools.join(', ') : 'none (no worker is registered)';
  const wanted = selector[POOL_LABEL];
  const shown = Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  if (wanted === undefined) {
    logger.warn(
      { selector, pools },
      `${what}: worker selector ${shown} not checked against the pools' labels (ateapi does not list them); pools: ${known}`,
    );
    return;
  }
  if (!pools.includes(wanted)) {
    throw failedPrecondition(
      `${what}: no worker pool ${wanted} (worker selector ${shown}); the pools are: ${known}. Nothing was changed`,
    );
  }
}

/** Migrates every sandbox found on the drained pool or node, a few at a time. */
async function drain(
  request: DrainRequest,
  ateapi: FacadeAteapi,
  migrate: (sandboxId: string, request: MigrateRequest) => Promise<SandboxView>,
  report: (progress: DrainProgress) => void,
): Promise<void> {
  const { workerPool, node } = request;
  if (!workerPool && !node) throw invalidArgument('name what to drain: a worker_pool or a node');
  if (workerPool) checkKubernetesName(workerPool, 'worker_pool');
  else checkKubernetesName(node!, 'node');
  const selector = checkSelector(request.workerSelector, 'worker_selector');
  checkReason(request.reason);
  checkDrainParallelism(request.parallelism);
  await checkSelectorPools(selector, ateapi, `drain ${workerPool ? `pool ${workerPool}` : `node ${node}`}`);
  const onSource = (w: Worker) => (workerPool ? w.workerPool === workerPool : w.nodeName === node);
  const source = workerPool ? `pool ${workerPool}` : `node ${node}`;
  const workers = await ateapi.listWorkers().catch((err: unknown) => {
    throw new DriverError(status.UNAVAILABLE, `list Substrate workers: ${(err as Error).message}`);
  });
  const occupied = workers.filter((w) => w.actorId !== '' && onSource(w));
  const total = occupied.length;
  let next = 0;
  const migrateNext = async () => {
    while (next < occupied.length) {
      const worker = occupied[next++];
      const sandboxId = worker.actorId; // actor name = sandbox id (create-plan)
      const base = { sandboxId, fromPod: worker.workerPod, total };
      try {
        const view = await migrate(sandboxId, {
          ...(Object.keys(selector).length > 0 ? { workerSelector: selector } : {}),
          reason: request.reason || `drain ${source}`,
        });
        const toPod = view.actorView?.podName ?? '';
        const stillThere = workerPool !== undefined && view.actorView?.workerPool === workerPool;
        report({
          ...base,
          toPod,
          outcome: stillThere ? 'FAILED' : 'MIGRATED',
          message: stillThere
            ? `landed on ${source} again: drain with a worker selector that excludes it`
            : view.detail,
        });
      } catch (err) {
        const gone = err instanceof DriverError && err.code === status.NOT_FOUND;
        report({
          ...base,
          toPod: '',
          outcome: gone ? 'SKIPPED' : 'FAILED',
          message: gone ? 'not an ateflow sandbox' : (err as Error).message,
        });
      }
    }
  };
  const parallelism = request.parallelism || DEFAULT_DRAIN_PARALLELISM;
  await Promise.all(Array.from({ length: Math.min(parallelism, total) }, migrateNext));
}
