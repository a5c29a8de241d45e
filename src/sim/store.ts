// The simulator's "Redis": actors by (atespace, name), atespaces by name, workers by
// (namespace, pool, pod), under upstream's keys (actor:<atespace>:<id>, atespace:<name>,
// worker:<namespace>:<pool>:<pod>), which the keyspace spreads over the cluster's shards. Every
// record carries a version that starts at 1 and goes up by one per write; updates are optimistic
// (the caller names the version it read). Stored records are never mutated in place: a write
// replaces the record, so readers may keep references. Worker writes are published to
// subscribers (upstream's "worker-changes" channel); DebugClear publishes nothing.
import { Actor, Actor_Status, actor_StatusToJSON, type Worker } from '../gen/ateapi';
import { PersistenceConflict } from './errors';
import { Keyspace } from './keyspace';

export type StoredActor = Readonly<Actor>;
export type StoredWorker = Readonly<Worker>;

export const actorKeyOf = (atespace: string, name: string) => `actor:${atespace}:${name}`;
const atespaceKeyOf = (name: string) => `atespace:${name}`;
export const workerKeyOf = (w: { workerNamespace: string; workerPool: string; workerPod: string }) =>
  `worker:${w.workerNamespace}:${w.workerPool}:${w.workerPod}`;

/** What the store publishes on each worker write (upstream store.WorkerEvent). */
export interface WorkerEvent {
  type: 'created' | 'updated' | 'deleted';
  /** The record as written; a deletion carries only namespace and pod, as upstream's does. */
  worker: StoredWorker;
}

export type DeleteActorResult =
  | { deleted: true }
  | { deleted: false; reason: 'missing' }
  | { deleted: false; reason: 'not-suspended'; status: string };
export type DeleteAtespaceResult = 'deleted' | 'missing' | 'not-empty';

export class Store {
  private readonly actors = new Map<string, StoredActor>();
  private readonly actorCounts = new Map<string, number>(); // per atespace, for DeleteAtespace
  private readonly atespaces = new Set<string>();
  private readonly workers = new Map<string, StoredWorker>();
  private readonly subscribers = new Set<(event: WorkerEvent) => void>();

  /** The cluster's keys; one shard that SCANs like miniredis unless told otherwise. */
  constructor(readonly keyspace = new Keyspace({ shards: 1, scan: 'miniredis', seed: 0 })) {}

  /** Subscribes to worker writes (upstream WatchWorkers); returns the unsubscribe. */
  watchWorkers(listener: (event: WorkerEvent) => void): () => void {
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  }

  private publish(event: WorkerEvent): void {
    for (const listener of this.subscribers) listener(event);
  }

  // --- actors ---

  getActor(atespace: string, name: string): StoredActor | undefined {
    const actor = this.actors.get(actorKeyOf(atespace, name));
    // Unvalidated names (Get, Resume… check only presence) could meet another actor's key.
    return actor && actor.atespace === atespace && actor.actorId === name ? actor : undefined;
  }

  /** The actor under a store key (a GET after a SCAN); undefined when it is gone. */
  getActorByKey(key: string): StoredActor | undefined {
    return this.actors.get(key);
  }

  /** SETNX: stores `actor` with version 1, or returns undefined when the key is taken. */
  createActor(actor: Actor): StoredActor | undefined {
    const key = actorKeyOf(actor.atespace, actor.actorId);
    if (this.actors.has(key)) return undefined;
    const stored = { ...actor, version: 1 };
    this.actors.set(key, stored);
    this.keyspace.add(key);
    this.actorCounts.set(actor.atespace, (this.actorCounts.get(actor.atespace) ?? 0) + 1);
    return stored;
  }

  /**
   * Optimistic write: fails with PersistenceConflict when the stored version is not
   * `next.version` (the version the caller read). Returns the record as stored (version + 1).
   */
  updateActor(next: Actor): StoredActor {
    const key = actorKeyOf(next.atespace, next.actorId);
    const current = this.actors.get(key);
    if (!current) throw new Error('while executing update actor transaction: actor does not exist');
    if (current.version !== next.version) throw new PersistenceConflict(`actor ${next.actorId}`);
    if (
      current.actorTemplateNamespace !== next.actorTemplateNamespace ||
      current.actorTemplateName !== next.actorTemplateName
    ) {
      throw new Error('while executing update actor transaction: actor template is immutable');
    }
    const stored = { ...next, version: current.version + 1 };
    this.actors.set(key, stored);
    return stored;
  }

  /** Deletes only a SUSPENDED actor (upstream's WATCH transaction). */
  deleteActor(atespace: string, name: string): DeleteActorResult {
    const key = actorKeyOf(atespace, name);
    const current = this.actors.get(key);
    if (!current) return { deleted: false, reason: 'missing' };
    if (current.status !== Actor_Status.STATUS_SUSPENDED) {
      return { deleted: false, reason: 'not-suspended', status: actor_StatusToJSON(current.status) };
    }
    this.actors.delete(key);
    this.keyspace.remove(key);
    this.actorCounts.set(atespace, (this.actorCounts.get(atespace) ?? 1) - 1);
    return { deleted: true };
  }

  /** Puts a saved record back as it was, version included (reloading state after a restart). */
  restoreActor(actor: Actor): void {
    const key = actorKeyOf(actor.atespace, actor.actorId);
    if (!this.actors.has(key)) {
      this.actorCounts.set(actor.atespace, (this.actorCounts.get(actor.atespace) ?? 0) + 1);
      this.keyspace.add(key);
    }
    this.actors.set(key, { ...actor });
  }

  allActors(): IterableIterator<StoredActor> {
    return this.actors.values();
  }

  get actorCount(): number {
    return this.actors.size;
  }

  // --- atespaces ---

  createAtespace(name: string): boolean {
    if (this.atespaces.has(name)) return false;
    this.atespaces.add(name);
    this.keyspace.add(atespaceKeyOf(name));
    return true;
  }

  hasAtespace(name: string): boolean {
    return this.atespaces.has(name);
  }

  deleteAtespace(name: string): DeleteAtespaceResult {
    if (!this.atespaces.has(name)) return 'missing';
    if ((this.actorCounts.get(name) ?? 0) > 0) return 'not-empty';
    this.atespaces.delete(name);
    this.keyspace.remove(atespaceKeyOf(name));
    return 'deleted';
  }

  listAtespaces(): string[] {
    return [...this.atespaces];
  }

  // --- workers ---

  getWorker(key: string): StoredWorker | undefined {
    return this.workers.get(key);
  }

  /** Registers a worker with version 1; false when it is already registered. */
  createWorker(worker: Worker): boolean {
    const key = workerKeyOf(worker);
    if (this.workers.has(key)) return false;
    const stored = { ...worker, version: 1 };
    this.workers.set(key, stored);
    this.keyspace.add(key);
    this.publish({ type: 'created', worker: stored });
    return true;
  }

  /**
   * Optimistic write like updateActor; namespace, pool, pod and ip are immutable. The messages
   * are upstream's (ateredis UpdateWorker wraps them in "while executing update worker transaction").
   */
  updateWorker(next: Worker): StoredWorker {
    const key = workerKeyOf(next);
    const current = this.workers.get(key);
    if (!current) throw new Error('while executing update worker transaction: worker does not exist');
    if (current.version !== next.version) throw new PersistenceConflict(`worker ${next.workerPod}`);
    if (current.ip !== next.ip) throw new Error('while executing update worker transaction: ip is immutable');
    const stored = { ...next, version: current.version + 1 };
    this.workers.set(key, stored);
    this.publish({ type: 'updated', worker: stored });
    return stored;
  }

  /** DEL, then a deletion event even when there was nothing to delete (as upstream publishes). */
  deleteWorker(ref: { workerNamespace: string; workerPool: string; workerPod: string }): void {
    const key = workerKeyOf(ref);
    if (this.workers.delete(key)) this.keyspace.remove(key);
    this.publish({
      type: 'deleted',
      worker: {
        workerNamespace: ref.workerNamespace,
        workerPool: '',
        workerPod: ref.workerPod,
        actorNamespace: '',
        actorTemplate: '',
        actorId: '',
        ip: '',
        version: 0,
        workerPodUid: '',
        nodeName: '',
        actorAtespace: '',
      },
    });
  }

  listWorkers(): StoredWorker[] {
    return [...this.workers.values()];
  }

  /** DebugClear: FLUSHALL on every master. Everything goes, workers included; nothing is published. */
  clear(): void {
    this.actors.clear();
    this.actorCounts.clear();
    this.atespaces.clear();
    this.workers.clear();
    this.keyspace.clear();
  }
}
