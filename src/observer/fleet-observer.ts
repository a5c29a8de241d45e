// The fleet observer: ateapi has no watch, so one poller lists every actor (paginated), diffs
// against its last view, and signals only the sandbox workflows whose actor changed in a way
// they did not cause (a pod loss, a traffic-driven resume, an actor that vanished).
//
// Why one observer for the whole fleet, run as an activity of a singleton workflow: the workflow
// id makes it a singleton across any number of worker processes, its heartbeat timeout moves it to
// another worker when one dies, and sandbox workflows never poll Substrate themselves (no history
// growth, one ListActors sweep instead of one GetActor per sandbox).
//
// The listing is a hint, never the truth. Upstream's ListActors on a multi-shard store loses
// whole shards (a page that fills at the end of one shard's scan skips the next), pages may be
// larger than asked, come unordered, and repeat or miss actors while data changes. So:
// - every actor the observer has seen and the listing did not return is looked up with GetActor;
//   only a NotFound makes it gone;
// - sandboxes are also read from Temporal visibility (every `discoveryIntervalMs`), so an actor
//   that no listing ever returned is still looked up, its ref taken from the sandbox's view;
// - the listing is deduplicated, the newest version winning; its order does not matter.
import { status } from '@grpc/grpc-js';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { AteapiClient } from '../substrate/client';
import { toActorView } from '../substrate/actor-view';
import { isServiceError } from '../substrate/errors';
import { publishedViewOf, SANDBOX_WORKFLOW_TYPE } from '../temporal/published-view';
import {
  actorObservedSignal,
  sandboxWorkflowId,
  viewQuery,
  type ActorRef,
  type ActorView,
  type SandboxView,
} from '../workflows/messages';

const READ_TIMEOUT_MS = 5_000;
const SANDBOX_ID_PREFIX = sandboxWorkflowId('');
const refKey = (ref: ActorRef) => `${ref.atespace}/${ref.name}`;
const key = (actor: { ref: ActorRef }) => refKey(actor.ref);

/** States in which the workflow itself is changing the actor, or no longer owns one. */
const notObservable = new Set(['PROVISIONING', 'DELETING', 'DELETED']);

export interface ObservationReport {
  /** Distinct actors the listing returned. */
  actors: number;
  changed: number;
  signalled: number;
  /** Actors whose sandbox could not be reached this sweep (retried on the next one). */
  failed: number;
  /** Actors looked up with GetActor because the listing did not return them. */
  lookedUp: number;
}

export interface FleetObserverOptions {
  /**
   * How often running sandboxes are read from Temporal visibility, to find actors that no
   * listing returned; default 30 s; 0: every sweep.
   */
  discoveryIntervalMs?: number;
  /** Sandboxes reconciled (queried, signalled) and actors looked up at once; default 16. */
  concurrency?: number;
}

/** Runs `work` on every item, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

export class FleetObserver {
  /** Last actor version handled, per atespace/name. */
  private readonly seen = new Map<string, ActorView>();
  /** Actors of running sandboxes (from visibility and their views), per atespace/name. */
  private readonly watched = new Map<string, ActorRef>();
  /** Sandbox id → its actor ref: a sandbox's actor never changes. */
  private readonly refs = new Map<string, ActorRef>();
  private lastDiscovery = Number.NEGATIVE_INFINITY;
  private readonly discoveryIntervalMs: number;
  private readonly concurrency: number;

  constructor(
    private readonly ateapi: AteapiClient,
    private readonly temporal: Client,
    /** Told about each sandbox a sweep could not reconcile (default: silent). */
    private readonly onSweepError?: (sandboxId: string, err: unknown) => void,
    options: FleetObserverOptions = {},
  ) {
    this.discoveryIntervalMs = options.discoveryIntervalMs ?? 30_000;
    this.concurrency = Math.max(1, options.concurrency ?? 16);
  }

  /** One sweep: list, diff, and signal where the workflow's view disagrees with Substrate. */
  async pollOnce(): Promise<ObservationReport> {
    const current = new Map<string, ActorView>();
    for (const actor of (await this.ateapi.listAllActors()).map(toActorView)) {
      const previous = current.get(key(actor));
      if (!previous || actor.version > previous.version) current.set(key(actor), actor);
    }
    const report: ObservationReport = {
      actors: current.size,
      changed: 0,
      signalled: 0,
      failed: 0,
      lookedUp: 0,
    };
    for (const actor of current.values()) this.refs.set(actor.ref.name, actor.ref);
    if (Date.now() - this.lastDiscovery >= this.discoveryIntervalMs) {
      try {
        await this.discover();
        this.lastDiscovery = Date.now();
      } catch (err) {
        // Visibility is down: the listing and the actors already seen still get their sweep.
        report.failed++;
        this.onSweepError?.('(visibility)', err);
      }
    }

    // Each actor on its own: one sandbox that cannot be reached (a stuck query, an odd workflow)
    // must not keep the others from being reconciled. It stays unseen, so the next sweep retries.
    const handle = async (
      name: string,
      seenKey: string,
      observe: () => Promise<ActorView | null | 'unchanged'>,
    ) => {
      try {
        const actor = await observe();
        if (actor === 'unchanged') return;
        report.changed++;
        if (await this.reconcile(name, actor)) report.signalled++;
        if (actor) this.seen.set(seenKey, actor);
        else this.seen.delete(seenKey);
      } catch (err) {
        report.failed++;
        this.onSweepError?.(name, err);
      }
    };
    const changed = [...current.values()].filter(
      (actor) => this.seen.get(key(actor))?.version !== actor.version,
    );
    await eachLimited(changed, this.concurrency, (actor) =>
      handle(actor.ref.name, key(actor), () => Promise.resolve(actor)),
    );

    // Absent from the listing: known actors, and the actors of running sandboxes. Only GetActor
    // says whether one is gone.
    const absent = new Map<string, ActorRef>();
    for (const [seenKey, last] of this.seen) if (!current.has(seenKey)) absent.set(seenKey, last.ref);
    for (const [watchedKey, ref] of this.watched) if (!current.has(watchedKey)) absent.set(watchedKey, ref);
    report.lookedUp = absent.size;
    await eachLimited([...absent], this.concurrency, ([absentKey, ref]) =>
      handle(ref.name, absentKey, async () => {
        const actor = await this.lookUp(ref);
        const last = this.seen.get(absentKey);
        // Gone: news if it was seen; a sandbox's actor that does not exist yet is not.
        if (!actor) return last ? null : 'unchanged';
        return actor.version === last?.version ? 'unchanged' : actor;
      }),
    );
    return report;
  }

  /**
   * Reads the running sandboxes from visibility and watches their actors, their refs taken from
   * the views the listing carries; a sandbox that publishes none is asked for its view once.
   */
  private async discover(): Promise<void> {
    const running: string[] = [];
    const query = `WorkflowType = '${SANDBOX_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`;
    for await (const execution of this.temporal.workflow.list({ query })) {
      if (!execution.workflowId.startsWith(SANDBOX_ID_PREFIX)) continue;
      const sandboxId = execution.workflowId.slice(SANDBOX_ID_PREFIX.length);
      running.push(sandboxId);
      const published = publishedViewOf(execution.memo);
      if (published) this.refs.set(sandboxId, published.actor);
    }
    const unknown = running.filter((sandboxId) => !this.refs.has(sandboxId));
    await eachLimited(unknown, this.concurrency, async (sandboxId) => {
      try {
        const view = await this.viewOf(sandboxId);
        if (view) this.refs.set(sandboxId, view.actor);
      } catch (err) {
        this.onSweepError?.(sandboxId, err);
      }
    });
    this.watched.clear();
    for (const sandboxId of running) {
      const ref = this.refs.get(sandboxId);
      if (ref) this.watched.set(refKey(ref), ref);
    }
    const live = new Set(running);
    for (const sandboxId of this.refs.keys()) if (!live.has(sandboxId)) this.refs.delete(sandboxId);
  }

  /** The actor as GetActor reports it now; null when it no longer exists. */
  private async lookUp(ref: ActorRef): Promise<ActorView | null> {
    try {
      return toActorView(await this.ateapi.getActor(ref));
    } catch (err) {
      if (isServiceError(err) && err.code === status.NOT_FOUND) return null;
      throw err;
    }
  }

  /**
   * The sandbox's view as it last published it (describe: no worker, no replay; a query only for
   * a workflow that publishes none); undefined when there is no such workflow. Bounded: a query
   * waits for a worker, and a stuck one must not stall the whole sweep.
   */
  private async viewOf(sandboxId: string): Promise<SandboxView | undefined> {
    const handle = this.temporal.workflow.getHandle(sandboxWorkflowId(sandboxId));
    try {
      return await this.temporal.withDeadline(Date.now() + READ_TIMEOUT_MS, async () => {
        const published = publishedViewOf((await handle.describe()).memo);
        return published ?? (await handle.query(viewQuery));
      });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined; // not a sandbox of ours
      throw err;
    }
  }

  /** Signals the actor's sandbox workflow if the observation is news to it. */
  private async reconcile(sandboxId: string, actor: ActorView | null): Promise<boolean> {
    const view = await this.viewOf(sandboxId);
    if (!view || notObservable.has(view.state) || !isNews(view, actor)) return false;
    await this.temporal.workflow.getHandle(sandboxWorkflowId(sandboxId)).signal(actorObservedSignal, actor);
    return true;
  }
}

function isNews(view: SandboxView, actor: ActorView | null): boolean {
  const known = view.actorView;
  if (actor === null) return known !== undefined;
  if (!known) return true;
  if (actor.version <= known.version) return false; // the workflow caused it or already knows
  return actor.status !== known.status || actor.podUid !== known.podUid;
}
