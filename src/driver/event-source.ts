// The one source of sandbox changes for every watch stream of this facade process.
//
// ateapi has no watch and Temporal has no change feed, so one poller asks Temporal visibility
// for sandbox workflows whose SandboxChangedAt moved (or that closed) since the last poll, takes
// each one's view from the memo the list returns (a query only for workflows that publish none),
// and fans out what changed: full views, new lifecycle events (by seq; when more happened between
// two polls than a published view carries, the oldest are not announced: querying for them cost a
// replay each and, under load, a storm of timed-out queries) and deletions (only for workflows
// that completed as DELETED). It keeps the latest view of every sandbox: a new subscriber gets a full
// snapshot at once, and while it runs the facade's reads are served from it (`cached`). Losing
// Temporal for longer than a bound ends every subscription with UNAVAILABLE, so that watchers
// reconnect and resync.
import { status } from '@grpc/grpc-js';
import { logger } from '../logger';
import type { LifecycleEvent, SandboxView } from '../workflows/messages';
import { DriverError } from './errors';
import type { SandboxExecution, SandboxWorkflows } from './sandbox-workflows';

export type SandboxChange =
  | { kind: 'sandbox'; view: SandboxView }
  | { kind: 'deleted'; sandboxId: string }
  | { kind: 'event'; sandboxId: string; event: LifecycleEvent };

export interface Subscriber {
  onChange(change: SandboxChange): void;
  /** The source failed for good; the subscription is over. */
  onError(err: DriverError): void;
}

export interface Subscription {
  /** Every sandbox at the moment of subscribing; later changes go to the subscriber. */
  snapshot: SandboxView[];
  unsubscribe: () => void;
}

export interface EventSourceOptions {
  pollMs: number;
  /** How long polls may keep failing before subscriptions end. */
  lossMs: number;
  temporalAddress: string;
}

interface Known {
  view: SandboxView;
  changedAtMs: number;
  lastSeq: number;
  /** When the read that produced `view` started: it reflects every change before this. */
  readAtMs: number;
}

/** The cache's answer: every sandbox's view, and the ids it could not read. */
export interface CachedViews {
  views: SandboxView[];
  unread: string[];
}

/** Visibility is eventually consistent and clocks drift a little: look back this far. */
const LOOKBACK_MS = 2_000;
/**
 * Count running workflows this often, to catch anything visibility reported late, and re-list
 * them (every memo: ~20 MB at 10,000 sandboxes) only when the count differs from what the cache
 * holds, or at the latest every MEMBERSHIP_RELIST_MS.
 */
const MEMBERSHIP_RESYNC_MS = 30_000;
/**
 * Visibility records a workflow's change asynchronously: under load (10,000 sandboxes on a busy
 * server) a record shows up more than LOOKBACK_MS after its SandboxChangedAt, and a poll's window
 * has moved past it (seen: a Ready missed by the watch, the cache stale until the next change).
 * So every membership resync also reads the changes since the previous resync minus this much:
 * a change that visibility reports up to this late is applied within a resync interval; anything
 * later, by the full relist (which applies newer views of known sandboxes too).
 */
const LATE_VISIBILITY_MS = 60_000;
/** Longer than any window a poll reads, so that a deletion read again is not announced again. */
const ANNOUNCED_DELETIONS_KEPT_MS = MEMBERSHIP_RESYNC_MS + LATE_VISIBILITY_MS + LOOKBACK_MS * 4;
const MEMBERSHIP_RELIST_MS = 10 * 60_000;

export class SandboxEventSource {
  private readonly subscribers = new Set<Subscriber>();
  private readonly known = new Map<string, Known>();
  /** Sandboxes whose view could not be read (no worker, timeout): queried again every tick. */
  private readonly unread = new Set<string>();
  /** Deletions already announced, kept while a poll's window may read them again (announced once). */
  private readonly announcedDeletions = new Map<string, number>();
  private ready: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastPollStartMs = 0;
  /** When this source started: events older than this are history, newer ones are news. */
  private startedAtMs = 0;
  private lastMembershipSyncMs = 0;
  private lastMembershipListMs = 0;
  private failingSinceMs: number | undefined;
  /** When the last poll that succeeded started: the cache reflects every change before it. */
  private freshAsOfMs = 0;
  private generation = 0;

  constructor(
    private readonly sandboxes: SandboxWorkflows,
    private readonly options: EventSourceOptions,
  ) {}

  /** Registers the subscriber first, then hands out the current snapshot: nothing falls between. */
  async subscribe(subscriber: Subscriber): Promise<Subscription> {
    this.ready ??= this.track(this.start());
    await this.ready;
    this.subscribers.add(subscriber);
    return {
      snapshot: [...this.known.values()].map((k) => k.view),
      unsubscribe: () => {
        this.subscribers.delete(subscriber);
        if (this.subscribers.size === 0) this.stop();
      },
    };
  }

  /**
   * Ends every subscription (facade shutdown); resolves once no poll is in flight, so the Temporal
   * connection can be closed without a retrying call firing on it afterwards.
   */
  async close(): Promise<void> {
    const err = new DriverError(
      status.UNAVAILABLE,
      'the ateflow driver is shutting down; reconnect to another instance',
    );
    for (const subscriber of this.subscribers) subscriber.onError(err);
    this.subscribers.clear();
    this.stop();
    await Promise.all([...this.inFlight]);
  }

  /**
   * How stale the cache may be and still answer reads: a few missed polls. Visibility itself lags
   * the workflows by a little more (milliseconds on the dev server and SQL visibility).
   */
  private get maxStalenessMs(): number {
    return Math.max(4 * this.options.pollMs, 2_000);
  }

  /** True while the poller runs and its last successful poll is recent. */
  private get live(): boolean {
    return this.subscribers.size > 0 && Date.now() - this.freshAsOfMs <= this.maxStalenessMs;
  }

  /**
   * A sandbox's latest view from the cache when the cache is live and this facade did not just
   * change the sandbox (the change may not be in visibility yet); undefined: read it from Temporal.
   */
  cached(sandboxId: string): SandboxView | undefined {
    if (!this.live || this.sandboxes.writtenWithin(sandboxId, this.maxStalenessMs)) return undefined;
    return this.known.get(sandboxId)?.view;
  }

  /** Every running sandbox's view from the cache when it is live; undefined otherwise. */
  cachedAll(): CachedViews | undefined {
    if (!this.live) return undefined;
    return { views: [...this.known.values()].map((k) => k.view), unread: [...this.unread] };
  }

  /** Polls (and the first sync) still running. */
  private readonly inFlight = new Set<Promise<void>>();
  private track(work: Promise<void>): Promise<void> {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return work;
  }

  private async start(): Promise<void> {
    const generation = ++this.generation;
    try {
      this.lastPollStartMs = this.startedAtMs = Date.now();
      await this.syncMembership();
      this.freshAsOfMs = this.startedAtMs;
    } catch (err) {
      this.ready = undefined;
      throw err instanceof DriverError ? err : new DriverError(status.UNAVAILABLE, String(err));
    }
    this.schedule(generation);
  }

  private stop(): void {
    this.generation++;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.ready = undefined;
    this.known.clear();
    this.unread.clear();
    this.announcedDeletions.clear();
    this.failingSinceMs = undefined;
    this.freshAsOfMs = 0;
  }

  private schedule(generation: number): void {
    this.timer = setTimeout(() => void this.track(this.tick(generation)), this.options.pollMs);
  }

  private async tick(generation: number): Promise<void> {
    try {
      const started = Date.now();
      let since = this.lastPollStartMs - LOOKBACK_MS;
      if (started - this.lastMembershipSyncMs >= MEMBERSHIP_RESYNC_MS) {
        // Late visibility: each resync also re-reads a longer window (see LATE_VISIBILITY_MS).
        since = Math.min(since, this.lastMembershipSyncMs - LATE_VISIBILITY_MS);
        await this.resyncMembership();
      }
      const changed = await this.sandboxes.changedSince(since);
      if (generation !== this.generation) return;
      await this.apply(changed, generation, started);
      this.lastPollStartMs = this.freshAsOfMs = started;
      this.failingSinceMs = undefined;
    } catch (err) {
      if (generation !== this.generation) return;
      this.failingSinceMs ??= Date.now();
      const failingFor = Date.now() - this.failingSinceMs;
      logger.warn({ err: String(err), failingFor }, 'watch event source: poll failed');
      if (failingFor >= this.options.lossMs) {
        const lost = new DriverError(
          status.UNAVAILABLE,
          `the ateflow driver lost its event source: Temporal at ${this.options.temporalAddress} has not ` +
            `answered for ${Math.round(failingFor / 1000)}s (${err instanceof Error ? err.message : String(err)})`,
        );
        const subscribers = [...this.subscribers];
        this.subscribers.clear();
        this.stop();
        for (const subscriber of subscribers) subscriber.onError(lost);
        return;
      }
    }
    if (generation === this.generation) this.schedule(generation);
  }

  /**
   * Adds every running sandbox not yet known (the first call builds the whole snapshot), and
   * announces the deletion of known ones that are no longer running, in case visibility reported
   * their close too late for a poll's lookback window to see it.
   */
  private async resyncMembership(): Promise<void> {
    const relistDue = Date.now() - this.lastMembershipListMs >= MEMBERSHIP_RELIST_MS;
    if (
      !relistDue &&
      (await this.sandboxes.countRunning()) === new Set([...this.known.keys(), ...this.unread]).size
    ) {
      this.lastMembershipSyncMs = Date.now();
      return;
    }
    await this.syncMembership();
  }

  private async syncMembership(): Promise<void> {
    const readAtMs = Date.now();
    const executions = await this.sandboxes.running();
    const running = new Set(executions.map((e) => e.sandboxId));
    for (const id of [...this.known.keys()].filter((known) => !running.has(known))) {
      const execution = await this.sandboxes.describe(id);
      if (execution?.running) continue;
      if (execution && !execution.deleted) continue; // e.g. continued as new: the next list has it
      this.known.delete(id);
      this.unread.delete(id);
      if (!this.announcedDeletions.has(id)) {
        this.announcedDeletions.set(id, Date.now());
        this.publish({ kind: 'deleted', sandboxId: id });
      }
    }
    const initial = this.known.size === 0;
    // Known sandboxes whose listed view is newer than the cached one: changes no poll saw.
    for (const execution of executions) {
      const known = this.known.get(execution.sandboxId);
      if (known && execution.view && execution.changedAtMs > known.changedAtMs)
        this.update(execution.view, execution.changedAtMs, readAtMs);
    }
    const { views, failed } = await this.sandboxes.viewsOf(
      executions.filter((e) => !this.known.has(e.sandboxId)),
    );
    for (const view of views) {
      // A sandbox found while listing may have been created just now (e.g. while the first
      // subscriber connected): its newer events are still news, published by the next poll.
      const before = view.events.filter((event) => event.timestampMs < this.startedAtMs);
      this.remember(view, 0, readAtMs, before[before.length - 1]?.seq ?? 0);
      if (!initial) this.publish({ kind: 'sandbox', view });
    }
    this.noteUnread(failed);
    this.lastMembershipSyncMs = this.lastMembershipListMs = Date.now();
  }

  private async apply(changed: SandboxExecution[], generation: number, readAtMs: number): Promise<void> {
    const now = Date.now();
    for (const [id, at] of this.announcedDeletions) {
      if (now - at > ANNOUNCED_DELETIONS_KEPT_MS) this.announcedDeletions.delete(id);
    }
    const toQuery = new Map<string, number>([...this.unread].map((id) => [id, 0]));
    const published: Array<{ view: SandboxView; changedAtMs: number }> = [];
    for (const execution of changed) {
      const id = execution.sandboxId;
      if (execution.deleted) {
        toQuery.delete(id);
        this.unread.delete(id);
        if (this.announcedDeletions.has(id)) continue;
        this.announcedDeletions.set(id, now);
        this.known.delete(id);
        this.publish({ kind: 'deleted', sandboxId: id });
      } else if (execution.running && (this.known.get(id)?.changedAtMs ?? -1) < execution.changedAtMs) {
        if (execution.view) {
          toQuery.delete(id);
          published.push({ view: execution.view, changedAtMs: execution.changedAtMs });
        } else {
          toQuery.set(id, execution.changedAtMs);
        }
      }
    }
    const { views, failed } = await this.sandboxes.views([...toQuery.keys()]);
    if (generation !== this.generation) return;
    for (const { view, changedAtMs } of published) {
      this.unread.delete(view.sandboxId);
      this.update(view, changedAtMs, readAtMs);
    }
    for (const view of views) {
      this.unread.delete(view.sandboxId);
      this.update(view, toQuery.get(view.sandboxId) ?? 0, readAtMs);
    }
    this.noteUnread(failed);
  }

  /** A sandbox that cannot be read now is retried; only losing visibility ends the streams. */
  private noteUnread(failed: Map<string, DriverError>): void {
    for (const [id, err] of failed) {
      if (!this.unread.has(id))
        logger.warn({ sandboxId: id, err: err.message }, 'watch: cannot read sandbox view');
      this.unread.add(id);
    }
  }

  private update(view: SandboxView, changedAtMs: number, readAtMs: number): void {
    const previous = this.known.get(view.sandboxId);
    const lastSeq = previous?.lastSeq ?? 0;
    this.remember(view, changedAtMs, readAtMs);
    // Events first: they tell how the sandbox got to the state its snapshot then shows, so a
    // watcher that sees the snapshot has already seen the events leading to it.
    for (const event of view.events) {
      if (event.seq > lastSeq) this.publish({ kind: 'event', sandboxId: view.sandboxId, event });
    }
    if (!previous || !sameView(previous.view, view)) {
      this.publish({ kind: 'sandbox', view });
    }
  }

  private remember(
    view: SandboxView,
    changedAtMs: number,
    readAtMs: number,
    lastSeq = view.events[view.events.length - 1]?.seq ?? 0,
  ): void {
    this.known.set(view.sandboxId, { view, changedAtMs, lastSeq, readAtMs });
  }

  private publish(change: SandboxChange): void {
    for (const subscriber of this.subscribers) subscriber.onChange(change);
  }
}

/** Equal apart from how many past events each carries (published views carry only recent ones). */
function sameView(a: SandboxView, b: SandboxView): boolean {
  const comparable = (view: SandboxView) => JSON.stringify({ ...view, events: view.events.at(-1)?.seq ?? 0 });
  return comparable(a) === comparable(b);
}
