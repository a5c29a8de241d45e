// Pure helpers over the sandbox view: the initial view, derived fields, and the bounded event log.
// Deterministic and free of I/O (runs inside the workflow sandbox).
import type { ActorView, LifecycleEvent, SandboxInput, SandboxView } from './messages';

/** Lifecycle events kept in the view (the gateway keeps 50 per sandbox too). */
export const MAX_EVENTS = 50;

export function initialView(input: SandboxInput, nowMs: number): SandboxView {
  return {
    sandboxId: input.sandboxId,
    sandboxName: input.sandboxName,
    workspace: input.workspace,
    state: 'PROVISIONING',
    detail: 'provisioning: waiting to start',
    waitingForCapacity: false,
    actor: input.actor,
    template: input.template.ref,
    templateOwned: input.template.kind === 'synthesized',
    labels: input.labels,
    workerSelector: input.workerSelector,
    idleTimeoutMs: input.idleTimeoutMs,
    ...(input.keepAliveMs ? { keepAliveMs: input.keepAliveMs } : {}),
    lastActiveAtMs: nowMs,
    idleDeadlineMs: 0,
    createdAtMs: nowMs,
    events: [],
  };
}

/**
 * When the idle timer suspends the sandbox, or 0 when it is not armed: the idle timeout after
 * the last use, and never inside the keep-alive window that follows a create or start.
 */
export function idleDeadline(view: SandboxView): number {
  const armed = view.state === 'RUNNING' && view.idleTimeoutMs > 0 && !view.hold;
  return armed ? Math.max(view.lastActiveAtMs + view.idleTimeoutMs, view.keepAliveUntilMs ?? 0) : 0;
}

/**
 * Lifecycle events in the published view (memo): a transition publishes one or two at a time, so
 * a watcher polling every few hundred milliseconds sees each one (and queries when it missed
 * some); the full list stays behind the `view` query and in history. Three keep the memo under
 * the server's 2 KB warning size (a view is ~0.9 KB, an event ~0.25 KB).
 */
export const PUBLISHED_EVENTS = 3;

/** Fields of the actor's view that repeat the sandbox's own; the published view leaves them out when equal. */
const REPEATED = ['ref', 'template', 'workerSelector'] as const;
const sandboxFieldOf = { ref: 'actor', template: 'template', workerSelector: 'workerSelector' } as const;

/** The view as published in the memo: the actor's view without what repeats the sandbox's own fields. */
export type PublishedView = Omit<SandboxView, 'actorView'> & {
  actorView?: Omit<ActorView, (typeof REPEATED)[number]> &
    Partial<Pick<ActorView, (typeof REPEATED)[number]>>;
};

/**
 * The view as the workflow publishes it in its memo (`view`), where the facade reads it without a
 * query: recent events only, or every event recorded since the last publication when there are
 * more, so that history still holds each event once (`ateflow sandbox history`). The actor's
 * view leaves out what repeats the sandbox's fields (fromPublished puts it back): ~180 bytes,
 * which keep a running sandbox's memo under the server's 2 KB warning size.
 */
export function publishedView(view: SandboxView, unpublished: LifecycleEvent[]): PublishedView {
  const published: PublishedView = snapshot(view);
  published.events =
    unpublished.length > PUBLISHED_EVENTS ? [...unpublished] : published.events.slice(-PUBLISHED_EVENTS);
  const actorView = published.actorView;
  for (const field of REPEATED) {
    if (actorView && JSON.stringify(actorView[field]) === JSON.stringify(view[sandboxFieldOf[field]]))
      delete actorView[field];
  }
  return published;
}

/** The full view from a published one (older workflows published the actor's view whole). */
export function fromPublished(published: PublishedView): SandboxView {
  const { actorView, ...rest } = published;
  if (!actorView) return rest;
  return {
    ...rest,
    actorView: {
      ...actorView,
      ref: actorView.ref ?? rest.actor,
      template: actorView.template ?? rest.template,
      workerSelector: actorView.workerSelector ?? rest.workerSelector,
    },
  };
}

/** A deep copy with derived fields filled in: what queries and updates hand out. */
export function snapshot(view: SandboxView): SandboxView {
  const copy = JSON.parse(JSON.stringify(view)) as SandboxView;
  copy.idleDeadlineMs = idleDeadline(view);
  return copy;
}

export function appendEvent(view: SandboxView, event: Omit<LifecycleEvent, 'seq'>): LifecycleEvent {
  const last = view.events[view.events.length - 1];
  const recorded = { seq: (last?.seq ?? 0) + 1, ...event };
  view.events.push(recorded);
  if (view.events.length > MAX_EVENTS) view.events.splice(0, view.events.length - MAX_EVENTS);
  return recorded;
}
