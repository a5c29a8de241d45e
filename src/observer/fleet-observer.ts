// The fleet observer: ateapi has no watch, so one poller lists every actor (paginated), diffs
// against its last view, and signals only the sandbox workflows whose actor changed in a way
// they did not cause (a pod loss, a traffic-driven resume, an actor that vanished).
//
// Why one observer for the whole fleet, run as an activity of a singleton workflow: the workflow
// id makes it a singleton across any number of worker processes, its heartbeat timeout moves it to
// another worker when one dies, and sandbox workflows never poll Substrate themselves (no history
// growth, one ListActors sweep instead of one GetActor per sandbox).
import { status } from '@grpc/grpc-js';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { AteapiClient } from '../substrate/client';
import { toActorView } from '../substrate/actor-view';
import { isServiceError } from '../substrate/errors';
import {
  actorObservedSignal,
  sandboxWorkflowId,
  viewQuery,
  type ActorView,
  type SandboxView,
} from '../workflows/messages';

const QUERY_TIMEOUT_MS = 5_000;
const key = (actor: { ref: { atespace: string; name: string } }) => `${actor.ref.atespace}/${actor.ref.name}`;

/** States in which the workflow itself is changing the actor, or no longer owns one. */
const notObservable = new Set(['PROVISIONING', 'DELETING', 'DELETED']);

export interface ObservationReport {
  actors: number;
  changed: number;
  signalled: number;
  /** Actors whose sandbox could not be reached this sweep (retried on the next one). */
  failed: number;
}

export class FleetObserver {
  /** Last actor version handled, per atespace/name. */
  private readonly seen = new Map<string, ActorView>();

  constructor(
    private readonly ateapi: AteapiClient,
    private readonly temporal: Client,
    /** Told about each sandbox a sweep could not reconcile (default: silent). */
    private readonly onSweepError?: (sandboxId: string, err: unknown) => void,
  ) {}

  /** One sweep: list, diff, and signal where the workflow's view disagrees with Substrate. */
  async pollOnce(): Promise<ObservationReport> {
    const actors = (await this.ateapi.listAllActors()).map(toActorView);
    const current = new Map(actors.map((actor) => [key(actor), actor]));
    const report: ObservationReport = { actors: actors.length, changed: 0, signalled: 0, failed: 0 };
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
    for (const actor of actors) {
      if (this.seen.get(key(actor))?.version === actor.version) continue;
      await handle(actor.ref.name, key(actor), () => Promise.resolve(actor));
    }
    for (const [missing, last] of [...this.seen]) {
      if (current.has(missing)) continue;
      // ListActors pages are soft (upstream: items may be missed while data changes), so an
      // actor absent from one sweep is only gone if GetActor says so.
      await handle(last.ref.name, missing, async () => {
        const actor = await this.lookUp(last);
        return actor?.version === last.version ? 'unchanged' : actor;
      });
    }
    return report;
  }

  /** The actor as GetActor reports it now; null when it no longer exists. */
  private async lookUp(last: ActorView): Promise<ActorView | null> {
    try {
      return toActorView(await this.ateapi.getActor(last.ref));
    } catch (err) {
      if (isServiceError(err) && err.code === status.NOT_FOUND) return null;
      throw err;
    }
  }

  /** Signals the actor's sandbox workflow if the observation is news to it. */
  private async reconcile(sandboxId: string, actor: ActorView | null): Promise<boolean> {
    const handle = this.temporal.workflow.getHandle(sandboxWorkflowId(sandboxId));
    let view: SandboxView;
    try {
      // Bounded: a query waits for a worker, and a stuck one must not stall the whole sweep.
      view = await this.temporal.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.query(viewQuery));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false; // not a sandbox of ours
      throw err;
    }
    if (notObservable.has(view.state) || !isNews(view, actor)) return false;
    await handle.signal(actorObservedSignal, actor);
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
