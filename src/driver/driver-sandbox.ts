// What the gateway sees of a sandbox: the workflow's view as a DriverSandbox with conditions
// (architecture §4), and lifecycle events as platform events.
//
// The gateway understands only the `Ready` and `Suspended` condition types, and treats every
// `Ready=False` reason outside its closed transient list as a terminal Error. So transitional
// states use `Starting` or `DependenciesNotReady` and carry our detail in the message.
import type { DriverCondition, DriverPlatformEvent, DriverSandbox } from '../gen/compute_driver';
import type { LifecycleEvent, SandboxView } from '../workflows/messages';

/** The gateway's transient Ready=False reasons (is_terminal_failure_reason), compared case-insensitively. */
const TRANSIENT_REASONS = new Set(
  [
    'ReconcilerError',
    'DependenciesNotReady',
    'SupervisorNotConnected',
    'Starting',
    'ContainerStarting',
    'ContainerCreated',
    'HealthCheckStarting',
    'InspectFailed',
  ].map((r) => r.toLowerCase()),
);

export const PLATFORM_EVENT_SOURCE = 'ateflow';

export function toDriverSandbox(view: SandboxView): DriverSandbox {
  const lastEvent = view.events[view.events.length - 1];
  const since = new Date(lastEvent?.timestampMs ?? view.createdAtMs).toISOString();
  const condition = (type: string, status: string, reason: string, message: string): DriverCondition => ({
    type,
    status,
    reason,
    message,
    lastTransitionTime: since,
  });
  const notReady = (reason: 'Starting' | 'DependenciesNotReady', message: string) =>
    condition('Ready', 'False', reason, message);
  const detail = view.detail;

  let conditions: DriverCondition[];
  switch (view.state) {
    case 'PROVISIONING':
    case 'RESUMING':
      conditions = [
        view.waitingForCapacity
          ? notReady('DependenciesNotReady', detail || 'waiting for a free Substrate worker')
          : notReady(
              'Starting',
              detail ||
                (view.state === 'RESUMING' ? 'restoring memory snapshot' : 'creating the gVisor actor'),
            ),
      ];
      break;
    case 'MIGRATING':
      conditions = [notReady('DependenciesNotReady', detail || 'migrating to another worker')];
      break;
    case 'RUNNING':
      // The gateway shows Ready only once the supervisor inside also holds a session with it.
      conditions = [condition('Ready', 'True', 'ActorRunning', detail || 'actor running')];
      break;
    case 'SUSPENDING':
      conditions = [
        condition(
          'Suspended',
          'False',
          'PodTerminating',
          detail || 'suspending: writing the memory snapshot',
        ),
        notReady('DependenciesNotReady', detail || 'suspending: writing the memory snapshot'),
      ];
      break;
    case 'SUSPENDED':
    case 'PAUSED':
      conditions = [
        condition(
          'Suspended',
          'True',
          view.state === 'PAUSED' ? 'Paused' : 'MemorySnapshotted',
          stoppedMessage(view),
        ),
        notReady('DependenciesNotReady', stoppedMessage(view)),
      ];
      break;
    case 'DELETING':
    case 'DELETED':
      // Display only: the gateway checks `deleting` before any condition.
      conditions = [condition('Ready', 'False', 'Deleting', detail || 'deleting the actor')];
      break;
    case 'FAILED':
      // A sandbox that `start` recovers rests Stopped in the gateway (Stopped leaves by StartSandbox);
      // only one whose way out is delete becomes the gateway's terminal Error.
      conditions =
        view.failure?.recovery === 'start'
          ? [
              condition('Suspended', 'True', terminalReason(view.failure.reason), failureMessage(view)),
              notReady('DependenciesNotReady', failureMessage(view)),
            ]
          : [condition('Ready', 'False', terminalReason(view.failure?.reason), failureMessage(view))];
      break;
  }
  return {
    id: view.sandboxId,
    name: view.sandboxName,
    namespace: view.actor.atespace,
    workspace: view.workspace,
    status: {
      sandboxName: view.actor.name,
      instanceId: view.actor.name,
      agentFd: '',
      sandboxFd: '',
      conditions,
      deleting: view.state === 'DELETING' || view.state === 'DELETED',
    },
  };
}

function stoppedMessage(view: SandboxView): string {
  const base =
    view.detail || (view.state === 'PAUSED' ? 'paused (node-local snapshot)' : 'suspended (memory snapshot)');
  return view.hold ? `${base}; held (${view.hold.reason}): release the hold before starting` : base;
}

/** A failure reason the gateway cannot mistake for a transient one. */
function terminalReason(reason: string | undefined): string {
  if (!reason || TRANSIENT_REASONS.has(reason.toLowerCase())) return 'SandboxFailed';
  return reason;
}

function failureMessage(view: SandboxView): string {
  const message = view.failure?.message || view.detail || 'the sandbox failed';
  return `${message} (history: ateflow sandbox history ${view.sandboxId})`;
}

export function toPlatformEvent(event: LifecycleEvent): DriverPlatformEvent {
  return {
    timestampMs: event.timestampMs,
    source: PLATFORM_EVENT_SOURCE,
    type: event.type,
    reason: event.reason,
    message: event.message,
    metadata: { ...event.metadata, 'ateflow.seq': String(event.seq) },
  };
}
