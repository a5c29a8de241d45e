// ResumeActor, SuspendActor and PauseActor as upstream's step workflows: each step persists
// its own change, so a concurrent reader sees RESUMING/SUSPENDING/PAUSING while atelet works,
// and a failed call leaves that state for a retry to complete ("client-driven forward
// recovery"). Calls take the per-actor-name lock and run under a 28 s deadline.
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Actor_Status, SnapshotType, type ActorRef, type SnapshotInfo } from '../gen/ateapi';
import type { AteletCall, Atelets } from './atelet';
import type { Cluster, Pod } from './cluster/cluster';
import type { ActorTemplate } from './cluster/resources';
import type { TemplateStore } from './cluster/templates';
import {
  actorNotFound,
  failedPrecondition,
  lockConflict,
  PersistenceConflict,
  stepFailure,
  StatusError,
} from './errors';
import type { ActorLocks } from './locks';
import type { Random } from './random';
import { eligiblePools, pickFreeWorker, poolKey } from './scheduler';
import type { SecretCache } from './secret-cache';
import { workerKeyOf, type Store, type StoredActor } from './store';
import type { WorkerCache } from './worker-cache';

/** The lock TTL minus 2 s of padding. */
export const LIFECYCLE_DEADLINE_MS = 28_000;

/**
 * AssignWorker's in-process retry on a lost optimistic write (workflow_resume.go RetryBackoff:
 * wait.Backoff{Steps: 5, Duration: 10ms, Factor: 2, Jitter: 1}): five tries, sleeping 10, 20,
 * 40 and 80 ms, each stretched by up to 100 %. Real time, as upstream's constants are.
 */
export const ASSIGN_WORKER_BACKOFF = { steps: 5, durationMs: 10, factor: 2, jitter: 1 } as const;

export interface LifecycleDeps {
  store: Store;
  templates: TemplateStore;
  cluster: Cluster;
  atelets: Atelets;
  locks: ActorLocks;
  random: Random;
  deadlineMs: number;
  /** Where AssignWorker reads workers from (it may lag the store). */
  workerCache: WorkerCache;
  /** Where env secretKeyRefs are resolved (cached for a TTL, as upstream). */
  secrets: SecretCache;
}

/** RFC 3339 in UTC without fractions, as Go's time.RFC3339 prints it. */
const rfc3339 = (date = new Date()) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Runs one workflow step; a failure surfaces as upstream's "workflow failed at step <name>". */
async function step<T>(name: string, body: () => T | Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw stepFailure(name, err);
  }
}

type StopKind = 'suspend' | 'pause';

const STOP = {
  suspend: {
    rpc: 'SuspendActor',
    load: 'LoadActorForSuspend',
    mark: 'MarkSuspending',
    call: 'CallAteletSuspend',
    finalize: 'FinalizeSuspended',
    transitional: Actor_Status.STATUS_SUSPENDING,
    final: Actor_Status.STATUS_SUSPENDED,
  },
  pause: {
    rpc: 'PauseActor',
    load: 'LoadActorForPause',
    mark: 'MarkPausing',
    call: 'CallAteletPause',
    finalize: 'FinalizePaused',
    transitional: Actor_Status.STATUS_PAUSING,
    final: Actor_Status.STATUS_PAUSED,
  },
} as const;

export class Lifecycle {
  constructor(private readonly deps: LifecycleDeps) {}

  resume(ref: ActorRef, boot: boolean, callSignal: AbortSignal): Promise<StoredActor> {
    return this.locked(ref.name, callSignal, async (signal) => {
      const call: AteletCall = { rpc: 'ResumeActor', actorName: ref.name, atespace: ref.atespace, signal };
      let actor = this.loadActor(ref);
      const template = await step('LoadActorForResume', () => this.loadTemplate(actor));
      if (actor.status === Actor_Status.STATUS_RUNNING) return actor;
      actor = await step('AssignWorker', () => this.assignWorkerWithRetry(actor, template, signal));
      const bound = actor;
      await step('CallAteletRestore', () => this.restore(bound, template, boot, call));
      return step('FinalizeRunning', () => {
        const current = this.loadActor(ref);
        return this.deps.store.updateActor({ ...current, status: Actor_Status.STATUS_RUNNING });
      });
    });
  }

  suspend(ref: ActorRef, callSignal: AbortSignal): Promise<StoredActor> {
    return this.stop('suspend', ref, callSignal);
  }

  pause(ref: ActorRef, callSignal: AbortSignal): Promise<StoredActor> {
    return this.stop('pause', ref, callSignal);
  }

  private stop(kind: StopKind, ref: ActorRef, callSignal: AbortSignal): Promise<StoredActor> {
    const names = STOP[kind];
    return this.locked(ref.name, callSignal, async (signal) => {
      const { store, cluster, atelets } = this.deps;
      let actor = this.loadActor(ref);
      const template = await step(names.load, () => this.loadTemplate(actor));

      // Mark: only a RUNNING actor moves; anything else is a silent no-op.
      if (actor.status === Actor_Status.STATUS_RUNNING) {
        const current = actor;
        actor = await step(names.mark, () =>
          store.updateActor({
            ...current,
            status: names.transitional,
            inProgressSnapshot: this.snapshotName(kind, template, ref.name),
          }),
        );
      }

      if (actor.status !== names.final) {
        const current = actor;
        await step(names.call, async () => {
          const state = kind === 'suspend' ? 'SUSPENDING' : 'PAUSING';
          if (!current.ateomPodNamespace)
            throw new Error(`actor is in ${state} state but has no active worker`);
          const pod = cluster.findPod(current.ateomPodNamespace, current.ateomPodName);
          if (!pod) return; // dangling worker: the pod is gone, nothing to checkpoint
          const call: AteletCall = {
            rpc: names.rpc,
            actorName: ref.name,
            atespace: ref.atespace,
            signal,
          };
          await atelets.checkpoint(
            pod,
            kind === 'suspend'
              ? { kind: 'external', uriPrefix: current.inProgressSnapshot }
              : { kind: 'local', node: pod.nodeName, prefix: current.inProgressSnapshot },
            call,
          );
        });
      }

      if (actor.status === names.final && !actor.ateomPodNamespace) return actor;
      const bound = actor;
      return step(names.finalize, () => this.finalizeStopped(kind, bound));
    });
  }

  /** Lock, deadline, and the lock's release however the call ends. */
  private async locked<T>(
    name: string,
    callSignal: AbortSignal,
    body: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const { locks, deadlineMs } = this.deps;
    const token = locks.acquire(name);
    if (!token) throw lockConflict();
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new StatusError(GrpcStatus.DEADLINE_EXCEEDED, 'context deadline exceeded')),
      deadlineMs,
    );
    try {
      return await body(AbortSignal.any([callSignal, deadline.signal]));
    } finally {
      clearTimeout(timer);
      locks.release(name, token);
    }
  }

  private loadActor(ref: ActorRef): StoredActor {
    const actor = this.deps.store.getActor(ref.atespace, ref.name);
    if (!actor) throw actorNotFound(ref.name);
    return actor;
  }

  private loadTemplate(actor: StoredActor): ActorTemplate {
    const template = this.deps.templates.get(actor.actorTemplateNamespace, actor.actorTemplateName);
    if (!template) {
      throw new Error(
        `while getting ActorTemplate: actortemplate.ate.dev "${actor.actorTemplateName}" not found`,
      );
    }
    return template;
  }

  /** AssignWorker with upstream's retry: only a lost optimistic write is tried again. */
  private async assignWorkerWithRetry(
    actor: StoredActor,
    template: ActorTemplate,
    signal: AbortSignal,
  ): Promise<StoredActor> {
    const { steps, durationMs, factor, jitter } = ASSIGN_WORKER_BACKOFF;
    let delay = durationMs;
    for (let attempt = 1; ; attempt++) {
      // wait.ExponentialBackoff's condition checks the context first; its error is a plain one.
      if (signal.aborted) {
        const reason: unknown = signal.reason;
        const expired = reason instanceof StatusError && reason.code === GrpcStatus.DEADLINE_EXCEEDED;
        throw new Error(expired ? 'context deadline exceeded' : 'context canceled');
      }
      try {
        return this.assignWorker(actor, template);
      } catch (err) {
        if (!(err instanceof PersistenceConflict)) throw err;
        if (attempt === steps) throw new Error('timed out waiting for the condition', { cause: err });
      }
      await new Promise((resolve) => setTimeout(resolve, delay * (1 + this.deps.random.next() * jitter)));
      delay *= factor;
    }
  }

  /**
   * Reuse the worker already tagged with this actor if still eligible, else a random free one.
   * Workers come from the worker cache, so the record read may be stale: a write against it then
   * fails as a PersistenceConflict (and the step tries again), or against a flushed worker with
   * "worker does not exist".
   */
  private assignWorker(actor: StoredActor, template: ActorTemplate): StoredActor {
    const { store, cluster, random, workerCache } = this.deps;
    const eligible = eligiblePools(cluster.listPools(), template, actor.workerSelector);
    if (eligible.length === 0) {
      throw failedPrecondition(
        "no worker pool matches the template's sandboxClass and the template/actor selectors",
      );
    }
    const eligibleKeys = new Set(eligible.map((p) => poolKey(p.metadata.namespace, p.metadata.name)));
    const workers = workerCache.workers();
    let claimed = undefined as (typeof workers)[number] | undefined;
    for (const worker of workers) {
      if (worker.actorId !== actor.actorId) continue; // by name only, as upstream (§2.10)
      const stillEligible = eligibleKeys.has(poolKey(worker.workerNamespace, worker.workerPool));
      if (stillEligible && !claimed) claimed = worker;
      else if (!stillEligible)
        store.updateWorker({ ...worker, actorId: '', actorNamespace: '', actorTemplate: '' });
    }
    if (!claimed) {
      const pinned = actor.latestSnapshotInfo?.local?.nodeVmsWithLocalSnapshots ?? [];
      claimed = pickFreeWorker(workers, eligibleKeys, pinned, random);
      if (!claimed) throw failedPrecondition('no free workers available');
    }
    // The worker is written whether reused or picked, at the version the cache showed.
    claimed = store.updateWorker({
      ...claimed,
      actorId: actor.actorId,
      actorNamespace: actor.actorTemplateNamespace,
      actorTemplate: actor.actorTemplateName,
      actorAtespace: actor.atespace,
    });
    return store.updateActor({
      ...actor,
      status: Actor_Status.STATUS_RESUMING,
      ateomPodNamespace: claimed.workerNamespace,
      ateomPodName: claimed.workerPod,
      ateomPodIp: claimed.ip,
      ateomPodUid: claimed.workerPodUid,
      workerPoolName: claimed.workerPool,
    });
  }

  /** Own snapshot, else the golden snapshot (unless boot), else a cold boot. */
  private async restore(
    actor: StoredActor,
    template: ActorTemplate,
    boot: boolean,
    resumeCall: AteletCall,
  ): Promise<void> {
    const { cluster, atelets } = this.deps;
    const pod = cluster.findPod(actor.ateomPodNamespace, actor.ateomPodName);
    if (!pod || pod.phase !== 'Running') {
      throw new Error(`worker pod ${actor.ateomPodNamespace}/${actor.ateomPodName} not found`);
    }
    const env = this.resolveEnv(template);
    // The main container, for process actors (one without a command runs no process).
    const command = template.spec.containers?.[0]?.command ?? [];
    const call: AteletCall = {
      ...resumeCall,
      env,
      ...(command.length > 0 ? { main: { argv: command, env } } : {}),
    };
    const own = actor.latestSnapshotInfo;
    if (own && own.type === SnapshotType.SNAPSHOT_TYPE_EXTERNAL) {
      await atelets.restore(
        pod,
        { kind: 'external', uriPrefix: own.external?.snapshotUriPrefix ?? '' },
        call,
      );
    } else if (own && own.type === SnapshotType.SNAPSHOT_TYPE_LOCAL) {
      await atelets.restore(
        pod,
        { kind: 'local', node: pod.nodeName, prefix: own.local?.snapshotPrefix ?? '' },
        call,
      );
    } else if (template.status?.goldenSnapshot && !boot) {
      await atelets.restore(pod, { kind: 'external', uriPrefix: template.status.goldenSnapshot }, call);
    } else {
      this.resolveSandboxConfig(pod);
      await atelets.run(pod, call);
    }
  }

  /**
   * Secret-backed env must resolve; the worker is already claimed when this fails. Returns the
   * main container's env with its secrets resolved (an optional missing one is left unset).
   */
  private resolveEnv(template: ActorTemplate): Record<string, string> {
    const namespace = template.metadata.namespace;
    const main: Record<string, string> = {};
    for (const [index, container] of (template.spec.containers ?? []).entries()) {
      for (const env of container.env ?? []) {
        const ref = env.valueFrom?.secretKeyRef;
        if (!ref) {
          if (index === 0 && env.value !== undefined) main[env.name] = env.value;
          continue;
        }
        const data = this.deps.secrets.get(namespace, ref.name);
        const value = data?.[ref.key];
        if (value !== undefined) {
          if (index === 0) main[env.name] = value;
          continue;
        }
        if (ref.optional) continue;
        const where = `container "${container.name}" env "${env.name}"`;
        throw failedPrecondition(
          data === undefined
            ? `${where} references missing secret ${namespace}/${ref.name}`
            : `${where} references missing key "${ref.key}" in secret ${namespace}/${ref.name}`,
        );
      }
    }
    return main;
  }

  /** A cold boot needs sandbox assets: the pool's named SandboxConfig or its class's one default. */
  private resolveSandboxConfig(pod: Pod): void {
    const { cluster } = this.deps;
    const pool = cluster.findPool(pod.namespace, pod.pool);
    if (!pool) throw new Error(`worker pool ${pod.namespace}/${pod.pool} not found`);
    const wanted = pool.spec.sandboxClass;
    const named = pool.spec.sandboxConfigName;
    if (named) {
      const config = cluster.sandboxConfigs.find((c) => c.metadata.name === named);
      if (!config) throw new Error(`while resolving sandbox assets: SandboxConfig "${named}" not found`);
      if (config.spec.sandboxClass !== wanted) {
        throw new Error(
          `while resolving sandbox assets: SandboxConfig "${named}" has sandboxClass "${config.spec.sandboxClass}", pool needs "${wanted}"`,
        );
      }
      return;
    }
    const defaults = cluster.sandboxConfigs.filter((c) => c.spec.default && c.spec.sandboxClass === wanted);
    if (defaults.length !== 1) {
      throw new Error(
        `while resolving sandbox assets: expected exactly one default SandboxConfig for sandboxClass "${wanted}", found ${defaults.length}`,
      );
    }
  }

  /** `<location>/<id>/<RFC3339>-<rand>` for suspend, `<id>-<RFC3339>-<rand>` for pause. */
  private snapshotName(kind: StopKind, template: ActorTemplate, actorName: string): string {
    const suffix = `${rfc3339()}-${this.deps.random.text()}`;
    if (kind === 'pause') return `${actorName}-${suffix}`;
    return `${template.spec.snapshotsConfig.location.replace(/\/+$/, '')}/${actorName}/${suffix}`;
  }

  /** Free the worker (matched by actor name), then record the snapshot and unbind the actor. */
  private finalizeStopped(kind: StopKind, actor: StoredActor): StoredActor {
    const { store } = this.deps;
    const worker = store.getWorker(
      workerKeyOf({
        workerNamespace: actor.ateomPodNamespace,
        workerPool: actor.workerPoolName,
        workerPod: actor.ateomPodName,
      }),
    );
    if (worker && worker.actorId === actor.actorId) {
      store.updateWorker({
        ...worker,
        actorId: '',
        actorNamespace: '',
        actorTemplate: '',
        actorAtespace: '',
      });
    }
    const current = this.loadActor({ atespace: actor.atespace, name: actor.actorId });
    const snapshot = current.inProgressSnapshot;
    let latest: SnapshotInfo | undefined = current.latestSnapshotInfo;
    if (snapshot && kind === 'suspend') {
      latest = { type: SnapshotType.SNAPSHOT_TYPE_EXTERNAL, external: { snapshotUriPrefix: snapshot } };
    } else if (snapshot) {
      latest = {
        type: SnapshotType.SNAPSHOT_TYPE_LOCAL,
        local: { snapshotPrefix: snapshot, nodeVmsWithLocalSnapshots: [worker?.nodeName ?? ''] },
      };
    }
    return store.updateActor({
      ...current,
      status: STOP[kind].final,
      inProgressSnapshot: '',
      latestSnapshotInfo: latest,
      ateomPodNamespace: '',
      ateomPodName: '',
      ateomPodIp: '',
      workerPoolName: '',
    });
  }
}
