// FROZEN: the sandbox workflow as it ran before the operation table (workflows started before that
// change replay with this code; see src/workflows/sandbox.ts and README.md here). Do not edit:
// any change breaks the replay of their histories. Remove once no such workflow is open.
//
// The sandbox workflow: one durable execution per OpenShell sandbox (id `sandbox/<sandbox id>`).
//
// Shape: every request (update) becomes an operation in a FIFO queue; the main loop runs one
// operation at a time, so transitions never interleave and a request that arrives mid-transition
// waits its turn and then runs against the new state (architecture §3). Between operations the
// loop reconciles with what the fleet observer reported, and sleeps on one lazy idle timer.
// Deterministic and free of I/O: all side effects are activities.
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  log,
  makeContinueAsNewFunc,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { NO_CAPACITY } from '../failure-types';
import {
  actorObservedSignal,
  checkpointUpdate,
  createUpdate,
  deleteUpdate,
  holdUpdate,
  migrateUpdate,
  pauseUpdate,
  releaseUpdate,
  setIdleTimeoutUpdate,
  startUpdate,
  stopUpdate,
  touchSignal,
  viewQuery,
  type ActorView,
  type CreateRequest,
  type DeleteResult,
  type LifecycleEvent,
  type MigrateRequest,
  type SandboxInput,
  type SandboxLimits,
  type SandboxState,
  type SandboxView,
} from '../messages';
import {
  SandboxChangedAt,
  SandboxLastActive,
  SandboxState as SandboxStateAttribute,
  SandboxTemplate,
  SandboxWorker,
  SandboxWorkspace,
} from '../search-attributes';
import { appendEvent, idleDeadline, initialView, snapshot } from '../view';

export const defaultLimits: SandboxLimits = {
  transitionTimeoutMs: 5 * 60_000,
  capacityBudgetMs: 10 * 60_000,
  templateReadyTimeoutMs: 5 * 60_000,
};

/** Backoff while waiting for a free worker: 1 s, 2 s, 4 s … capped at 30 s. */
const capacityBackoffMs = (attempt: number) => Math.min(1000 * 2 ** (attempt - 1), 30_000);

/** Retries re-run idempotent ateapi calls (reference ateapi.md §2.7). */
const retry = { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '15s' } as const;

type OperationKind =
  | 'provision'
  | 'start'
  | 'stop'
  | 'checkpoint'
  | 'pause'
  | 'migrate'
  | 'delete'
  | 'hold'
  | 'release'
  | 'idleSuspend';

interface Operation {
  kind: OperationKind;
  migrate?: MigrateRequest;
  holdReason?: string;
  done: boolean;
  error?: Error;
  /** The view as this operation left it (the next one may already be running when the caller reads it). */
  view?: SandboxView;
  result?: DeleteResult;
}

/** Thrown inside an operation that a later stop or delete made pointless. */
class Superseded extends Error {}
/** An operation that cannot run in the current state: refused, the sandbox is unchanged. */
class Refused extends Error {}

export async function sandboxWorkflowV1(input: SandboxInput): Promise<SandboxView> {
  const limits: SandboxLimits = { ...defaultLimits, ...input.limits };
  const view: SandboxView = input.carried ?? initialView(input, Date.now());
  const ref = view.actor;
  const queue: Operation[] = [];
  let current: Operation | undefined;
  let observation: { actor: ActorView | null } | undefined;
  let idleSettingsChanged = false;

  // ---- activities -------------------------------------------------------------------------
  const quick: ActivityOptions = {
    startToCloseTimeout: '40s', // above Substrate's 28 s per-call deadline
    scheduleToCloseTimeout: limits.transitionTimeoutMs,
    retry,
  };
  const lifecycle: ActivityOptions = { ...quick, startToCloseTimeout: '60s', heartbeatTimeout: '20s' };
  const acts = proxyActivities<Activities>(quick);
  const run = <K extends keyof Activities>(
    name: K,
    summary: string,
    options: ActivityOptions,
    ...args: Parameters<Activities[K]>
  ): Promise<Awaited<ReturnType<Activities[K]>>> =>
    (acts[name] as unknown as ActivityWithOptions<Activities[K]>).executeWithOptions(
      { ...options, summary },
      args,
    );

  // ---- view, events, visibility ----------------------------------------------------------
  function publish(): void {
    const worker = view.actorView?.status === 'RUNNING' ? view.actorView.podName : '';
    upsertSearchAttributes([
      { key: SandboxStateAttribute, value: view.state },
      { key: SandboxWorkspace, value: view.workspace },
      { key: SandboxTemplate, value: `${view.template.namespace}/${view.template.name}` },
      { key: SandboxWorker, value: worker },
      { key: SandboxLastActive, value: new Date(view.lastActiveAtMs) },
      { key: SandboxChangedAt, value: new Date() },
    ]);
    setCurrentDetails(`**${view.state}** — ${view.detail}${worker ? ` (worker ${worker})` : ''}`);
  }

  function record(
    reason: string,
    message: string,
    type: LifecycleEvent['type'] = 'Normal',
    metadata: Record<string, string> = {},
  ): void {
    const event = appendEvent(view, { timestampMs: Date.now(), type, reason, message, metadata });
    // The view keeps only the latest events; the memo puts every one into history for `history`.
    upsertMemo({ lifecycleEvent: event });
    log.info(message, { sandboxId: view.sandboxId, reason });
    publish();
  }

  function enter(state: SandboxState, detail: string): void {
    view.state = state;
    view.detail = detail;
    if (state !== 'FAILED') view.failure = undefined;
    publish();
  }

  const progress = (activeStep: string, detail: string, completeStep?: string) => ({
    'openshell.progress.active_step': activeStep,
    'openshell.progress.active_detail': detail,
    ...(completeStep ? { 'openshell.progress.complete_step': completeStep } : {}),
  });

  // ---- transitions --------------------------------------------------------------------------
  const stopRequested = () =>
    queue.some((op) => op.kind === 'delete' || op.kind === 'stop' || op.kind === 'hold');

  /** ResumeActor, waiting (with backoff, within the budget) while Substrate has no free worker. */
  async function resumeWithCapacity(why: string): Promise<ActorView> {
    const waitStarted = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const actor = await run('resumeActor', `resume ${view.sandboxName}: ${why}`, lifecycle, ref);
        view.waitingForCapacity = false;
        return actor;
      } catch (err) {
        if (failureType(err) !== NO_CAPACITY) throw err;
        const waitedMs = Date.now() - waitStarted;
        if (waitedMs >= limits.capacityBudgetMs) {
          view.waitingForCapacity = false;
          throw ApplicationFailure.nonRetryable(
            `no free Substrate worker for ${Math.round(waitedMs / 1000)} s (budget ${limits.capacityBudgetMs / 1000} s): ` +
              'add workers or free some, then start the sandbox again',
            'CapacityBudgetExhausted',
          );
        }
        view.waitingForCapacity = true;
        const delay = capacityBackoffMs(attempt);
        if (attempt === 1)
          record('WaitingForCapacity', 'no free Substrate worker; waiting for one', 'Warning');
        view.detail = `waiting for a free worker (attempt ${attempt}, next try in ${delay / 1000} s)`;
        publish();
        if (await condition(stopRequested, delay)) {
          view.waitingForCapacity = false;
          throw new Superseded('superseded by a later stop or delete request');
        }
      }
    }
  }

  function applyActor(actor: ActorView): void {
    view.actorView = actor;
  }

  async function provision(): Promise<void> {
    const template = input.template;
    record(
      'Provisioning',
      'creating the sandbox',
      'Normal',
      progress('requesting_sandbox', 'creating the actor'),
    );
    await run('ensureAtespace', `ensure atespace ${ref.atespace}`, quick, ref.atespace);
    if (template.kind === 'synthesized') {
      enter('PROVISIONING', `applying ActorTemplate ${template.ref.name}`);
      await run(
        'applySandboxTemplate',
        `apply template ${template.ref.name}`,
        quick,
        template.ref,
        { sandboxId: view.sandboxId, sandboxName: view.sandboxName },
        template.spec,
      );
      enter(
        'PROVISIONING',
        `waiting for ActorTemplate ${template.ref.name} to become Ready (golden snapshot)`,
      );
      record(
        'TemplateApplied',
        `ActorTemplate ${template.ref.name} applied; waiting for its golden snapshot`,
        'Normal',
        {
          ...progress('pulling_image', 'preparing the golden snapshot', 'requesting_sandbox'),
        },
      );
      await run(
        'waitTemplateReady',
        `wait for template ${template.ref.name}`,
        {
          ...quick,
          startToCloseTimeout: limits.templateReadyTimeoutMs,
          scheduleToCloseTimeout: limits.templateReadyTimeoutMs * 2,
          heartbeatTimeout: '20s',
        },
        template.ref,
      );
    }
    applyActor(
      await run('createActor', `create actor ${ref.name}`, quick, ref, template.ref, view.workerSelector),
    );
    enter('PROVISIONING', 'starting the actor on a worker');
    record(
      'Starting',
      'actor created; starting it on a worker',
      'Normal',
      progress('starting_sandbox', 'booting the actor'),
    );
    applyActor(await resumeWithCapacity('first start'));
    view.lastActiveAtMs = Date.now();
    enter('RUNNING', 'running');
    record('Running', `running on worker ${view.actorView?.podName}`, 'Normal', {
      'openshell.progress.complete_step': 'starting_sandbox',
    });
  }

  async function resume(reason: string, message: string): Promise<void> {
    enter('RESUMING', message);
    record(reason, message, 'Normal', progress('starting_sandbox', message));
    applyActor(await resumeWithCapacity(message));
    view.lastActiveAtMs = Date.now();
    enter('RUNNING', 'running');
    record('Running', `running on worker ${view.actorView?.podName}`, 'Normal', {
      'openshell.progress.complete_step': 'starting_sandbox',
    });
  }

  async function suspend(reason: string, message: string): Promise<void> {
    enter('SUSPENDING', message);
    applyActor(await run('suspendActor', `suspend ${view.sandboxName}: ${message}`, lifecycle, ref));
    enter('SUSPENDED', 'suspended (memory snapshot committed)');
    record(reason, `${message}: snapshot ${view.actorView?.snapshotUri}`);
  }

  /** Brings the actor to SUSPENDED from whatever Substrate reports, as DeleteActor requires. */
  async function suspendForDelete(actor: ActorView): Promise<void> {
    if (actor.status === 'PAUSED' || actor.status === 'PAUSING' || actor.status === 'RESUMING') {
      // A paused actor cannot be suspended directly; a half-done resume must complete first.
      applyActor(await run('resumeActor', `resume ${view.sandboxName} to delete it`, lifecycle, ref));
    }
    if (view.actorView?.status !== 'SUSPENDED') {
      applyActor(await run('suspendActor', `suspend ${view.sandboxName} to delete it`, lifecycle, ref));
    }
  }

  async function remove(): Promise<DeleteResult> {
    enter('DELETING', 'deleting the actor');
    record('Deleting', 'deleting the sandbox');
    const actor = await run('getActor', `look up actor ${ref.name}`, quick, ref);
    let deleted = false;
    if (actor) {
      applyActor(actor);
      await suspendForDelete(actor);
      deleted = (await run('deleteActor', `delete actor ${ref.name}`, quick, ref)) === 'deleted';
    }
    if (view.templateOwned) {
      await run(
        'deleteGoldenActor',
        `delete the golden actor of ${view.template.name}`,
        quick,
        view.template,
      );
      const template = await run(
        'deleteOwnedTemplate',
        `delete template ${view.template.name}`,
        quick,
        view.template,
        view.sandboxId,
      );
      deleted ||= template === 'deleted';
    }
    view.actorView = undefined;
    enter('DELETED', 'deleted');
    record('Deleted', deleted ? 'actor and owned template deleted' : 'nothing was left to delete');
    return { deleted, view: snapshot(view) };
  }

  async function migrate(request: MigrateRequest): Promise<void> {
    if (request.workerSelector) {
      view.workerSelector = request.workerSelector;
      applyActor(
        await run(
          'updateActorSelector',
          `set worker selector of ${ref.name}`,
          quick,
          ref,
          request.workerSelector,
        ),
      );
    }
    if (view.state !== 'RUNNING') {
      record('SelectorUpdated', 'worker selector updated; it applies on the next start');
      return;
    }
    const from = view.actorView?.podName ?? '';
    const why = request.reason ? ` (${request.reason})` : '';
    enter('MIGRATING', `moving off worker ${from}${why}`);
    record(
      'Migrating',
      `moving off worker ${from}${why}`,
      'Normal',
      progress('starting_sandbox', 'migrating'),
    );
    // Placement is random among free workers, so the old one can be picked again: try a few times.
    for (let attempt = 1; attempt <= 3; attempt++) {
      applyActor(await run('suspendActor', `suspend ${view.sandboxName} to migrate`, lifecycle, ref));
      applyActor(await resumeWithCapacity('migrate'));
      if (view.actorView?.podName !== from) break;
    }
    view.lastActiveAtMs = Date.now();
    const to = view.actorView?.podName ?? '';
    enter('RUNNING', 'running');
    if (to === from)
      record('MigrationStayed', `no other eligible worker was free; still on ${to}`, 'Warning');
    else record('Migrated', `moved from worker ${from} to ${to}`);
  }

  async function perform(op: Operation): Promise<void> {
    switch (op.kind) {
      case 'provision':
        return provision();
      case 'start':
        if (view.state === 'RUNNING') return;
        return resume(
          'Resuming',
          view.state === 'FAILED' ? 'retrying the start' : 'restoring the memory snapshot',
        );
      case 'stop':
        if (view.state === 'RUNNING') return suspend('Stopped', 'stop requested');
        if (view.state === 'FAILED') return suspendAfterFailure();
        return; // SUSPENDED and PAUSED are already stopped
      case 'hold':
        view.hold = { reason: op.holdReason ?? '', sinceMs: Date.now() };
        record('Held', `stop hold placed: ${view.hold.reason || 'no reason given'}`, 'Warning');
        if (view.state === 'RUNNING') await suspend('Stopped', 'stop hold placed');
        return;
      case 'release':
        view.hold = undefined;
        record('Released', 'stop hold released; start is allowed again');
        return;
      case 'idleSuspend':
        // Re-check: a touch may have moved the deadline while this operation waited.
        if (view.state === 'RUNNING' && idleDeadline(view) > 0 && Date.now() >= idleDeadline(view)) {
          await suspend('IdleSuspended', `idle for ${Math.round(view.idleTimeoutMs / 1000)} s`);
        }
        return;
      case 'checkpoint':
        requireRunning('checkpoint');
        await suspend('Checkpointing', 'checkpoint: taking a durable snapshot');
        await resume('Resuming', 'checkpoint: resuming from the new snapshot');
        record('Checkpointed', `checkpoint committed at ${view.actorView?.snapshotUri}`);
        return;
      case 'pause':
        requireRunning('pause');
        enter('SUSPENDING', 'pausing (node-local snapshot)');
        applyActor(await run('pauseActor', `pause ${view.sandboxName}`, lifecycle, ref));
        enter('PAUSED', 'paused (node-local snapshot; resumes on the same node)');
        record('Paused', 'paused with a node-local snapshot');
        return;
      case 'migrate':
        return migrate(op.migrate ?? {});
      case 'delete':
        op.result = await remove();
        return;
    }
  }

  function requireRunning(what: string): void {
    if (view.state !== 'RUNNING') {
      throw new Refused(`cannot ${what} a sandbox that is ${view.state}; start it first`);
    }
  }

  /** A stop on a FAILED sandbox: settle the actor to SUSPENDED whatever it was doing. */
  async function suspendAfterFailure(): Promise<void> {
    const actor = await run('getActor', `look up actor ${ref.name}`, quick, ref);
    if (!actor) throw new Refused('the actor no longer exists in Substrate; delete the sandbox');
    applyActor(actor);
    await suspendForDelete(actor);
    enter('SUSPENDED', 'suspended after a failure');
    record('Stopped', 'stopped after a failure');
  }

  async function execute(op: Operation): Promise<void> {
    current = op;
    try {
      await perform(op);
    } catch (err) {
      op.error = err as Error;
      if (err instanceof Superseded) {
        // The later stop/delete decides the state; until then the actor is where it was.
        enter(view.actorView?.status === 'RUNNING' ? 'RUNNING' : 'SUSPENDED', 'waiting for the next request');
      } else if (!(err instanceof Refused)) {
        fail(op.kind === 'provision' ? 'ProvisionFailed' : `${capitalize(op.kind)}Failed`, err);
      }
    } finally {
      op.view = snapshot(view);
      op.done = true;
      current = undefined;
    }
  }

  /** FAILED needs an operator, but is never a dead end: start retries, delete cleans up. */
  function fail(reason: string, err: unknown): void {
    const message = failureMessage(err);
    view.failure = { reason, message: `${message}. Start the sandbox to retry, or delete it.` };
    view.waitingForCapacity = false;
    enter('FAILED', view.failure.message);
    record(view.failure.reason, message, 'Warning');
  }

  // ---- reconciliation with Substrate ----------------------------------------------------------
  async function reconcile(actor: ActorView | null): Promise<void> {
    if (view.state === 'DELETED' || view.state === 'PROVISIONING') return;
    if (actor === null) {
      if (view.state !== 'FAILED') fail('ActorMissing', new Error('the actor disappeared from Substrate'));
      return;
    }
    const known = view.actorView;
    if (known && actor.version <= known.version) return; // stale or already applied
    applyActor(actor);
    if (view.state === 'RUNNING' && actor.status === 'SUSPENDED') {
      // Substrate resets an actor to SUSPENDED when its worker pod dies: memory since the last
      // snapshot is gone. Desired state is still RUNNING, so restore elsewhere.
      record(
        'PodLost',
        `worker pod ${known?.podName ?? '?'} was lost; restoring from the last snapshot`,
        'Warning',
      );
      try {
        await resume('Recovering', 'restoring on another worker after a pod loss');
        record('Recovered', `recovered on worker ${view.actorView?.podName}`);
      } catch (err) {
        fail('RecoveryFailed', err);
      }
    } else if ((view.state === 'SUSPENDED' || view.state === 'PAUSED') && actor.status === 'RUNNING') {
      view.lastActiveAtMs = Date.now();
      enter('RUNNING', 'running (resumed by incoming traffic)');
      record('ResumedOnTraffic', `Substrate resumed the actor on incoming traffic (worker ${actor.podName})`);
      if (view.hold) {
        // Quarantine outranks traffic: put it back to sleep.
        try {
          await suspend('Stopped', 'stop hold in force: suspending again');
        } catch (err) {
          fail('StopFailed', err);
        }
      }
    } else if (
      view.state === 'RUNNING' &&
      actor.status === 'RUNNING' &&
      known &&
      actor.podUid !== known.podUid
    ) {
      record('Moved', `the actor now runs on worker ${actor.podName} (was ${known.podName})`, 'Warning');
    } else {
      publish();
    }
  }

  // ---- handlers -------------------------------------------------------------------------------
  const enqueue = async (op: Omit<Operation, 'done'>): Promise<Operation> => {
    const queued: Operation = { ...op, done: false };
    queue.push(queued);
    await condition(() => queued.done);
    if (queued.error) throw asUpdateFailure(queued.error);
    return queued;
  };
  const notDeleted = (..._request: unknown[]) => {
    if (view.state === 'DELETED' || queue.some((op) => op.kind === 'delete') || current?.kind === 'delete') {
      throw new Error(`sandbox ${view.sandboxId} is being deleted`);
    }
  };
  const runQueued = async (kind: OperationKind, request: Partial<Operation> = {}) =>
    (await enqueue({ kind, ...request })).view!;

  setHandler(
    createUpdate,
    (_request: CreateRequest) => snapshot(view), // durable once accepted; provisioning runs on
    { validator: notDeleted },
  );
  setHandler(startUpdate, () => runQueued('start'), {
    validator: () => {
      notDeleted();
      if (view.hold)
        throw new Error(`sandbox ${view.sandboxId} is on hold (${view.hold.reason}); release it first`);
    },
  });
  setHandler(stopUpdate, () => runQueued('stop'), { validator: notDeleted });
  setHandler(checkpointUpdate, () => runQueued('checkpoint'), { validator: notDeleted });
  setHandler(pauseUpdate, () => runQueued('pause'), { validator: notDeleted });
  setHandler(migrateUpdate, (request) => runQueued('migrate', { migrate: request }), {
    validator: notDeleted,
  });
  setHandler(holdUpdate, ({ reason }) => runQueued('hold', { holdReason: reason }), {
    validator: notDeleted,
  });
  setHandler(releaseUpdate, () => runQueued('release'), { validator: notDeleted });
  setHandler(deleteUpdate, async () => {
    if (view.state === 'DELETED') return { deleted: false, view: snapshot(view) };
    return (await enqueue({ kind: 'delete' })).result!;
  });
  setHandler(
    setIdleTimeoutUpdate,
    (timeoutMs) => {
      view.idleTimeoutMs = timeoutMs;
      idleSettingsChanged = true;
      record(
        'IdleTimeoutSet',
        timeoutMs > 0 ? `idle timeout set to ${timeoutMs / 1000} s` : 'idle suspend disabled',
      );
      return snapshot(view);
    },
    {
      validator: (timeoutMs) => {
        notDeleted();
        if (!Number.isInteger(timeoutMs) || timeoutMs < 0)
          throw new Error('idle timeout must be a whole number of ms ≥ 0');
      },
    },
  );
  setHandler(touchSignal, () => {
    view.lastActiveAtMs = Date.now(); // lazy: the idle loop notices when its timer fires
  });
  setHandler(actorObservedSignal, (actor) => {
    observation = { actor };
  });
  setHandler(viewQuery, () => snapshot(view));

  // ---- main loop ----------------------------------------------------------------------------------
  if (!input.carried) {
    publish();
    queue.unshift({ kind: 'provision', done: false });
  }
  const somethingToDo = () => queue.length > 0 || observation !== undefined || idleSettingsChanged;
  while (view.state !== 'DELETED') {
    const op = queue.shift();
    if (op) {
      await execute(op);
      continue;
    }
    if (observation) {
      const { actor } = observation;
      observation = undefined;
      await reconcile(actor);
      continue;
    }
    idleSettingsChanged = false;
    if (workflowInfo().continueAsNewSuggested) break;
    const deadline = idleDeadline(view);
    if (deadline === 0) {
      await condition(() => somethingToDo() || workflowInfo().continueAsNewSuggested);
    } else if (Date.now() >= deadline) {
      queue.push({ kind: 'idleSuspend', done: false });
    } else {
      // The one idle timer: touches only move lastActiveAt, and the timer re-checks on firing.
      await condition(() => somethingToDo() || workflowInfo().continueAsNewSuggested, deadline - Date.now(), {
        summary: 'idle timer',
      });
    }
  }

  await condition(allHandlersFinished);
  if (view.state === 'DELETED') return snapshot(view);
  const continueAsNew = makeContinueAsNewFunc<typeof sandboxWorkflowV1>({
    typedSearchAttributes: [
      { key: SandboxStateAttribute, value: view.state },
      { key: SandboxLastActive, value: new Date(view.lastActiveAtMs) },
    ],
  });
  return continueAsNew({ ...input, carried: view });
}

// ---- helpers --------------------------------------------------------------------------------------
interface ActivityWithOptions<F extends (...args: never[]) => unknown> {
  executeWithOptions(options: ActivityOptions, args: Parameters<F>): Promise<Awaited<ReturnType<F>>>;
}

function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) {
    const cause = err.cause;
    if (cause.name === 'TimeoutFailure') return `${err.message}: timed out`;
    return cause.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Update handlers must fail with ApplicationFailure, or the whole workflow task fails. The type
 * tells the facade what kind of failure it is: Refused (wrong state), Superseded (a later stop
 * or delete won), Permanent/CapacityBudgetExhausted (from Substrate), OperationFailed (other).
 */
function asUpdateFailure(err: Error): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof Refused) return ApplicationFailure.nonRetryable(err.message, 'Refused');
  if (err instanceof Superseded) return ApplicationFailure.nonRetryable(err.message, 'Superseded');
  return ApplicationFailure.nonRetryable(failureMessage(err), failureType(err) ?? 'OperationFailed');
}

const capitalize = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
