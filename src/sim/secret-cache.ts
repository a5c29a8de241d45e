// ateapi's cache of the Secrets that actor env refers to (envSecretCache in
// cmd/ateapi/internal/controlapi/workload_spec.go, TTL envSecretCacheTTL = 30 s): a Secret that
// was found is kept for the TTL and served as it was then, so a key added or a value changed in
// that window is not seen; a Secret that was not found is not cached (the next resume reads it
// again). A TTL of 0 reads every Secret live.
import type { Cluster } from './cluster/cluster';

export const SECRET_CACHE_TTL_MS = 30_000;

export class SecretCache {
  private readonly entries = new Map<string, { data: Readonly<Record<string, string>>; expiresAt: number }>();

  constructor(
    private readonly cluster: Cluster,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The Secret's data, cached for the TTL once found; undefined when it does not exist. */
  get(namespace: string, name: string): Readonly<Record<string, string>> | undefined {
    if (this.ttlMs <= 0) return this.cluster.secretData(namespace, name);
    const key = `${namespace}/${name}`;
    const entry = this.entries.get(key);
    if (entry && this.now() < entry.expiresAt) return entry.data;
    const data = this.cluster.secretData(namespace, name);
    if (!data) return undefined;
    this.entries.set(key, { data, expiresAt: this.now() + this.ttlMs });
    return data;
  }

  /** Forgets every entry (a restarted ate-api-server starts with an empty cache). */
  clear(): void {
    this.entries.clear();
  }
}
