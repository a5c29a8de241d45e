// Mirrors worker pods into worker records (upstream WorkerPoolSyncer): a pod with an IP is
// registered with version 1; a terminating or deleted pod first releases its actor — the
// actor drops to SUSPENDED with no checkpoint, keeping its latest snapshot — and is then
// unregistered.
import { Actor_Status } from '../gen/ateapi';
import type { Cluster, Pod } from './cluster/cluster';
import { PersistenceConflict } from './errors';
import { workerKeyOf, type Store } from './store';

const workerRefOf = (pod: Pod) => ({
  workerNamespace: pod.namespace,
  workerPool: pod.pool,
  workerPod: pod.name,
});

export class WorkerSyncer {
  constructor(
    private readonly store: Store,
    private readonly cluster: Cluster,
  ) {}

  register(pod: Pod): boolean {
    return this.store.createWorker({
      workerNamespace: pod.namespace,
      workerPool: pod.pool,
      workerPod: pod.name,
      actorNamespace: '',
      actorTemplate: '',
      actorId: '',
      ip: pod.ip,
      version: 1,
      workerPodUid: pod.uid,
      nodeName: pod.nodeName,
      actorAtespace: '',
    });
  }

  /** releaseActorOnDeadWorker, then the record goes. */
  unregister(pod: Pod): void {
    const worker = this.store.getWorker(workerKeyOf(workerRefOf(pod)));
    if (worker?.actorId) {
      const actor = this.store.getActor(worker.actorAtespace, worker.actorId);
      if (actor && actor.ateomPodNamespace === pod.namespace && actor.ateomPodName === pod.name) {
        try {
          this.store.updateActor({
            ...actor,
            status: Actor_Status.STATUS_SUSPENDED,
            ateomPodNamespace: '',
            ateomPodName: '',
            ateomPodIp: '',
            inProgressSnapshot: '',
            workerPoolName: '',
          });
        } catch (err) {
          // A concurrent SuspendActor or ResumeActor wins, as upstream.
          if (!(err instanceof PersistenceConflict)) throw err;
        }
      }
    }
    this.store.deleteWorker(workerRefOf(pod));
  }

  /** Re-registers every running pod that has no record (the periodic informer resync). */
  resync(): number {
    let registered = 0;
    for (const pod of this.cluster.listPods()) {
      if (pod.phase === 'Running' && this.register(pod)) registered++;
    }
    return registered;
  }
}
