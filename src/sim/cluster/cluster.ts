// The Kubernetes side of the simulated cluster: nodes, WorkerPools and the worker pods their
// Deployments keep at `replicas`, plus the SandboxConfigs and Secrets ateapi reads. Pod
// events go to a listener (the worker syncer and the atelets), as informer events do upstream.
import { Buffer } from 'node:buffer';
import type { LatencyModel } from '../latency';
import type { Random } from '../random';
import type { Timers } from '../timers';
import type { Node, SandboxConfig, Secret, WorkerPool } from './resources';
import type { ClusterSpec } from './spec';

export type PodPhase = 'Pending' | 'Running' | 'Terminating';

export interface Pod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly pool: string;
  ip: string;
  nodeName: string;
  phase: PodPhase;
}

export interface PodListener {
  /** The pod has an IP: the syncer registers it as a worker. */
  podReady(pod: Pod): void;
  /** The pod is terminating or gone: its actor is released, its workload lost. */
  podGone(pod: Pod): void;
}

interface NodeState {
  readonly node: Node;
  readonly index: number;
  ready: boolean;
  nextIp: number;
}

interface PoolState {
  readonly pool: WorkerPool;
  /** The ReplicaSet's pod-template hash in generated pod names. */
  readonly templateHash: string;
}

/** Thrown for operator requests that name something the cluster does not have. */
export class ClusterLookupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterLookupError';
  }
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

export class Cluster {
  private readonly nodes = new Map<string, NodeState>();
  private readonly pools = new Map<string, PoolState>();
  private readonly pods = new Map<string, Pod>();
  readonly sandboxConfigs: SandboxConfig[];
  private readonly secrets = new Map<string, Record<string, string>>();
  private listener: PodListener | undefined;

  constructor(
    spec: ClusterSpec,
    private readonly random: Random,
    private readonly latency: LatencyModel,
    private readonly timers: Timers,
    /** Decides which pods a scale-down removes first (bound workers last). */
    private readonly isPodBusy: (pod: Pod) => boolean = () => false,
  ) {
    spec.nodes.forEach((node, index) =>
      this.nodes.set(node.metadata.name, { node, index: index + 1, ready: true, nextIp: 2 }),
    );
    for (const pool of spec.pools) {
      this.pools.set(key(pool.metadata.namespace, pool.metadata.name), {
        pool: structuredClone(pool),
        templateHash: random.nameSuffix(10),
      });
    }
    this.sandboxConfigs = spec.sandboxConfigs;
    for (const secret of spec.secrets) this.putSecret(secret);
  }

  /** Starts every pool's pods at once, as the initial informer list does. */
  start(listener: PodListener): void {
    this.listener = listener;
    for (const state of this.pools.values()) this.reconcile(state, 0);
  }

  // --- reads ---

  listPools(): WorkerPool[] {
    return [...this.pools.values()].map((s) => s.pool);
  }

  findPool(namespace: string, name: string): WorkerPool | undefined {
    return this.pools.get(key(namespace, name))?.pool;
  }

  listPods(): Pod[] {
    return [...this.pods.values()];
  }

  findPod(namespace: string, name: string): Pod | undefined {
    return this.pods.get(key(namespace, name));
  }

  listNodes(): { node: Node; ready: boolean; pods: number }[] {
    return [...this.nodes.values()].map((s) => ({
      node: s.node,
      ready: s.ready,
      pods: this.listPods().filter((p) => p.nodeName === s.node.metadata.name).length,
    }));
  }

  isNodeReady(name: string): boolean {
    return this.nodes.get(name)?.ready ?? false;
  }

  /** The value of `key` in Secret namespace/name, or why it cannot be had. */
  secretValue(
    namespace: string,
    name: string,
    keyName: string,
  ): { value: string } | { missing: 'secret' | 'key' } {
    const data = this.secrets.get(key(namespace, name));
    if (!data) return { missing: 'secret' };
    const value = data[keyName];
    return value === undefined ? { missing: 'key' } : { value };
  }

  /** A copy of Secret namespace/name's data; undefined when there is no such Secret. */
  secretData(namespace: string, name: string): Record<string, string> | undefined {
    const data = this.secrets.get(key(namespace, name));
    return data && { ...data };
  }

  putSecret(secret: Secret): void {
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(secret.data ?? {}))
      data[k] = Buffer.from(v, 'base64').toString('utf8');
    Object.assign(data, secret.stringData ?? {});
    this.secrets.set(key(secret.metadata.namespace, secret.metadata.name), data);
  }

  /** Every Secret as namespace, name and decoded data (for saving the simulator's state). */
  listSecrets(): { namespace: string; name: string; data: Record<string, string> }[] {
    return [...this.secrets].map(([k, data]) => {
      const [namespace, name] = [k.slice(0, k.indexOf('/')), k.slice(k.indexOf('/') + 1)];
      return { namespace, name, data: { ...data } };
    });
  }

  deleteSecret(namespace: string, name: string): boolean {
    return this.secrets.delete(key(namespace, name));
  }

  // --- operator actions ---

  /** Resolves a pod by name, with an optional namespace when names collide. */
  resolvePod(name: string, namespace = ''): Pod {
    const matches = this.listPods().filter(
      (p) => p.name === name && (namespace === '' || p.namespace === namespace),
    );
    if (matches.length === 0)
      throw new ClusterLookupError(`pod ${namespace ? `${namespace}/` : ''}${name} not found`);
    if (matches.length > 1) throw new ClusterLookupError(`pod name ${name} is ambiguous; give its namespace`);
    return matches[0];
  }

  resolvePool(name: string, namespace = ''): WorkerPool {
    const matches = this.listPools().filter(
      (p) => p.metadata.name === name && (namespace === '' || p.metadata.namespace === namespace),
    );
    if (matches.length === 0)
      throw new ClusterLookupError(`worker pool ${namespace ? `${namespace}/` : ''}${name} not found`);
    if (matches.length > 1)
      throw new ClusterLookupError(`worker pool name ${name} is ambiguous; give its namespace`);
    return matches[0];
  }

  /** Force-deletes a pod (grace period 0); the Deployment starts a replacement. */
  killPod(pod: Pod): void {
    this.deletePod(pod);
    this.reconcilePoolOf(pod);
  }

  /** Evicts a pod: it terminates (releasing its actor at once) and is gone after a grace period. */
  evictPod(pod: Pod): void {
    this.terminatePod(pod);
    this.reconcilePoolOf(pod);
  }

  /** Deletes one pod and lowers its pool's replicas, so it is not replaced. */
  removePod(pod: Pod): void {
    const state = this.poolStateOf(pod);
    state.pool.spec.replicas = Math.max(0, state.pool.spec.replicas - 1);
    this.terminatePod(pod);
  }

  scalePool(pool: WorkerPool, replicas: number): void {
    const state = this.pools.get(key(pool.metadata.namespace, pool.metadata.name))!;
    state.pool.spec.replicas = Math.max(0, replicas);
    this.reconcile(state, this.latency.draw(this.latency.profile.podStartMs));
  }

  /** The node fails: every pod on it dies and no pod is scheduled there again. */
  killNode(name: string): Pod[] {
    const node = this.nodes.get(name);
    if (!node) throw new ClusterLookupError(`node ${name} not found`);
    node.ready = false;
    const victims = this.listPods().filter((p) => p.nodeName === name);
    for (const pod of victims) this.deletePod(pod);
    for (const state of this.pools.values())
      this.reconcile(state, this.latency.draw(this.latency.profile.podStartMs));
    return victims;
  }

  // --- Deployment controller ---

  private poolStateOf(pod: Pod): PoolState {
    return this.pools.get(key(pod.namespace, pod.pool))!;
  }

  private reconcilePoolOf(pod: Pod): void {
    const state = this.pools.get(key(pod.namespace, pod.pool));
    if (state) this.reconcile(state, this.latency.draw(this.latency.profile.podStartMs));
  }

  /** Brings the pool's live (non-terminating) pods to `replicas`. */
  private reconcile(state: PoolState, startDelayMs: number): void {
    const { namespace, name } = state.pool.metadata;
    const live = this.listPods().filter(
      (p) => p.namespace === namespace && p.pool === name && p.phase !== 'Terminating',
    );
    const missing = state.pool.spec.replicas - live.length;
    for (let i = 0; i < missing; i++) this.createPod(state, startDelayMs);
    if (missing < 0) {
      // ReplicaSets remove unscheduled pods first; we also spare pods that hold an actor.
      const rank = (p: Pod) => (p.phase === 'Pending' ? 0 : this.isPodBusy(p) ? 2 : 1);
      const victims = [...live].sort((a, b) => rank(a) - rank(b)).slice(0, -missing);
      for (const pod of victims) this.terminatePod(pod);
    }
  }

  private createPod(state: PoolState, startDelayMs: number): void {
    const { namespace, name } = state.pool.metadata;
    const pod: Pod = {
      namespace,
      name: `${name}-deployment-${state.templateHash}-${this.random.nameSuffix(5)}`,
      uid: this.random.uuid(),
      pool: name,
      ip: '',
      nodeName: '',
      phase: 'Pending',
    };
    this.pods.set(key(namespace, pod.name), pod);
    this.timers.after(startDelayMs, () => this.schedule(pod, state.pool));
  }

  /** Binds a pending pod to the least-loaded ready node that fits, and gives it an IP. */
  private schedule(pod: Pod, pool: WorkerPool): void {
    if (this.pods.get(key(pod.namespace, pod.name)) !== pod || pod.phase !== 'Pending') return;
    const selector = { ...(pool.spec.template?.nodeSelector ?? {}) };
    if (pool.spec.sandboxClass === 'microvm') selector['ate.dev/sandboxClass'] = 'microvm';
    const fits = [...this.nodes.values()].filter(
      (n) => n.ready && Object.entries(selector).every(([k, v]) => n.node.metadata.labels?.[k] === v),
    );
    const load = (n: NodeState) => this.listPods().filter((p) => p.nodeName === n.node.metadata.name).length;
    const node = fits.sort((a, b) => load(a) - load(b) || a.index - b.index)[0];
    if (!node) return; // stays Pending, like an unschedulable pod
    const n = node.nextIp++;
    pod.nodeName = node.node.metadata.name;
    pod.ip = `10.${100 + node.index}.${Math.floor(n / 256)}.${n % 256}`;
    pod.phase = 'Running';
    this.listener?.podReady(pod);
  }

  private terminatePod(pod: Pod): void {
    if (pod.phase === 'Terminating') return;
    const wasRunning = pod.phase === 'Running';
    pod.phase = 'Terminating';
    if (wasRunning) this.listener?.podGone(pod);
    this.timers.after(this.latency.draw(this.latency.profile.podTerminationMs), () =>
      this.pods.delete(key(pod.namespace, pod.name)),
    );
  }

  private deletePod(pod: Pod): void {
    const wasRunning = pod.phase === 'Running';
    pod.phase = 'Terminating';
    this.pods.delete(key(pod.namespace, pod.name));
    if (wasRunning) this.listener?.podGone(pod);
  }
}
