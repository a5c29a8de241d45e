// What runs inside an actor: a small stateful workload (a key/value memory, an append-only
// chat history and a counter) that snapshots capture and restores bring back. Snapshots live
// in object storage (suspend, golden) or on a node's disk (pause).

export interface ChatMessage {
  role: string;
  content: string;
  at: string;
}

export interface WorkloadState {
  memory: Record<string, unknown>;
  messages: ChatMessage[];
  counter: number;
  /** How this incarnation started: a cold boot or a restore from which snapshot. */
  startedFrom: string;
  /** Starts of the workload since its first boot (boots + restores). */
  starts: number;
}

/** Snapshots carry a fixed memory image besides the workload's own data (for upload time). */
const BASE_IMAGE_BYTES = 64 * 1024 * 1024;

export function bootedWorkload(): WorkloadState {
  return { memory: {}, messages: [], counter: 0, startedFrom: 'cold-boot', starts: 1 };
}

export function restoredWorkload(snapshot: WorkloadState, source: string): WorkloadState {
  return { ...structuredClone(snapshot), startedFrom: source, starts: snapshot.starts + 1 };
}

/** Approximate snapshot size: the memory image plus the serialised state. */
export function snapshotBytes(state: WorkloadState): number {
  return BASE_IMAGE_BYTES + Buffer.byteLength(JSON.stringify(state));
}

/** Object storage (by URI prefix) and node-local disks (by node, then prefix). */
export class SnapshotStorage {
  private readonly external = new Map<string, WorkloadState>();
  private readonly local = new Map<string, Map<string, WorkloadState>>();

  putExternal(uriPrefix: string, state: WorkloadState): void {
    this.external.set(uriPrefix, structuredClone(state));
  }

  getExternal(uriPrefix: string): WorkloadState | undefined {
    return this.external.get(uriPrefix);
  }

  putLocal(node: string, prefix: string, state: WorkloadState): void {
    const disk = this.local.get(node) ?? new Map<string, WorkloadState>();
    disk.set(prefix, structuredClone(state));
    this.local.set(node, disk);
  }

  getLocal(node: string, prefix: string): WorkloadState | undefined {
    return this.local.get(node)?.get(prefix);
  }

  /** Every stored snapshot, for saving the simulator's state. */
  entries(): {
    external: Record<string, WorkloadState>;
    local: Record<string, Record<string, WorkloadState>>;
  } {
    return {
      external: Object.fromEntries(this.external),
      local: Object.fromEntries([...this.local].map(([node, disk]) => [node, Object.fromEntries(disk)])),
    };
  }

  /** Puts saved snapshots back (reloading state after a restart). */
  load(saved: ReturnType<SnapshotStorage['entries']>): void {
    for (const [prefix, state] of Object.entries(saved.external)) this.putExternal(prefix, state);
    for (const [node, disk] of Object.entries(saved.local))
      for (const [prefix, state] of Object.entries(disk)) this.putLocal(node, prefix, state);
  }

  /** A dead node's disk is gone with it. */
  dropNode(node: string): void {
    this.local.delete(node);
  }
}
