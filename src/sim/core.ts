// The simulator without its network listeners: the cluster, the ateapi store and workflows,
// the golden controller and the operator actions, wired together. Tests may use it directly.
import { Atelets } from './atelet';
import { Cluster, type Pod } from './cluster/cluster';
import type { ClusterSpec } from './cluster/spec';
import { TemplateStore } from './cluster/templates';
import { controlHandlers } from './control-api';
import { FaultInjector } from './faults';
import { GoldenController } from './golden';
import { LatencyModel, sleep } from './latency';
import { Keyspace, type ScanModel } from './keyspace';
import { ProcessRuntime, type ProcessRuntimeOptions } from './processes';
import { Lifecycle, LIFECYCLE_DEADLINE_MS } from './lifecycle';
import { ActorLocks } from './locks';
import { ControlPipeline } from './pipeline';
import { Random } from './random';
import { SECRET_CACHE_TTL_MS, SecretCache } from './secret-cache';
import { Store } from './store';
import { WorkerSyncer } from './syncer';
import { Timers } from './timers';
import { WorkerCache } from './worker-cache';
import { SnapshotStorage } from './workload';

export interface CoreOptions {
  cluster: ClusterSpec;
  latencyScale: number;
  seed?: number;
  /** Per-call deadline of lifecycle workflows (upstream 28 s). */
  lifecycleDeadlineMs?: number;
  /** Delay before workers reappear after DebugClear; default the scaled 5 minutes. */
  workerResyncMs?: number;
  /** Makes the ActorTemplate store, e.g. one mirrored from a Kubernetes API server; default in-memory. */
  templateStore?: (random: Random) => TemplateStore;
  /** Run each actor's main container as a real process (processes.ts); default off. */
  processes?: ProcessRuntimeOptions;
  /** Masters of the store's Valkey cluster; default 3 (upstream's install). */
  redisShards?: number;
  /** How SCAN walks a shard: 'valkey' (default) or 'miniredis' (upstream's unit tests). */
  redisScan?: ScanModel;
  /** TTL of ateapi's env Secret cache; default 30 s (not scaled); 0 reads Secrets live. */
  secretCacheTtlMs?: number;
  /** Delay of worker events to ateapi's worker cache; default 2 ms × latency scale. */
  workerCacheLagMs?: number;
  /** Period of the worker cache's relist; default 5 min × latency scale. */
  workerCacheRelistMs?: number;
}

/** A seed of its own for each kind of draw, so that adding one leaves the others' sequences alone. */
const derivedSeed = (seed: number | undefined, salt: number) =>
  seed === undefined ? undefined : (seed ^ salt) >>> 0;

export class SimulatorCore {
  readonly random: Random;
  readonly latency: LatencyModel;
  readonly timers = new Timers();
  readonly store: Store;
  readonly locks = new ActorLocks();
  readonly snapshots = new SnapshotStorage();
  readonly templates: TemplateStore;
  readonly cluster: Cluster;
  readonly faults: FaultInjector;
  readonly atelets: Atelets;
  readonly syncer: WorkerSyncer;
  /** ateapi's worker cache, which AssignWorker reads (it lags the store). */
  readonly workerCache: WorkerCache;
  /** ateapi's env Secret cache. */
  readonly secretCache: SecretCache;
  readonly lifecycle: Lifecycle;
  readonly pipeline: ControlPipeline;
  readonly golden: GoldenController;
  /** Process actors' runtime, when enabled. */
  readonly processes?: ProcessRuntime;
  private readonly workerResyncMs: number;

  constructor(private readonly options: CoreOptions) {
    this.random = new Random(options.seed);
    this.latency = new LatencyModel(options.latencyScale, this.random);
    this.workerResyncMs = options.workerResyncMs ?? this.latency.fixed(this.latency.profile.workerResyncMs);
    this.store = new Store(
      new Keyspace({
        shards: options.redisShards ?? 3,
        scan: options.redisScan ?? 'valkey',
        seed: new Random(derivedSeed(options.seed, 0x6b657973)).int(2 ** 32),
      }),
    );
    this.templates = options.templateStore?.(this.random) ?? new TemplateStore(this.random);
    this.cluster = new Cluster(options.cluster, this.random, this.latency, this.timers, (pod) =>
      this.isPodBusy(pod),
    );
    this.faults = new FaultInjector(this.random);
    this.processes = options.processes ? new ProcessRuntime(options.processes) : undefined;
    this.atelets = new Atelets(this.cluster, this.snapshots, this.latency, this.faults, this.processes);
    this.syncer = new WorkerSyncer(this.store, this.cluster);
    this.workerCache = new WorkerCache(this.store, this.timers, {
      lagMs: options.workerCacheLagMs ?? this.latency.fixed(this.latency.profile.workerEventMs),
      relistMs: options.workerCacheRelistMs ?? this.latency.fixed(this.latency.profile.workerCacheRelistMs),
    });
    this.secretCache = new SecretCache(this.cluster, options.secretCacheTtlMs ?? SECRET_CACHE_TTL_MS);
    this.lifecycle = new Lifecycle({
      store: this.store,
      templates: this.templates,
      cluster: this.cluster,
      atelets: this.atelets,
      locks: this.locks,
      random: this.random,
      deadlineMs: options.lifecycleDeadlineMs ?? LIFECYCLE_DEADLINE_MS,
      workerCache: this.workerCache,
      secrets: this.secretCache,
    });
    const handlers = controlHandlers({
      store: this.store,
      templates: this.templates,
      lifecycle: this.lifecycle,
      afterDebugClear: () => this.afterDebugClear(),
      afterActorDeleted: (atespace, name) => this.atelets.actorDeleted(atespace, name),
      mapOrder: new Random(derivedSeed(options.seed, 0x6d617073)),
      storeRoundTrip: () => sleep(this.latency.draw(this.latency.profile.storeMs)),
    });
    this.pipeline = new ControlPipeline(handlers, this.faults, this.latency);
    this.golden = new GoldenController(this.templates, this.pipeline, this.latency, this.random, this.timers);
  }

  /** Boots the worker pods and applies the cluster's templates (which start their golden builds). */
  start(): void {
    this.workerCache.start();
    this.cluster.start({
      podReady: (pod) => this.syncer.register(pod),
      podGone: (pod) => {
        this.syncer.unregister(pod);
        this.atelets.podGone(pod);
      },
    });
    this.templates.listen(this.golden);
    for (const template of this.options.cluster.templates) this.templates.apply(template);
  }

  stop(): void {
    this.timers.stop();
    this.processes?.killAllNow();
  }

  /** Kills every actor process and removes what they left (process actors). */
  async stopProcesses(): Promise<void> {
    await this.processes?.stopAll();
  }

  // --- operator actions (admin API, CLI, tests) ---

  killWorker(podName: string, namespace = ''): Pod {
    const pod = this.cluster.resolvePod(podName, namespace);
    this.cluster.killPod(pod);
    return pod;
  }

  evictWorker(podName: string, namespace = ''): Pod {
    const pod = this.cluster.resolvePod(podName, namespace);
    this.cluster.evictPod(pod);
    return pod;
  }

  removeWorker(podName: string, namespace = ''): Pod {
    const pod = this.cluster.resolvePod(podName, namespace);
    this.cluster.removePod(pod);
    return pod;
  }

  addWorkers(poolName: string, count: number, namespace = ''): void {
    const pool = this.cluster.resolvePool(poolName, namespace);
    this.cluster.scalePool(pool, pool.spec.replicas + count);
  }

  scalePool(poolName: string, replicas: number, namespace = ''): void {
    this.cluster.scalePool(this.cluster.resolvePool(poolName, namespace), replicas);
  }

  /** The node's pods die and its local disk (pause snapshots) is lost. */
  killNode(name: string): Pod[] {
    const pods = this.cluster.killNode(name);
    this.snapshots.dropNode(name);
    this.atelets.nodeGone(name);
    return pods;
  }

  /** The pod informer's resync (missing worker records come back), then the worker cache's relist. */
  resyncWorkers(): number {
    const registered = this.syncer.resync();
    this.workerCache.relist();
    return registered;
  }

  private isPodBusy(pod: Pod): boolean {
    return this.store
      .listWorkers()
      .some((w) => w.workerPod === pod.name && w.workerNamespace === pod.namespace && w.actorId !== '');
  }

  /**
   * Locks go with the flush; worker records come back at the next resync. The flush publishes
   * nothing, so the worker cache keeps the flushed workers until its next periodic relist (with
   * no period, e.g. at latency scale 0, it relists at once).
   */
  private afterDebugClear(): void {
    this.locks.clear();
    void this.atelets.releaseHeldProcesses();
    if (this.workerCache.options.relistMs <= 0) this.workerCache.relist();
    this.timers.after(this.workerResyncMs, () => this.syncer.resync());
  }
}
