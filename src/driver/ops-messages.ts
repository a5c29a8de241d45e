// ateflow.v1 messages from the workflow's view and lifecycle events.
import type { Sandbox, SandboxEvent } from '../gen/ateflow';
import type { LifecycleEvent, SandboxView } from '../workflows/messages';

export function toSandboxMessage(view: SandboxView): Sandbox {
  return {
    id: view.sandboxId,
    name: view.sandboxName,
    workspace: view.workspace,
    state: view.state,
    detail: view.detail,
    waitingForCapacity: view.waitingForCapacity,
    failure: view.failure ? { reason: view.failure.reason, message: view.failure.message } : undefined,
    atespace: view.actor.atespace,
    actor: view.actor.name,
    template: `${view.template.namespace}/${view.template.name}`,
    templateOwned: view.templateOwned,
    workerPod: view.actorView?.podName ?? '',
    workerPool: view.actorView?.workerPool ?? '',
    workerSelector: { ...view.workerSelector },
    labels: { ...view.labels },
    idleTimeoutMs: view.idleTimeoutMs,
    lastActiveAtMs: view.lastActiveAtMs,
    idleDeadlineMs: view.idleDeadlineMs,
    hold: view.hold ? { reason: view.hold.reason, sinceMs: view.hold.sinceMs } : undefined,
    createdAtMs: view.createdAtMs,
  };
}

export function toSandboxEvent(sandboxId: string, event: LifecycleEvent): SandboxEvent {
  return {
    sandboxId,
    seq: event.seq,
    timestampMs: event.timestampMs,
    type: event.type,
    reason: event.reason,
    message: event.message,
    metadata: { ...event.metadata },
  };
}
