// How long simulated work takes. Defaults follow the reference's suggested figures (§6);
// every duration is multiplied by a global scale, so scale 0 makes the simulator instant.
import type { Random } from './random';

/** A duration drawn uniformly from [min, max] milliseconds. */
export type Range = readonly [min: number, max: number];

export interface LatencyProfile {
  /** Get/List/Create/Update/Delete: a store round trip. */
  storeMs: Range;
  /** Restore from an external or golden snapshot. */
  warmRestoreMs: Range;
  /** Restore from a node-local (pause) snapshot. */
  localRestoreMs: Range;
  /** Cold boot (atelet Run). */
  coldBootMs: Range;
  /** Checkpoint before upload (suspend). */
  checkpointMs: Range;
  /** Checkpoint to the node's disk (pause): no upload. */
  pauseMs: Range;
  /** Upload time per MiB of snapshot. */
  uploadMsPerMiB: number;
  /** A replacement or new worker pod from creation to having an IP. */
  podStartMs: Range;
  /** A terminating (evicted) pod lingers this long before it is gone. */
  podTerminationMs: Range;
  /** Golden warm-up when not every container declares readyz. */
  goldenWarmupMs: number;
  /** The worker syncer's periodic resync (upstream: 5 min). */
  workerResyncMs: number;
  /** A worker write's pub/sub message reaching ateapi's worker cache. */
  workerEventMs: number;
  /** ateapi's worker cache relist (upstream: 5 min, cmd/ateapi/main.go). */
  workerCacheRelistMs: number;
}

export const DEFAULT_LATENCY: LatencyProfile = {
  storeMs: [1, 4],
  warmRestoreMs: [500, 1500],
  localRestoreMs: [200, 600],
  coldBootMs: [2500, 3000],
  checkpointMs: [300, 1000],
  pauseMs: [150, 400],
  uploadMsPerMiB: 5,
  podStartMs: [1000, 3000],
  podTerminationMs: [1000, 2000],
  goldenWarmupMs: 20_000,
  workerResyncMs: 300_000,
  workerEventMs: 2,
  workerCacheRelistMs: 300_000,
};

export class LatencyModel {
  constructor(
    readonly scale: number,
    private readonly random: Random,
    readonly profile: LatencyProfile = DEFAULT_LATENCY,
  ) {}

  /** A scaled draw from one of the profile's ranges. */
  draw(range: Range): number {
    if (this.scale === 0) return 0;
    return this.random.between(range[0], range[1]) * this.scale;
  }

  /** A scaled fixed duration. */
  fixed(ms: number): number {
    return ms * this.scale;
  }

  /** Upload time for a snapshot of `bytes`. */
  upload(bytes: number): number {
    return this.fixed((bytes / (1024 * 1024)) * this.profile.uploadMsPerMiB);
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
