// The node agents that run, checkpoint and restore sandboxes on worker pods. Each call takes
// simulated time, can be hit by an injected fault, and fails if the pod dies meanwhile. The
// running workload of each pod lives here; a pod's death loses it.
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Cluster, Pod } from './cluster/cluster';
import { StatusError } from './errors';
import type { FaultInjector } from './faults';
import { sleep, type LatencyModel, type Range } from './latency';
import {
  bootedWorkload,
  restoredWorkload,
  snapshotBytes,
  type SnapshotStorage,
  type WorkloadState,
} from './workload';

/** The lifecycle call an atelet request belongs to. */
export interface AteletCall {
  rpc: string;
  actorName: string;
  /** Aborts with a StatusError (DeadlineExceeded or Canceled) when the call's deadline passes. */
  signal: AbortSignal;
}

export type SnapshotRef =
  { kind: 'external'; uriPrefix: string } | { kind: 'local'; node: string; prefix: string };

const VALID_URI_PREFIX = /^(gs|s3):\/\/[^/]+/;

export class Atelets {
  private readonly live = new Map<string, WorkloadState>();

  constructor(
    private readonly cluster: Cluster,
    private readonly snapshots: SnapshotStorage,
    private readonly latency: LatencyModel,
    private readonly faults: FaultInjector,
  ) {}

  /** The workload running on a pod, if any. */
  workloadOn(pod: Pod): WorkloadState | undefined {
    return this.live.get(pod.uid);
  }

  podGone(pod: Pod): void {
    this.live.delete(pod.uid);
  }

  /** Restore from a snapshot (the actor's own, or the template's golden one). */
  async restore(pod: Pod, from: SnapshotRef, call: AteletCall): Promise<void> {
    const took =
      from.kind === 'local' ? this.latency.profile.localRestoreMs : this.latency.profile.warmRestoreMs;
    await this.work(pod, call, took);
    const snapshot =
      from.kind === 'external'
        ? this.snapshots.getExternal(from.uriPrefix)
        : this.snapshots.getLocal(from.node, from.prefix);
    const where = from.kind === 'external' ? from.uriPrefix : from.prefix;
    if (!snapshot) {
      throw new StatusError(
        GrpcStatus.UNKNOWN,
        `failed to fetch snapshot manifest ${where}/manifest.json: object not found`,
      );
    }
    this.live.set(pod.uid, restoredWorkload(snapshot, where));
  }

  /** Cold boot from the template spec. */
  async run(pod: Pod, call: AteletCall): Promise<void> {
    await this.work(pod, call, this.latency.profile.coldBootMs);
    this.live.set(pod.uid, bootedWorkload());
  }

  /** Checkpoint the workload to `to`, then tear the sandbox down. */
  async checkpoint(pod: Pod, to: SnapshotRef, call: AteletCall): Promise<void> {
    if (to.kind === 'external' && !VALID_URI_PREFIX.test(to.uriPrefix)) {
      throw new StatusError(
        GrpcStatus.INVALID_ARGUMENT,
        `invalid snapshot URI prefix "${to.uriPrefix}": missing bucket`,
      );
    }
    const state = this.live.get(pod.uid) ?? bootedWorkload();
    const upload = to.kind === 'external' ? this.latency.upload(snapshotBytes(state)) : 0;
    const took = to.kind === 'external' ? this.latency.profile.checkpointMs : this.latency.profile.pauseMs;
    await this.work(pod, call, took, upload);
    if (to.kind === 'external') this.snapshots.putExternal(to.uriPrefix, state);
    else this.snapshots.putLocal(to.node, to.prefix, state);
    this.live.delete(pod.uid);
  }

  /** Fault, simulated time and a liveness check around one atelet request. */
  private async work(pod: Pod, call: AteletCall, took: Range, extraMs = 0): Promise<void> {
    const fault = this.faults.take(call.rpc, call.actorName, 'atelet');
    await sleep(this.latency.draw(took) + extraMs + (fault?.extraLatencyMs ?? 0), call.signal);
    if (fault && fault.code !== GrpcStatus.OK) throw new StatusError(fault.code, fault.message);
    const current = this.cluster.findPod(pod.namespace, pod.name);
    if (current !== pod || pod.phase !== 'Running') {
      throw new StatusError(
        GrpcStatus.UNAVAILABLE,
        `atelet on node ${pod.nodeName}: sandbox on worker pod ${pod.namespace}/${pod.name} is gone`,
      );
    }
  }
}
