// ateapi's in-memory worker cache (cmd/ateapi/internal/workercache/workercache.go): AssignWorker
// reads workers only from here, never from the store. It is fed by the store's "worker-changes"
// pub/sub, whose messages arrive `lagMs` after each write (in order); an event with a lower
// version than the cached record is ignored; and it is rebuilt from the store by a periodic
// relist (upstream every 5 minutes, cmd/ateapi/main.go). So it lags: a worker freed a moment ago
// still looks claimed, one claimed a moment ago still looks free (AssignWorker then loses the
// optimistic write and retries), and after DebugClear — which flushes the store and publishes
// nothing — the flushed workers stay cached until the next relist.
import type { StoredWorker, Store, WorkerEvent } from './store';
import type { Timers } from './timers';

/** Upstream's cache key: namespace and pod (not the pool). */
const cacheKey = (w: { workerNamespace: string; workerPod: string }) => `${w.workerNamespace}:${w.workerPod}`;

export interface WorkerCacheOptions {
  /** Delay from a worker write to its event reaching the cache; 0 applies it at once. */
  lagMs: number;
  /** Period of the full relist from the store; 0: no periodic relist (relist() on demand). */
  relistMs: number;
}

export class WorkerCache {
  private cached = new Map<string, StoredWorker>();
  private started = false;

  constructor(
    private readonly store: Store,
    private readonly timers: Timers,
    readonly options: WorkerCacheOptions,
  ) {
    store.watchWorkers((event) => this.deliver(event));
    this.relist();
  }

  /** Starts the periodic relist. */
  start(): void {
    if (this.started || this.options.relistMs <= 0) return;
    this.started = true;
    const tick = () => {
      this.relist();
      this.timers.after(this.options.relistMs, tick);
    };
    this.timers.after(this.options.relistMs, tick);
  }

  /** Every cached worker (the records may be stale). */
  workers(): StoredWorker[] {
    return [...this.cached.values()];
  }

  /** Replaces the cache with what the store holds now. */
  relist(): void {
    this.cached = new Map(this.store.listWorkers().map((w) => [cacheKey(w), w]));
  }

  private deliver(event: WorkerEvent): void {
    if (this.options.lagMs <= 0) this.apply(event);
    else this.timers.after(this.options.lagMs, () => this.apply(event));
  }

  private apply({ type, worker }: WorkerEvent): void {
    const key = cacheKey(worker);
    if (type === 'deleted') {
      this.cached.delete(key);
      return;
    }
    const existing = this.cached.get(key);
    if (!existing || worker.version >= existing.version) this.cached.set(key, worker);
  }
}
