// The node agents that run, checkpoint and restore sandboxes on worker pods. Each call takes
// simulated time, can be hit by an injected fault, and fails if the pod dies meanwhile. The
// running workload of each pod lives here; a pod's death loses it. With process actors
// (processes.ts) the main container also runs as a real process: a checkpoint freezes it and
// hands it to the snapshot, a restore from that snapshot thaws it, a pod's death kills it.
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Cluster, Pod } from './cluster/cluster';
import { StatusError } from './errors';
import type { FaultInjector } from './faults';
import { GOLDEN_ATESPACE } from './golden';
import { sleep, type LatencyModel, type Range } from './latency';
import type { ActorProcess, ProcessRuntime } from './processes';
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
  atespace: string;
  /** Aborts with a StatusError (DeadlineExceeded or Canceled) when the call's deadline passes. */
  signal: AbortSignal;
  /** Run/restore: the template's main container, for process actors (ignored otherwise). */
  main?: MainContainer;
  /** Run/restore: the main container's env as ateapi resolved it (Secrets included). */
  env?: Record<string, string>;
}

/** What a process actor runs: the main container's command and resolved env. */
export interface MainContainer {
  argv: string[];
  env: Record<string, string>;
}

export type SnapshotRef =
  { kind: 'external'; uriPrefix: string } | { kind: 'local'; node: string; prefix: string };

const VALID_URI_PREFIX = /^(gs|s3):\/\/[^/]+/;

const snapshotKey = (ref: SnapshotRef) =>
  ref.kind === 'external' ? `external:${ref.uriPrefix}` : `local:${ref.node}:${ref.prefix}`;

/** A process running on a pod, and what it started from ('boot' or a snapshot key). */
interface LiveProcess {
  proc: ActorProcess;
  source: string;
}

const ofActor = (proc: ActorProcess, atespace: string, name: string) =>
  proc.atespace === atespace && proc.actorId === name;

export class Atelets {
  private readonly live = new Map<string, WorkloadState>();
  /** The main container's env each pod's sandbox was last started or restored with. */
  private readonly envs = new Map<string, Record<string, string>>();
  /** Process actors: the process running on each pod (by pod UID). */
  private readonly liveProcesses = new Map<string, LiveProcess>();
  /** Process actors: the frozen process each snapshot holds (by snapshot key). */
  private readonly heldProcesses = new Map<string, ActorProcess>();

  constructor(
    private readonly cluster: Cluster,
    private readonly snapshots: SnapshotStorage,
    private readonly latency: LatencyModel,
    private readonly faults: FaultInjector,
    /** Set when actors run as real processes (SimulatorOptions.processActors). */
    readonly processes?: ProcessRuntime,
  ) {}

  /** The workload running on a pod, if any. */
  workloadOn(pod: Pod): WorkloadState | undefined {
    return this.live.get(pod.uid);
  }

  /** The main container's env the pod's sandbox was last started or restored with. */
  envOn(pod: Pod): Readonly<Record<string, string>> | undefined {
    return this.envs.get(pod.uid);
  }

  /** The pod's sandbox dies with it: its workload is lost and its process tree killed. */
  podGone(pod: Pod): void {
    this.live.delete(pod.uid);
    this.envs.delete(pod.uid);
    const running = this.liveProcesses.get(pod.uid);
    if (running) {
      this.liveProcesses.delete(pod.uid);
      running.proc.note(`pod ${pod.namespace}/${pod.name} is gone`);
      void running.proc.kill();
    }
  }

  /** A dead node's disk is gone: so are the processes its local (pause) snapshots held. */
  nodeGone(node: string): void {
    for (const [key, proc] of this.heldProcesses) {
      if (!key.startsWith(`local:${node}:`)) continue;
      this.heldProcesses.delete(key);
      proc.note(`node ${node} is gone with the pause snapshot that held this process`);
      void proc.kill();
    }
  }

  /** A deleted actor's processes (frozen in its snapshot, or still on a pod) are killed. */
  async actorDeleted(atespace: string, name: string): Promise<void> {
    const doomed: ActorProcess[] = [];
    for (const [key, proc] of this.heldProcesses) {
      if (!ofActor(proc, atespace, name)) continue;
      this.heldProcesses.delete(key);
      doomed.push(proc);
    }
    for (const [uid, running] of this.liveProcesses) {
      if (!ofActor(running.proc, atespace, name)) continue;
      this.liveProcesses.delete(uid);
      doomed.push(running.proc);
    }
    for (const proc of doomed) proc.note(`actor ${atespace}/${name} deleted`);
    await Promise.all(doomed.map((p) => p.kill()));
  }

  /** After DebugClear no actor record points at a snapshot: the processes they held go. */
  async releaseHeldProcesses(): Promise<void> {
    const doomed = [...this.heldProcesses.values()];
    this.heldProcesses.clear();
    await Promise.all(doomed.map((p) => p.kill()));
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
    await this.runProcess(pod, call, from);
    this.live.set(pod.uid, restoredWorkload(snapshot, where));
    if (call.env) this.envs.set(pod.uid, call.env);
  }

  /** Cold boot from the template spec. */
  async run(pod: Pod, call: AteletCall): Promise<void> {
    await this.work(pod, call, this.latency.profile.coldBootMs);
    await this.runProcess(pod, call, undefined);
    this.live.set(pod.uid, bootedWorkload());
    if (call.env) this.envs.set(pod.uid, call.env);
  }

  /**
   * Process actors: thaw the process the actor's own snapshot holds, else start a fresh one
   * (cold boot, golden snapshot, or a snapshot whose process died with its pod or node).
   * Golden actors run no process.
   */
  private async runProcess(pod: Pod, call: AteletCall, from: SnapshotRef | undefined): Promise<void> {
    const runtime = this.processes;
    if (!runtime || !call.main || call.atespace === GOLDEN_ATESPACE) return;
    const source = from ? snapshotKey(from) : 'boot';
    const existing = this.liveProcesses.get(pod.uid);
    if (existing) {
      // A retried restore onto the same worker keeps what the first attempt started.
      if (ofActor(existing.proc, call.atespace, call.actorName) && existing.source === source) {
        if (existing.proc.isAlive) return;
      }
      this.liveProcesses.delete(pod.uid);
      await existing.proc.kill();
    }
    let proc: ActorProcess | undefined;
    let lost = false;
    const held = from && this.heldProcesses.get(source);
    if (held && ofActor(held, call.atespace, call.actorName)) {
      this.heldProcesses.delete(source);
      const where = from.kind === 'external' ? from.uriPrefix : from.prefix;
      const thawed = await held
        .thaw(`restore from ${where}`, `${pod.namespace}/${pod.name}`)
        .catch(() => false);
      if (thawed) proc = held;
      else {
        lost = true;
        await held.kill();
      }
    }
    const reason = !from
      ? 'cold boot'
      : `restore from ${snapshotKey(from)}, fresh process` +
        (lost ? ' (the frozen one is gone: memory lost)' : '');
    proc ??= await runtime.start(
      {
        atespace: call.atespace,
        actorId: call.actorName,
        argv: call.main.argv,
        env: call.main.env,
        node: pod.nodeName,
        pod: `${pod.namespace}/${pod.name}`,
        reason,
      },
      call.signal,
    );
    const current = this.cluster.findPod(pod.namespace, pod.name);
    if (current !== pod || pod.phase !== 'Running') {
      await proc.kill();
      throw new StatusError(
        GrpcStatus.UNAVAILABLE,
        `atelet on node ${pod.nodeName}: sandbox on worker pod ${pod.namespace}/${pod.name} is gone`,
      );
    }
    this.liveProcesses.set(pod.uid, { proc, source });
  }

  /**
   * Checkpoint the workload to `to`, then tear the sandbox down. The request is validated first,
   * as atelet's validateCheckpointRequest does (cmd/atelet/main.go): an actor that is RESUMING has
   * no in-progress snapshot, so a suspend of it sends an empty URI prefix and a pause an empty
   * local prefix, and both are refused with InvalidArgument (the actor stays RESUMING).
   */
  async checkpoint(pod: Pod, to: SnapshotRef, call: AteletCall): Promise<void> {
    if (to.kind === 'external' && !VALID_URI_PREFIX.test(to.uriPrefix)) {
      throw new StatusError(
        GrpcStatus.INVALID_ARGUMENT,
        `invalid snapshot URI prefix "${to.uriPrefix}": missing bucket`,
      );
    }
    if (to.kind === 'local' && to.prefix === '') {
      throw new StatusError(
        GrpcStatus.INVALID_ARGUMENT,
        'snapshot prefix must be non-empty for type CHECKPOINT_TYPE_LOCAL',
      );
    }
    const state = this.live.get(pod.uid) ?? bootedWorkload();
    const upload = to.kind === 'external' ? this.latency.upload(snapshotBytes(state)) : 0;
    const took = to.kind === 'external' ? this.latency.profile.checkpointMs : this.latency.profile.pauseMs;
    // The sandbox is frozen while it is checkpointed; a failed checkpoint lets it run on.
    const running = this.liveProcesses.get(pod.uid);
    const where = to.kind === 'external' ? `suspend to ${to.uriPrefix}` : `pause to ${to.node}:${to.prefix}`;
    if (running) await running.proc.freeze(where);
    try {
      await this.work(pod, call, took, upload);
    } catch (err) {
      if (running && this.liveProcesses.get(pod.uid) === running) {
        await running.proc.thaw(`${call.rpc} failed`, running.proc.pod);
      }
      throw err;
    }
    if (to.kind === 'external') this.snapshots.putExternal(to.uriPrefix, state);
    else this.snapshots.putLocal(to.node, to.prefix, state);
    this.live.delete(pod.uid);
    this.envs.delete(pod.uid);
    if (running && this.liveProcesses.get(pod.uid) === running) {
      this.liveProcesses.delete(pod.uid);
      const key = snapshotKey(to);
      const previous = this.heldProcesses.get(key);
      if (previous && previous !== running.proc) void previous.kill();
      running.proc.pod = `(frozen in ${key})`;
      this.heldProcesses.set(key, running.proc);
    }
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
