// The sandbox workflow: one durable execution per OpenShell sandbox (id `sandbox/<sandbox id>`).
//
// Shape: every request (update) becomes an operation (operations.ts) in a FIFO queue; the main loop
// runs one operation at a time, so transitions never interleave, and a request that arrives
// mid-transition waits its turn and then runs against the new state. The operation table decides
// each request twice: when it is accepted and when it runs. Between operations the loop reconciles
// with what the fleet observer reported, and sleeps on one lazy idle timer. When the sandbox is
// deleted, whatever is still queued is settled (a later delete joins the first, and every caller
// of a delete that fails gets the failure), so no caller can hang. Requests that come with the
// first workflow task queue behind provisioning like any other. Deterministic and free of I/O:
// all side effects are activities.
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
import type { UpdateDefinition } from '@temporalio/common';
import type { Activities } from '../activities';
import {
  CAPACITY_BUDGET_EXHAUSTED,
  NO_CAPACITY,
  OPERATION_FAILED,
  REFUSED,
  SANDBOX_DELETED,
  SUPERSEDED,
} from './failure-types';
import { sandboxWorkflowV1 } from './legacy/sandbox-v1';
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
  type ActorStatus,
  type ActorView,
  type DeleteResult,
  type LifecycleEvent,
  type MigrateRequest,
  type SandboxFailure,
  type SandboxInput,
  type SandboxLimits,
  type SandboxState,
  type SandboxView,
} from './messages';
import { decide, isResting, projectedHold, type Operation } from './operations';
import {
  SandboxChangedAt,
  SandboxHold,
  SandboxLastActive,
  SandboxName,
  SandboxState as SandboxStateAttribute,
  SandboxTemplate,
  SandboxWorker,
  SandboxWorkspace,
  keyword,
} from './search-attributes';
import {
  DELETE_FAILURE_PATCH,
  hasPatch,
  ONE_CREATE_ACTIVITY_PATCH,
  OPERATION_TABLE_PATCH,
  PROVISION_FIRST_PATCH,
  PUBLISHED_VIEW_PATCH,
} from './patches';
import { appendEvent, idleDeadline, initialView, publishedView, snapshot } from './view';

/** Published views stay well under the server's memo limits (32 KB refused, 2 KB warned). */
const MAX_PUBLISHED_VIEW_CHARS = 16 * 1024;

export const defaultLimits: SandboxLimits = {
  transitionTimeoutMs: 5 * 60_000,
  capacityBudgetMs: 10 * 60_000,
  templateReadyTimeoutMs: 5 * 60_000,
};

/** Backoff while waiting for a free worker: 1 s, 2 s, 4 s … capped at 30 s. */
const capacityBackoffMs = (attempt: number) => Math.min(1000 * 2 ** (attempt - 1), 30_000);

/** Retries re-run idempotent ateapi calls (reference ateapi.md §2.7); permanent errors never retry. */
const retry = { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '15s' } as const;

/** One request in the queue, and how it ended. */
interface Queued {
  op: Operation;
  done: boolean;
  error?: ApplicationFailure;
  /** A delete that failed: its callers get `error` (DELETE_FAILURE_PATCH). */
  failed?: boolean;
  /** The view as this operation left it (the next one may already be running when the caller reads it). */
  view?: SandboxView;
}

/** An operation that a later delete (or stop) made pointless. */
class Superseded extends Error {}
/** The operation table refused the operation when its turn came: the sandbox is unchanged. */
class Refused extends Error {}

export async function sandboxWorkflow(input: SandboxInput): Promise<SandboxView> {
  if (!hasPatch(input.generation, OPERATION_TABLE_PATCH)) return sandboxWorkflowV1(input);
  return new Sandbox(input).main();
}

type RunActivity = <K extends keyof Activities>(
  name: K,
  summary: string,
  options: ActivityOptions,
  ...args: Parameters<Activities[K]>
) => Promise<Awaited<ReturnType<Activities[K]>>>;

class Sandbox {
  private readonly limits: SandboxLimits;
  private readonly view: SandboxView;
  private readonly queue: Queued[] = [];
  private current: Queued | undefined;
  private provisionQueued = false;
  /** The delete that runs or waits; later deletes join it. */
  private deleteRequest: Queued | undefined;
  private observation: { actor: ActorView | null } | undefined;
  private idleSettingsChanged = false;
  private deleteResult: DeleteResult | undefined;
  private readonly publisher: Publisher;
  private readonly quick: ActivityOptions;
  private readonly lifecycle: ActivityOptions;
  private readonly act: RunActivity;

  constructor(private readonly input: SandboxInput) {
    this.limits = { ...defaultLimits, ...input.limits };
    this.view = input.carried ?? initialView(input, Date.now());
    this.publisher = new Publisher(input.generation);
    this.quick = {
      startToCloseTimeout: '40s', // above Substrate's 28 s per-call deadline
      scheduleToCloseTimeout: this.limits.transitionTimeoutMs,
      retry,
    };
    this.lifecycle = { ...this.quick, startToCloseTimeout: '60s', heartbeatTimeout: '20s' };
    const acts = proxyActivities<Activities>(this.quick);
    this.act = (name, summary, options, ...args) => {
      this.publisher.flush(this.view); // what the sandbox shows while the activity runs
      return (acts[name] as unknown as ActivityWithOptions<Activities[typeof name]>).executeWithOptions(
        { ...options, summary },
        args,
      );
    };
  }

  private get ref() {
    return this.view.actor;
  }

  // ---- main loop ------------------------------------------------------------------------------
  async main(): Promise<SandboxView> {
    // Registering a handler runs the requests that came with the first task (provisionFirst).
    this.registerHandlers();
    if (!this.input.carried && !this.provisionQueued) {
      this.provisionQueued = true;
      this.queue.push({ op: { kind: 'provision' }, done: false });
    }
    const somethingToDo = () =>
      this.queue.length > 0 || this.observation !== undefined || this.idleSettingsChanged;
    while (this.view.state !== 'DELETED') {
      const next = this.queue.shift();
      if (next) {
        await this.execute(next);
        continue;
      }
      if (this.observation) {
        const { actor } = this.observation;
        this.observation = undefined;
        await this.reconcile(actor);
        continue;
      }
      this.idleSettingsChanged = false;
      if (workflowInfo().continueAsNewSuggested) break;
      this.publisher.flush(this.view);
      const deadline = idleDeadline(this.view);
      const wake = () => somethingToDo() || workflowInfo().continueAsNewSuggested;
      if (deadline === 0) {
        await condition(wake);
      } else if (Date.now() >= deadline) {
        this.queue.push({ op: { kind: 'idleSuspend' }, done: false });
      } else {
        // The one idle timer: touches only move lastActiveAt, and the timer re-checks on firing.
        const woken = await condition(wake, deadline - Date.now(), { summary: 'idle timer' });
        // Fired with the deadline unmoved: the sandbox was idle for the whole timeout. Decided by
        // the timer, not by comparing Date.now(), which in the task delivering the timer can lag
        // its firing (seen under load after a cache eviction: the sandbox slept on, and its next
        // replay took the other branch).
        if (!woken && idleDeadline(this.view) === deadline) {
          this.queue.push({ op: { kind: 'idleSuspend', deadline }, done: false });
        }
      }
    }
    this.settleQueue();
    this.publisher.flush(this.view);
    await condition(allHandlersFinished);
    if (this.view.state === 'DELETED') return snapshot(this.view);
    const continueAsNew = makeContinueAsNewFunc<typeof sandboxWorkflow>({
      typedSearchAttributes: this.publisher.carriedAttributes(this.view),
      ...(this.publisher.publishesView() ? { memo: { view: publishedView(this.view, []) } } : {}),
    });
    return continueAsNew({ ...this.input, carried: this.view });
  }

  /** The sandbox is gone: deletes still queued get its result, anything else a clear failure. */
  private settleQueue(): void {
    for (const queued of this.queue.splice(0)) {
      if (queued.op.kind !== 'delete') {
        queued.error = ApplicationFailure.nonRetryable(
          `sandbox ${this.view.sandboxId} was deleted`,
          SANDBOX_DELETED,
        );
      }
      queued.view = snapshot(this.view);
      queued.done = true;
    }
  }

  // ---- requests ---------------------------------------------------------------------------------
  private registerHandlers(): void {
    // Each request is an operation: the table decides it when accepted and again when it runs.
    const on = <Args extends unknown[]>(
      update: UpdateDefinition<SandboxView, Args>,
      toOperation: (...args: Args) => Operation,
    ) =>
      setHandler(update, (...args: Args) => this.submit(toOperation(...args)), {
        validator: (...args: Args) => this.accept(toOperation(...args)),
      });
    on(startUpdate, () => ({ kind: 'start' }));
    on(stopUpdate, () => ({ kind: 'stop' }));
    on(checkpointUpdate, () => ({ kind: 'checkpoint' }));
    on(pauseUpdate, () => ({ kind: 'pause' }));
    on(migrateUpdate, (request) => ({ kind: 'migrate', request }));
    on(holdUpdate, ({ reason }) => ({ kind: 'hold', reason }));
    on(releaseUpdate, () => ({ kind: 'release' }));
    setHandler(deleteUpdate, () => this.submitDelete());
    setHandler(createUpdate, (_request) => snapshot(this.view), {
      // Durable once accepted; provisioning runs on in the workflow.
      validator: (_request) => this.refuseIfDeleting(),
    });
    setHandler(
      setIdleTimeoutUpdate,
      (timeoutMs) => {
        this.view.idleTimeoutMs = timeoutMs;
        this.idleSettingsChanged = true;
        this.record(
          'IdleTimeoutSet',
          timeoutMs > 0 ? `idle timeout set to ${timeoutMs / 1000} s` : 'idle suspend disabled',
        );
        return snapshot(this.view);
      },
      {
        validator: (timeoutMs) => {
          this.refuseIfDeleting();
          if (!Number.isInteger(timeoutMs) || timeoutMs < 0)
            throw refused('idle timeout must be a whole number of ms ≥ 0');
        },
      },
    );
    setHandler(touchSignal, (source) => {
      this.active(source || 'Touch'); // lazy: the idle loop notices when its timer fires
    });
    setHandler(actorObservedSignal, (actor) => {
      this.observation = { actor };
    });
    setHandler(viewQuery, () => snapshot(this.view));
  }

  private deleting(): boolean {
    return (
      this.view.state === 'DELETED' ||
      this.current?.op.kind === 'delete' ||
      this.queue.some((queued) => queued.op.kind === 'delete')
    );
  }

  private refuseIfDeleting(): void {
    if (this.deleting()) {
      throw ApplicationFailure.nonRetryable(
        `sandbox ${this.view.sandboxId} is being deleted`,
        SANDBOX_DELETED,
      );
    }
  }

  /**
   * The validator: refuses what the table refuses on an idle sandbox, and what can never run (a
   * deleted sandbox, a start behind a hold); anything else waits for its turn and is decided then.
   */
  private accept(op: Operation): void {
    this.refuseIfDeleting();
    const busy = this.current !== undefined || this.queue.length > 0 || !isResting(this.view.state);
    const queued = this.queue.map((q) => q.op);
    const hold = projectedHold(this.view.hold?.reason, queued);
    if (op.kind === 'start' && hold !== undefined) {
      throw refused(
        `sandbox ${this.view.sandboxId} is on hold (${hold || 'no reason given'}); release it first`,
      );
    }
    if (busy) return;
    const verdict = decide(op, this.facts());
    if (verdict.verdict === 'refuse') throw refused(verdict.message);
  }

  private facts() {
    const state = this.view.state;
    if (!isResting(state)) throw new Error(`no decision is made while the sandbox is ${state}`);
    return { state, sandboxId: this.view.sandboxId, hold: this.view.hold?.reason };
  }

  private async submit(op: Operation): Promise<SandboxView> {
    const queued = this.enqueue(op);
    await condition(() => queued.done);
    if (queued.error) throw queued.error;
    return queued.view!;
  }

  /**
   * A delete supersedes whatever still waits (except provisioning: the delete runs after it), and
   * later deletes join the first. Every caller gets the delete's result, or its failure.
   */
  private async submitDelete(): Promise<DeleteResult> {
    if (!this.deleting()) {
      this.provisionFirst();
      for (const waiting of this.queue.splice(0)) {
        if (waiting.op.kind === 'provision') {
          this.queue.push(waiting);
          continue;
        }
        waiting.error = ApplicationFailure.nonRetryable(
          `superseded: sandbox ${this.view.sandboxId} is being deleted`,
          SUPERSEDED,
        );
        waiting.view = snapshot(this.view);
        waiting.done = true;
      }
      this.deleteRequest = this.enqueue({ kind: 'delete' });
    }
    const request = this.deleteRequest;
    await condition(
      () => this.deleteResult !== undefined || this.view.state === 'DELETED' || request?.failed === true,
    );
    if (this.deleteResult === undefined && request?.failed && request.error) throw request.error;
    return this.deleteResult ?? { deleted: false, view: snapshot(this.view) };
  }

  private enqueue(op: Operation): Queued {
    this.provisionFirst();
    const queued: Queued = { op, done: false };
    this.queue.push(queued);
    return queued;
  }

  /**
   * Requests delivered with the workflow's first task (a worker that was down when the sandbox
   * was created, or a create that made a deleted sandbox again while other requests were on their
   * way) reach their handlers when main() registers them, before it queues provisioning: they
   * must queue behind it, since nothing can run on a sandbox that has no actor yet.
   */
  private provisionFirst(): void {
    if (this.input.carried || this.provisionQueued) return;
    if (!hasPatch(this.input.generation, PROVISION_FIRST_PATCH)) return; // recorded before: they ran first (and failed)
    this.provisionQueued = true;
    this.queue.unshift({ op: { kind: 'provision' }, done: false });
  }

  private async execute(queued: Queued): Promise<void> {
    this.current = queued;
    try {
      const verdict =
        queued.op.kind === 'provision' ? { verdict: 'run' as const } : decide(queued.op, this.facts());
      if (verdict.verdict === 'refuse') throw new Refused(verdict.message);
      if (verdict.verdict === 'run') await this.perform(queued.op);
    } catch (err) {
      queued.error = asUpdateFailure(err);
      if (err instanceof Superseded) {
        // The later delete decides; until then the sandbox rests where its actor is.
        this.enter(
          this.view.actorView?.status === 'RUNNING' ? 'RUNNING' : 'SUSPENDED',
          'waiting for the next request',
        );
      } else if (!(err instanceof Refused)) {
        await this.afterFailure(queued.op, err);
        // Recorded before: the callers of a failed delete waited for another delete to succeed.
        if (queued.op.kind === 'delete' && hasPatch(this.input.generation, DELETE_FAILURE_PATCH))
          queued.failed = true;
      }
    } finally {
      queued.view = snapshot(this.view);
      queued.done = true;
      this.current = undefined;
    }
  }

  private async perform(op: Operation): Promise<void> {
    const view = this.view;
    switch (op.kind) {
      case 'provision':
        return this.provision();
      case 'start':
        if (view.state === 'FAILED') return this.recover();
        return this.resume('Resuming', 'restoring the memory snapshot');
      case 'stop':
        if (view.state === 'FAILED') return this.settleStopped('Stopped', 'stopped after a failure');
        return this.suspend('Stopped', 'stop requested');
      case 'hold':
        view.hold = { reason: op.reason, sinceMs: Date.now() };
        this.record('Held', `stop hold placed: ${op.reason || 'no reason given'}`, 'Warning');
        if (view.state === 'RUNNING') await this.suspend('Stopped', 'stop hold placed');
        return;
      case 'release':
        view.hold = undefined;
        this.record('Released', 'stop hold released; start is allowed again');
        return;
      case 'idleSuspend':
        // Re-check: a touch may have moved the deadline while this operation waited.
        if (
          idleDeadline(view) > 0 &&
          (idleDeadline(view) === op.deadline || Date.now() >= idleDeadline(view))
        ) {
          await this.suspend(
            'IdleSuspended',
            'no activity from exec/SSH/port-forward through the gateway, data-plane traffic or Touch ' +
              `since ${new Date(view.lastActiveAtMs).toISOString()} (last: ${view.lastActiveSource ?? 'a start'}; ` +
              `idle timeout ${Math.round(view.idleTimeoutMs / 1000)} s)`,
          );
        }
        return;
      case 'checkpoint':
        await this.suspend('Checkpointing', 'checkpoint: taking a durable snapshot');
        await this.resume('Resuming', 'checkpoint: resuming from the new snapshot');
        this.record('Checkpointed', `checkpoint committed at ${view.actorView?.snapshotUri}`);
        return;
      case 'pause':
        this.enter('SUSPENDING', 'pausing (node-local snapshot)');
        this.applyActor(
          await this.act('pauseActor', `pause ${view.sandboxName}`, this.lifecycle, this.ref, this.boot),
        );
        this.enter('PAUSED', 'paused (node-local snapshot; resumes on the same node)');
        this.record('Paused', 'paused with a node-local snapshot');
        return;
      case 'migrate':
        return this.migrate(op.request);
      case 'delete':
        this.deleteResult = await this.remove();
        return;
    }
  }

  // ---- transitions --------------------------------------------------------------------------------
  private readonly stopRequested = () =>
    this.queue.some((q) => q.op.kind === 'delete' || q.op.kind === 'stop' || q.op.kind === 'hold');

  /** A sandbox's own template boots cold: its golden copy never ran as this sandbox. */
  private get boot(): boolean {
    return this.view.templateOwned;
  }

  /** ResumeActor, waiting (with backoff, within the budget) while Substrate has no free worker. */
  private async resumeWithCapacity(why: string): Promise<ActorView> {
    const waitStarted = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const actor = await this.act(
          'resumeActor',
          `resume ${this.view.sandboxName}: ${why}`,
          this.lifecycle,
          this.ref,
          this.boot,
        );
        this.view.waitingForCapacity = false;
        return actor;
      } catch (err) {
        if (failureType(err) !== NO_CAPACITY) throw err;
        const waitedMs = Date.now() - waitStarted;
        if (waitedMs >= this.limits.capacityBudgetMs) {
          this.view.waitingForCapacity = false;
          throw ApplicationFailure.nonRetryable(
            `no free Substrate worker for ${Math.round(waitedMs / 1000)} s (budget ${this.limits.capacityBudgetMs / 1000} s): ` +
              'add workers or free some, then start the sandbox again',
            CAPACITY_BUDGET_EXHAUSTED,
          );
        }
        this.view.waitingForCapacity = true;
        const delay = capacityBackoffMs(attempt);
        // A progress event per attempt: the gateway's CLI keeps waiting while progress is reported.
        this.record(
          'WaitingForCapacity',
          `no free Substrate worker; trying again in ${delay / 1000} s (attempt ${attempt})`,
          'Warning',
          progress('starting_sandbox', `waiting for a free Substrate worker (attempt ${attempt})`),
        );
        this.view.detail = `waiting for a free worker (attempt ${attempt}, next try in ${delay / 1000} s)`;
        if (await condition(this.stopRequested, delay)) {
          this.view.waitingForCapacity = false;
          throw new Superseded('superseded by a later stop or delete request');
        }
      }
    }
  }

  private applyActor(actor: ActorView | null): void {
    this.view.actorView = actor ?? undefined;
    this.publisher.markDirty();
  }

  private async provision(): Promise<void> {
    const { view, input, quick, ref } = this;
    const template = input.template;
    this.enter('PROVISIONING', 'creating the sandbox');
    this.record(
      'Provisioning',
      'creating the sandbox',
      'Normal',
      progress('requesting_sandbox', 'creating the sandbox'),
    );
    const ensureAtespace = hasPatch(this.input.generation, ONE_CREATE_ACTIVITY_PATCH);
    if (!ensureAtespace)
      await this.act('ensureAtespace', `ensure atespace ${ref.atespace}`, quick, ref.atespace);
    if (template.kind === 'synthesized') {
      this.enter('PROVISIONING', `applying the sandbox's ActorTemplate ${template.ref.name}`);
      const applied = await this.act(
        'applySandboxTemplate',
        `apply template ${template.ref.name}`,
        quick,
        template.ref,
        { sandboxId: view.sandboxId, sandboxName: view.sandboxName },
        template.spec,
      );
      view.tokenSecret = applied.tokenSecret;
    }
    this.applyActor(
      await this.act(
        'createActor',
        `create actor ${ref.name}`,
        quick,
        ref,
        template.ref,
        view.workerSelector,
        ...(ensureAtespace ? [{ ensureAtespace }] : []),
      ),
    );
    this.enter('PROVISIONING', 'starting the actor on a Substrate worker');
    this.record('Starting', 'actor created; starting it on a worker', 'Normal', {
      'openshell.progress.complete_step': 'requesting_sandbox',
      ...progress('starting_sandbox', 'starting the actor on a Substrate worker'),
    });
    this.applyActor(await this.resumeWithCapacity('first start'));
    this.running();
  }

  /** Moves the idle clock, remembering what moved it (shown in an idle suspend's reason). */
  private active(source: string): void {
    this.view.lastActiveAtMs = Date.now();
    this.view.lastActiveSource = source;
  }

  /** The actor runs; the gateway shows Ready only once the supervisor inside connects to it. */
  private running(): void {
    this.active('a start');
    if (this.view.keepAliveMs) this.view.keepAliveUntilMs = Date.now() + this.view.keepAliveMs;
    this.enter('RUNNING', 'running');
    this.record(
      'Running',
      `running on worker ${this.view.actorView?.podName}; waiting for the supervisor to connect`,
      'Normal',
      progress('starting_sandbox', 'actor running; waiting for the supervisor to connect to the gateway'),
    );
  }

  private async resume(reason: string, message: string): Promise<void> {
    this.enter('RESUMING', message);
    this.record(reason, message, 'Normal', progress('starting_sandbox', message));
    this.applyActor(await this.resumeWithCapacity(message));
    this.running();
  }

  private async suspend(reason: string, message: string): Promise<void> {
    this.enter('SUSPENDING', message);
    this.applyActor(
      await this.act(
        'suspendActor',
        `suspend ${this.view.sandboxName}: ${message}`,
        this.lifecycle,
        this.ref,
      ),
    );
    this.enter('SUSPENDED', 'suspended (memory snapshot committed)');
    this.record(reason, `${message}: snapshot ${this.view.actorView?.snapshotUri}`);
  }

  /** The actor as Substrate reports it now (null: gone). */
  private async refreshActor(why: string): Promise<ActorView | null> {
    const actor = await this.act('getActor', `look up actor ${this.ref.name}: ${why}`, this.quick, this.ref);
    this.applyActor(actor);
    return actor;
  }

  /**
   * Drives the actor out of whatever half-done transition it was left in, to `goal`: RUNNING, or
   * stopped (SUSPENDED or PAUSED), or SUSPENDED (what DeleteActor requires; a paused actor must be
   * resumed to be suspended). Substrate completes a transition when the same call is repeated.
   */
  private async settle(actor: ActorView, goal: 'running' | 'stopped' | 'suspended'): Promise<void> {
    // Resume and pause may have to start the actor: both boot it as its first start would.
    const call = (name: 'resumeActor' | 'suspendActor' | 'pauseActor', why: string) => {
      const verb = { resumeActor: 'resume', suspendActor: 'suspend', pauseActor: 'pause' }[name];
      const summary = `${verb} ${this.view.sandboxName}: ${why}`;
      if (name === 'suspendActor') return this.act(name, summary, this.lifecycle, this.ref);
      if (name === 'pauseActor') return this.act(name, summary, this.lifecycle, this.ref, this.boot);
      return this.act(name, summary, this.lifecycle, this.ref, this.boot);
    };
    let status: ActorStatus = actor.status;
    const step = async (name: 'resumeActor' | 'suspendActor' | 'pauseActor', why: string) => {
      const after = await call(name, why);
      this.applyActor(after);
      status = after.status;
    };
    if (status === 'PAUSING') await step('pauseActor', 'complete the interrupted pause');
    if (status === 'SUSPENDING') await step('suspendActor', 'complete the interrupted suspend');
    const mustRun =
      goal === 'running' || status === 'RESUMING' || (goal === 'suspended' && status === 'PAUSED');
    if (mustRun && status !== 'RUNNING') await step('resumeActor', `settle to ${goal}`);
    if (goal !== 'running' && status === 'RUNNING') await step('suspendActor', `settle to ${goal}`);
  }

  /** Start on a FAILED sandbox: provision again if it never got an actor, else bring the actor up. */
  private async recover(): Promise<void> {
    if (!this.view.actorView) return this.provision();
    this.enter('RESUMING', 'recovering after a failure');
    this.record(
      'Recovering',
      'recovering after a failure',
      'Normal',
      progress('starting_sandbox', 'recovering'),
    );
    const actor = await this.refreshActor('recover');
    if (!actor) return this.actorMissing();
    await this.settle(actor, 'running');
    this.running();
  }

  /** Stop on a FAILED sandbox: settle the actor to a stopped state, whatever it was doing. */
  private async settleStopped(reason: string, message: string): Promise<void> {
    const actor = await this.refreshActor('stop');
    if (!actor) return this.actorMissing();
    await this.settle(actor, 'stopped');
    this.enter(this.view.actorView?.status === 'PAUSED' ? 'PAUSED' : 'SUSPENDED', message);
    this.record(reason, message);
  }

  private actorMissing(): void {
    this.fail('ActorMissing', 'the actor disappeared from Substrate', 'delete');
  }

  private async remove(): Promise<DeleteResult> {
    const { view, quick, ref } = this;
    this.enter('DELETING', 'deleting the actor');
    this.record('Deleting', 'deleting the sandbox');
    const actor = await this.refreshActor('delete');
    let actorDeleted = false;
    if (actor) {
      await this.settle(actor, 'suspended');
      actorDeleted = (await this.act('deleteActor', `delete actor ${ref.name}`, quick, ref)) === 'deleted';
    }
    let templateDeleted = false;
    if (view.templateOwned) {
      await this.act(
        'deleteGoldenActor',
        `delete the golden actor of ${view.template.name}`,
        quick,
        view.template,
      );
      const template = await this.act(
        'deleteOwnedTemplate',
        `delete template ${view.template.name}`,
        quick,
        view.template,
        view.sandboxId,
        view.tokenSecret,
      );
      templateDeleted = template === 'deleted';
    }
    this.applyActor(null);
    this.enter('DELETED', 'deleted');
    const removed = [actorDeleted && 'actor', templateDeleted && 'its own template and token Secret'].filter(
      Boolean,
    );
    this.record(
      'Deleted',
      removed.length > 0 ? `deleted: ${removed.join(' and ')}` : 'deleted (its actor was already gone)',
    );
    // The sandbox existed until now, so this delete removed it, whatever was left in Substrate.
    return { deleted: true, view: snapshot(view) };
  }

  private async migrate(request: MigrateRequest): Promise<void> {
    const { view, quick, ref } = this;
    if (request.workerSelector) {
      view.workerSelector = request.workerSelector;
      this.applyActor(
        await this.act(
          'updateActorSelector',
          `set worker selector of ${ref.name}`,
          quick,
          ref,
          request.workerSelector,
        ),
      );
    }
    if (view.state !== 'RUNNING') {
      this.record('SelectorUpdated', 'worker selector updated; it applies on the next start');
      return;
    }
    const from = view.actorView?.podName ?? '';
    const why = request.reason ? ` (${request.reason})` : '';
    this.enter('MIGRATING', `moving off worker ${from}${why}`);
    this.record(
      'Migrating',
      `moving off worker ${from}${why}`,
      'Normal',
      progress('starting_sandbox', 'migrating'),
    );
    // Placement is random among free workers, so the old one can be picked again: try a few times.
    for (let attempt = 1; attempt <= 3; attempt++) {
      this.applyActor(
        await this.act('suspendActor', `suspend ${view.sandboxName} to migrate`, this.lifecycle, ref),
      );
      this.applyActor(await this.resumeWithCapacity('migrate'));
      if (view.actorView?.podName !== from) break;
    }
    this.active('a migration');
    const to = view.actorView?.podName ?? '';
    this.enter('RUNNING', 'running');
    if (to === from)
      this.record('MigrationStayed', `no other eligible worker was free; still on ${to}`, 'Warning');
    else this.record('Migrated', `moved from worker ${from} to ${to}`);
  }

  // ---- failures ------------------------------------------------------------------------------------
  /**
   * After a failed transition the sandbox rests where its actor is, so the failure never strands
   * it: a failed stop leaves it RUNNING, a failed start SUSPENDED (the caller got the error, the
   * history has the event). Only what cannot be told apart from a broken sandbox is FAILED, with
   * the one way out that works (README, "When a sandbox fails").
   */
  private async afterFailure(op: Operation, err: unknown): Promise<void> {
    const reason = `${capitalize(op.kind === 'provision' ? 'provision' : op.kind)}Failed`;
    const message = failureMessage(err);
    this.view.waitingForCapacity = false;
    if (op.kind === 'provision' || (op.kind === 'start' && !this.view.actorView)) {
      return this.fail('ProvisionFailed', `could not create the sandbox: ${message}`, 'delete');
    }
    if (op.kind === 'delete') return this.fail('DeleteFailed', `delete failed: ${message}`, 'delete');
    let actor: ActorView | null;
    try {
      actor = await this.refreshActor('after a failure');
    } catch {
      return this.fail(reason, `${op.kind} failed: ${message}`, 'start');
    }
    if (!actor) return this.actorMissing();
    const resting: Partial<Record<ActorStatus, SandboxState>> = {
      RUNNING: 'RUNNING',
      SUSPENDED: 'SUSPENDED',
      PAUSED: 'PAUSED',
    };
    const state = resting[actor.status];
    if (!state)
      return this.fail(reason, `${op.kind} failed: ${message}; the actor was left ${actor.status}`, 'start');
    this.enter(state, `${op.kind} failed: ${message}`);
    if (state === 'RUNNING') this.active('a failed transition');
    this.record(reason, `${op.kind} failed: ${message}`, 'Warning');
  }

  /** FAILED needs an operator, but is never a dead end: its message names the way out. */
  private fail(reason: string, message: string, recovery: SandboxFailure['recovery']): void {
    const name = this.view.sandboxName || this.view.sandboxId;
    const wayOut =
      recovery === 'start'
        ? `Start it to recover (openshell sandbox start ${name}), or delete it.`
        : `Delete it (openshell sandbox delete ${name}) and create it again.`;
    this.view.failure = { reason, message: `${message}. ${wayOut}`, recovery };
    this.view.waitingForCapacity = false;
    this.enter('FAILED', this.view.failure.message);
    this.record(reason, message, 'Warning');
  }

  // ---- reconciliation with Substrate -----------------------------------------------------------------
  private async reconcile(actor: ActorView | null): Promise<void> {
    const view = this.view;
    if (view.state === 'DELETED' || view.state === 'PROVISIONING') return;
    if (actor === null) {
      if (view.state !== 'FAILED') this.actorMissing();
      return;
    }
    const known = view.actorView;
    if (known && actor.version <= known.version) return; // stale or already applied
    this.applyActor(actor);
    if (view.state === 'RUNNING' && actor.status === 'SUSPENDED') {
      // Substrate resets an actor to SUSPENDED when its worker pod dies: memory since the last
      // snapshot is gone. Desired state is still RUNNING, so restore elsewhere.
      this.record(
        'PodLost',
        `worker pod ${known?.podName ?? '?'} was lost; restoring from the last snapshot`,
        'Warning',
      );
      await this.attempt({ kind: 'start' }, async () => {
        await this.resume('Recovering', 'restoring on another worker after a pod loss');
        this.record('Recovered', `recovered on worker ${view.actorView?.podName}`);
      });
    } else if ((view.state === 'SUSPENDED' || view.state === 'PAUSED') && actor.status === 'RUNNING') {
      this.active('data-plane traffic');
      this.enter('RUNNING', 'running (resumed by incoming traffic)');
      this.record(
        'ResumedOnTraffic',
        `Substrate resumed the actor on incoming traffic (worker ${actor.podName})`,
      );
      if (view.hold) {
        // Quarantine outranks traffic: put it back to sleep.
        await this.attempt({ kind: 'stop' }, () =>
          this.suspend('Stopped', 'stop hold in force: suspending again'),
        );
      }
    } else if (
      view.state === 'RUNNING' &&
      actor.status === 'RUNNING' &&
      known &&
      actor.podUid !== known.podUid
    ) {
      this.record('Moved', `the actor now runs on worker ${actor.podName} (was ${known.podName})`, 'Warning');
    }
  }

  /** Runs a transition the workflow started itself (no caller to tell); a failure lands as usual. */
  private async attempt(op: Operation, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      await this.afterFailure(op, err);
    }
  }

  // ---- view, events, visibility ------------------------------------------------------------------------
  private enter(state: SandboxState, detail: string): void {
    this.view.state = state;
    this.view.detail = detail;
    if (state !== 'FAILED') this.view.failure = undefined;
    this.publisher.markDirty();
  }

  private record(
    reason: string,
    message: string,
    type: LifecycleEvent['type'] = 'Normal',
    metadata: Record<string, string> = {},
  ): void {
    const event = appendEvent(this.view, { timestampMs: Date.now(), type, reason, message, metadata });
    this.publisher.addEvent(event);
    log.info(message, { sandboxId: this.view.sandboxId, reason });
  }
}

/**
 * What the sandbox shows outside its history: search attributes (the Web UI, visibility lists,
 * the facade's watch), the status line, and its view with recent lifecycle events in the memo
 * (the facade's reads; `ateflow sandbox history` reads the events back from history). Written
 * once per workflow task at most, and only what changed, so a transition costs one or two
 * history events, not one per step.
 */
class Publisher {
  constructor(private readonly generation: number | undefined) {}

  private published: Record<string, string | null> = {};
  private dirty = true;
  private events: LifecycleEvent[] = [];
  private publishedView = '';

  markDirty(): void {
    this.dirty = true;
  }

  addEvent(event: LifecycleEvent): void {
    this.events.push(event);
    this.dirty = true;
  }

  /** Workflows from before PUBLISHED_VIEW_PATCH publish events only (readers query them). */
  publishesView(): boolean {
    return hasPatch(this.generation, PUBLISHED_VIEW_PATCH);
  }

  /** Search attributes as they should be now. */
  attributes(view: SandboxView) {
    const worker = view.actorView?.status === 'RUNNING' ? view.actorView.podName : '';
    return [
      { key: SandboxStateAttribute, value: view.state },
      { key: SandboxWorkspace, value: view.workspace },
      { key: SandboxTemplate, value: `${view.template.namespace}/${view.template.name}` },
      { key: SandboxWorker, value: worker },
      { key: SandboxLastActive, value: new Date(view.lastActiveAtMs) },
      ...(this.publishesView()
        ? [{ key: SandboxName, value: keyword(view.sandboxName || view.sandboxId) }]
        : []),
    ];
  }

  /** What a continued run starts with (a removed attribute is simply left out). */
  carriedAttributes(view: SandboxView) {
    const hold =
      view.hold && this.publishesView()
        ? [{ key: SandboxHold, value: keyword(view.hold.reason || 'held') }]
        : [];
    return [...this.attributes(view), ...hold];
  }

  /** SandboxHold while a hold is in force; removed (null) when released. */
  private holdAttribute(view: SandboxView) {
    if (!this.publishesView()) return [];
    return [{ key: SandboxHold, value: view.hold ? keyword(view.hold.reason || 'held') : null }];
  }

  flush(view: SandboxView): void {
    if (!this.dirty) return;
    this.dirty = false;
    const changed = this.attributes(view).filter(({ key, value }) => {
      const text = value instanceof Date ? value.toISOString() : value;
      if (this.published[key.name] === text) return false;
      this.published[key.name] = text;
      return true;
    });
    const hold = this.holdAttribute(view).filter(({ key, value }) => {
      // Absent and removed read the same: nothing to write until a hold is placed.
      if ((this.published[key.name] ?? null) === value) return false;
      this.published[key.name] = value;
      return true;
    });
    // SandboxChangedAt moves with every change: the facade's watch polls visibility for it.
    upsertSearchAttributes([...changed, ...hold, { key: SandboxChangedAt, value: new Date() }]);
    if (this.publishesView()) {
      // Only when it changed: a status-only flush (e.g. before an activity) writes nothing here.
      const published = publishedView(view, this.events);
      const full = JSON.stringify(published);
      // Far over anything the facade lets in (a workflow started some other way): readers query
      // it instead, rather than the server refusing the memo and failing the workflow task.
      const memo = full.length > MAX_PUBLISHED_VIEW_CHARS ? { tooLarge: full.length } : published;
      const text = memo === published ? full : JSON.stringify(memo);
      if (text !== this.publishedView) upsertMemo({ view: memo });
      this.publishedView = text;
      this.events = [];
    } else if (this.events.length > 0) {
      upsertMemo({ lifecycleEvents: this.events });
      this.events = [];
    }
    const worker = view.actorView?.status === 'RUNNING' ? view.actorView.podName : '';
    const held = view.hold ? `, held: ${view.hold.reason || 'no reason given'}` : '';
    setCurrentDetails(`**${view.state}${held}** — ${view.detail}${worker ? ` (worker ${worker})` : ''}`);
  }
}

// ---- helpers --------------------------------------------------------------------------------------
interface ActivityWithOptions<F extends (...args: never[]) => unknown> {
  executeWithOptions(options: ActivityOptions, args: Parameters<F>): Promise<Awaited<ReturnType<F>>>;
}

const progress = (activeStep: string, detail: string) => ({
  'openshell.progress.active_step': activeStep,
  'openshell.progress.active_detail': detail,
});

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
 * tells the facade what kind of failure it is (failure-types.ts).
 */
function asUpdateFailure(err: unknown): ApplicationFailure {
  if (err instanceof Refused) return ApplicationFailure.nonRetryable(err.message, REFUSED);
  if (err instanceof Superseded) return ApplicationFailure.nonRetryable(err.message, SUPERSEDED);
  if (err instanceof ApplicationFailure) return err;
  return ApplicationFailure.nonRetryable(failureMessage(err), failureType(err) ?? OPERATION_FAILED);
}

/**
 * A validator's refusal, typed like the refusals decided when an operation's turn comes (a
 * rejected update leaves nothing in history, so its type can change without a patch).
 */
const refused = (message: string) => ApplicationFailure.nonRetryable(message, REFUSED);

const capitalize = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
