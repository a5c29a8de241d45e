// Converts ateapi's Actor into the plain, serialisable ActorView that workflows keep.
import { Actor_Status, SnapshotType, type Actor } from '../gen/ateapi';
import type { ActorStatus, ActorView } from '../workflows/messages';

const statusNames: Record<Actor_Status, ActorStatus> = {
  [Actor_Status.STATUS_RESUMING]: 'RESUMING',
  [Actor_Status.STATUS_RUNNING]: 'RUNNING',
  [Actor_Status.STATUS_SUSPENDING]: 'SUSPENDING',
  [Actor_Status.STATUS_SUSPENDED]: 'SUSPENDED',
  [Actor_Status.STATUS_PAUSING]: 'PAUSING',
  [Actor_Status.STATUS_PAUSED]: 'PAUSED',
  [Actor_Status.STATUS_UNSPECIFIED]: 'UNKNOWN',
  [Actor_Status.UNRECOGNIZED]: 'UNKNOWN',
};

export function toActorView(actor: Actor): ActorView {
  const snapshot = actor.latestSnapshotInfo;
  return {
    ref: { atespace: actor.atespace, name: actor.actorId },
    status: statusNames[actor.status] ?? 'UNKNOWN',
    version: actor.version,
    template: { namespace: actor.actorTemplateNamespace, name: actor.actorTemplateName },
    podName: actor.ateomPodName,
    podUid: actor.ateomPodUid,
    podIp: actor.ateomPodIp,
    workerPool: actor.workerPoolName,
    snapshot:
      snapshot?.type === SnapshotType.SNAPSHOT_TYPE_EXTERNAL
        ? 'EXTERNAL'
        : snapshot?.type === SnapshotType.SNAPSHOT_TYPE_LOCAL
          ? 'LOCAL'
          : 'NONE',
    snapshotUri: snapshot?.external?.snapshotUriPrefix ?? snapshot?.local?.snapshotPrefix ?? '',
    workerSelector: { ...(actor.workerSelector?.matchLabels ?? {}) },
  };
}
