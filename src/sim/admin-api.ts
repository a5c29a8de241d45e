// The SimulatorAdmin service (proto/sim_admin.proto): operator controls over the simulated
// cluster, fault injection, and the ActorTemplate store that stands in for the Kubernetes API.
import { status as GrpcStatus, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { actor_StatusToJSON, type Actor } from '../gen/ateapi';
import type { Fault, GetInfoResponse, SimActor, SimPool, SimWorker } from '../gen/sim_admin';
import { ClusterLookupError, type Pod } from './cluster/cluster';
import {
  InvalidObjectError,
  parseObject,
  secretSchema,
  type ActorTemplate,
  type WorkerPool,
} from './cluster/resources';
import type { SimulatorCore } from './core';
import { StatusError } from './errors';
import { unary } from './grpc';
import { workerKeyOf } from './store';

/** Maps the core's domain errors onto admin statuses; anything else stays Internal. */
function adminError(err: unknown): unknown {
  if (err instanceof ClusterLookupError) return new StatusError(GrpcStatus.NOT_FOUND, err.message);
  if (err instanceof InvalidObjectError) return new StatusError(GrpcStatus.INVALID_ARGUMENT, err.message);
  return err;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new StatusError(
      GrpcStatus.INVALID_ARGUMENT,
      `${what} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

const templateJson = (template: ActorTemplate) => JSON.stringify(template);

/** Read-only views of the core for the admin API and the CLI. */
export class AdminViews {
  constructor(private readonly core: SimulatorCore) {}

  worker(pod: Pod): SimWorker {
    const record = this.core.store.getWorker(
      workerKeyOf({ workerNamespace: pod.namespace, workerPool: pod.pool, workerPod: pod.name }),
    );
    const actor = record?.actorId
      ? this.core.store.getActor(record.actorAtespace, record.actorId)
      : undefined;
    const workload = this.core.atelets.workloadOn(pod);
    return {
      namespace: pod.namespace,
      pool: pod.pool,
      pod: pod.name,
      podUid: pod.uid,
      ip: pod.ip,
      node: pod.nodeName,
      phase: pod.phase,
      registered: record !== undefined,
      actorAtespace: record?.actorAtespace ?? '',
      actorName: record?.actorId ?? '',
      actorStatus: actor ? actor_StatusToJSON(actor.status) : '',
      workloadJson: workload ? JSON.stringify(workload) : '',
    };
  }

  actor(actor: Readonly<Actor>): SimActor {
    const info = actor.latestSnapshotInfo;
    const latestSnapshot = info?.external?.snapshotUriPrefix ?? info?.local?.snapshotPrefix ?? '';
    const pod = actor.ateomPodName
      ? this.core.cluster.findPod(actor.ateomPodNamespace, actor.ateomPodName)
      : undefined;
    const live = pod ? this.core.atelets.workloadOn(pod) : undefined;
    const saved = info?.external
      ? this.core.snapshots.getExternal(info.external.snapshotUriPrefix)
      : info?.local
        ? this.core.snapshots.getLocal(
            info.local.nodeVmsWithLocalSnapshots[0] ?? '',
            info.local.snapshotPrefix,
          )
        : undefined;
    const workload = live ?? saved;
    return {
      atespace: actor.atespace,
      name: actor.actorId,
      status: actor_StatusToJSON(actor.status),
      version: actor.version,
      templateNamespace: actor.actorTemplateNamespace,
      templateName: actor.actorTemplateName,
      workerPod: actor.ateomPodName,
      workerPool: actor.workerPoolName,
      node: pod?.nodeName ?? '',
      latestSnapshot,
      workloadSource: live ? 'live' : saved ? 'snapshot' : 'none',
      workloadJson: workload ? JSON.stringify(workload) : '',
    };
  }

  pool(pool: WorkerPool): SimPool {
    const { namespace, name } = pool.metadata;
    const pods = this.core.cluster.listPods().filter((p) => p.namespace === namespace && p.pool === name);
    const free = this.core.store
      .listWorkers()
      .filter((w) => w.workerNamespace === namespace && w.workerPool === name && w.actorId === '');
    return {
      namespace,
      name,
      labels: pool.metadata.labels ?? {},
      sandboxClass: pool.spec.sandboxClass,
      desiredReplicas: pool.spec.replicas,
      readyReplicas: pods.filter((p) => p.phase === 'Running').length,
      freeWorkers: free.length,
    };
  }
}

export function adminService(core: SimulatorCore, info: () => GetInfoResponse): UntypedServiceImplementation {
  const views = new AdminViews(core);
  const handle = <Req, Res>(body: (request: Req) => Res | Promise<Res>) =>
    unary<Req, Res>(async (request) => {
      try {
        return await body(request);
      } catch (err) {
        throw adminError(err);
      }
    });

  return {
    getInfo: handle(() => info()),
    listWorkers: handle(() => ({ workers: core.cluster.listPods().map((p) => views.worker(p)) })),
    listActors: handle((req: { atespace: string }) => ({
      actors: [...core.store.allActors()]
        .filter((a) => req.atespace === '' || a.atespace === req.atespace)
        .map((a) => views.actor(a)),
    })),
    listPools: handle(() => ({ pools: core.cluster.listPools().map((p) => views.pool(p)) })),
    listNodes: handle(() => ({
      nodes: core.cluster.listNodes().map(({ node, ready, pods }) => ({
        name: node.metadata.name,
        labels: node.metadata.labels ?? {},
        ready,
        pods,
      })),
    })),
    killWorker: handle((req: { pod: string; namespace: string }) => {
      const before = views.worker(core.cluster.resolvePod(req.pod, req.namespace));
      core.killWorker(req.pod, req.namespace);
      return { worker: before };
    }),
    evictWorker: handle((req: { pod: string; namespace: string }) => {
      const before = views.worker(core.cluster.resolvePod(req.pod, req.namespace));
      core.evictWorker(req.pod, req.namespace);
      return { worker: before };
    }),
    removeWorker: handle((req: { pod: string; namespace: string }) => {
      const before = views.worker(core.cluster.resolvePod(req.pod, req.namespace));
      core.removeWorker(req.pod, req.namespace);
      return { worker: before };
    }),
    addWorkers: handle((req: { pool: string; namespace: string; count: number }) => {
      if (req.count <= 0) throw new StatusError(GrpcStatus.INVALID_ARGUMENT, 'count must be positive');
      core.addWorkers(req.pool, req.count, req.namespace);
      return { pool: views.pool(core.cluster.resolvePool(req.pool, req.namespace)) };
    }),
    scalePool: handle((req: { pool: string; namespace: string; replicas: number }) => {
      if (req.replicas < 0) throw new StatusError(GrpcStatus.INVALID_ARGUMENT, 'replicas cannot be negative');
      core.scalePool(req.pool, req.replicas, req.namespace);
      return { pool: views.pool(core.cluster.resolvePool(req.pool, req.namespace)) };
    }),
    killNode: handle((req: { node: string }) => ({ pods: core.killNode(req.node).map((p) => p.name) })),
    resyncWorkers: handle(() => ({ registered: core.resyncWorkers() })),
    injectFault: handle((req: { fault?: Fault }) => {
      const f = req.fault;
      if (!f) throw new StatusError(GrpcStatus.INVALID_ARGUMENT, 'fault is required');
      try {
        const rule = core.faults.add({
          rpc: f.rpc || '*',
          actor: f.actor,
          code: f.code,
          message: f.message,
          probability: f.probability,
          count: f.count,
          extraLatencyMs: f.extraLatencyMs,
          leaveTransitional: f.leaveTransitional,
        });
        return { fault: rule };
      } catch (err) {
        throw new StatusError(GrpcStatus.INVALID_ARGUMENT, err instanceof Error ? err.message : String(err));
      }
    }),
    listFaults: handle(() => ({ faults: core.faults.list() })),
    clearFaults: handle((req: { id: string }) => ({ cleared: core.faults.clear(req.id) })),
    applyActorTemplate: handle((req: { templateJson: string }) => {
      const { template, created } = core.templates.apply(parseJson(req.templateJson, 'template_json'));
      return { templateJson: templateJson(template), created };
    }),
    getActorTemplate: handle((req: { namespace: string; name: string }) => {
      const template = core.templates.get(req.namespace || 'default', req.name);
      if (!template) {
        throw new StatusError(GrpcStatus.NOT_FOUND, `actortemplates.ate.dev "${req.name}" not found`);
      }
      return { templateJson: templateJson(template) };
    }),
    listActorTemplates: handle((req: { namespace: string }) => ({
      templatesJson: core.templates.list(req.namespace).map(templateJson),
    })),
    deleteActorTemplate: handle((req: { namespace: string; name: string }) => {
      if (!core.templates.delete(req.namespace || 'default', req.name)) {
        throw new StatusError(GrpcStatus.NOT_FOUND, `actortemplates.ate.dev "${req.name}" not found`);
      }
      return {};
    }),
    applySecret: handle(
      (req: {
        namespace: string;
        name: string;
        data: Record<string, string>;
        annotations: Record<string, string>;
      }) => {
        core.cluster.putSecret(
          parseObject(secretSchema, 'Secret', {
            metadata: { namespace: req.namespace || 'default', name: req.name, annotations: req.annotations },
            stringData: req.data,
          }),
        );
        return {};
      },
    ),
    deleteSecret: handle((req: { namespace: string; name: string }) => {
      if (!core.cluster.deleteSecret(req.namespace || 'default', req.name)) {
        throw new StatusError(GrpcStatus.NOT_FOUND, `secrets "${req.name}" not found`);
      }
      return {};
    }),
  };
}
