// The simulated ateapi store's keyspace as a Valkey cluster holds it: which master (shard) owns
// each key, and in what order SCAN hands a shard's keys out. Only the key names live here (the
// records are in store.ts); ListActors (list-actors.ts) walks this keyspace the way upstream's
// ateredis.ListActors walks the real one, SCAN call by SCAN call.
//
// Upstream's production install (manifests/ate-install/valkey.yaml) runs 6 Valkey pods with one
// replica each: 3 masters, named valkey-cluster-<i>.valkey-cluster-service.ate-system.svc:6379.
// Keys go to masters by Redis Cluster hash slot (CRC16 of the key, or of its {hash tag}, mod
// 16384), the slots split into equal ranges in master order as `--cluster create` assigns them.
//
// SCAN model ('valkey'): each shard keeps its keys (actors, atespaces, workers) in one chained
// hash table like Redis's dict — 4 buckets at first, doubled when the keys outnumber the
// buckets, shrunk below 10 % fill — hashed with a seed of its own, and SCAN walks it bucket by
// bucket in reverse-binary cursor order. One SCAN call visits buckets until it has looked at
// COUNT keys (matching the pattern or not) or at 10 × COUNT buckets, and always returns whole
// buckets: a call may return more keys than COUNT, or none while its cursor is not 0, and keys
// come out in hash order. Calibrated against the real cluster: 5 actors listed at page size 1
// come back in pages such as 2 and 1 and lose actors in about a third of fresh clusters (measured:
// 5 runs in 20); 40 at page size 3 lose about one shard when they lose. Not modelled: Valkey's own
// table layout (per-slot tables of 7-entry buckets), incremental rehashing, and the lock keys.
//
// 'miniredis' is the in-memory fake of upstream's functional tests
// (cmd/ateapi/internal/controlapi/functional_test.go): one node, SCAN walks the sorted keys
// matching the pattern, exactly COUNT at a time, the cursor being an offset.
import { createHash } from 'node:crypto';

export const HASH_SLOTS = 16384;

export type ScanModel = 'valkey' | 'miniredis';

/** CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), the checksum of Redis Cluster's key slots. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The hash slot of a key: of the text between the first `{` and the next `}` when not empty. */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % HASH_SLOTS;
  }
  return crc16(bytes) % HASH_SLOTS;
}

/** Slot ranges as `valkey-cli --cluster create` assigns them: equal shares, rounded, in order. */
export function slotRanges(masters: number): [first: number, last: number][] {
  const share = HASH_SLOTS / masters;
  const ranges: [number, number][] = [];
  let first = 0;
  let cursor = 0;
  for (let i = 0; i < masters; i++) {
    let last = Math.round(cursor + share - 1);
    if (last > HASH_SLOTS - 1 || i === masters - 1) last = HASH_SLOTS - 1;
    if (last < first) last = first;
    ranges.push([first, last]);
    first = last + 1;
    cursor += share;
  }
  return ranges;
}

/** Reverses the 32 bits of `v`. */
function reverse32(v: number): number {
  v = ((v >>> 1) & 0x55555555) | ((v & 0x55555555) << 1);
  v = ((v >>> 2) & 0x33333333) | ((v & 0x33333333) << 2);
  v = ((v >>> 4) & 0x0f0f0f0f) | ((v & 0x0f0f0f0f) << 4);
  v = ((v >>> 8) & 0x00ff00ff) | ((v & 0x00ff00ff) << 8);
  return ((v >>> 16) | (v << 16)) >>> 0;
}

/** MurmurHash3 (x86, 32 bit) of the key's UTF-8 bytes: stands in for Valkey's seeded SipHash. */
function murmur3(key: string, seed: number): number {
  const bytes = Buffer.from(key, 'utf8');
  let h = seed >>> 0;
  const tail = bytes.length & ~3;
  for (let i = 0; i < tail; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = bytes.length & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= bytes[tail + 2] << 16;
    if (rest >= 2) k ^= bytes[tail + 1] << 8;
    k ^= bytes[tail];
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const INITIAL_BUCKETS = 4;
const MIN_FILL = 0.1;

/** Buckets for `keys` keys at a load factor of at most 1: a power of two, at least 4 (0 for none). */
function bucketsFor(keys: number): number {
  if (keys === 0) return 0;
  let buckets = INITIAL_BUCKETS;
  while (buckets < keys) buckets *= 2;
  return buckets;
}

/** One shard's keys in hash-table buckets, scanned in reverse-binary cursor order. */
class BucketTable {
  private buckets: string[][] = [];
  private size = 0;

  constructor(private readonly seed: number) {}

  private bucketOf(key: string, count = this.buckets.length): number {
    return murmur3(key, this.seed) & (count - 1);
  }

  add(key: string): void {
    if (this.size + 1 > this.buckets.length) this.resize(bucketsFor(this.size + 1));
    this.buckets[this.bucketOf(key)].push(key);
    this.size++;
  }

  remove(key: string): void {
    if (this.buckets.length === 0) return;
    const bucket = this.buckets[this.bucketOf(key)];
    const at = bucket.indexOf(key);
    if (at === -1) return;
    bucket.splice(at, 1);
    this.size--;
    if (this.buckets.length > INITIAL_BUCKETS && this.size < this.buckets.length * MIN_FILL) {
      this.resize(bucketsFor(this.size));
    }
  }

  clear(): void {
    this.buckets = [];
    this.size = 0;
  }

  private resize(count: number): void {
    if (count === this.buckets.length) return;
    const keys = this.buckets.flat();
    this.buckets = Array.from({ length: count }, () => []);
    for (const key of keys) this.buckets[this.bucketOf(key, count)].push(key);
  }

  /** Visits the bucket at `cursor` (and its chain) and returns the next cursor; 0 when done. */
  step(cursor: number, visit: (key: string) => void): number {
    if (this.buckets.length === 0) return 0;
    const mask = this.buckets.length - 1;
    for (const key of this.buckets[cursor & mask]) visit(key);
    let v = (cursor | ~mask) >>> 0;
    v = reverse32(v);
    v = (v + 1) >>> 0;
    return reverse32(v);
  }
}

/** One master of the cluster. */
export interface Shard {
  /** host:port as the cluster announces it (upstream sorts masters by it). */
  readonly address: string;
  /** sha256 of the address, hex: what upstream's page tokens name a shard by. */
  readonly hash: string;
}

export interface ScanResult {
  keys: string[];
  cursor: number;
}

export interface KeyspaceOptions {
  /** Masters of the cluster (default 3). */
  shards: number;
  scan: ScanModel;
  /** Seed of the bucket hash (Valkey seeds its hash randomly at start). */
  seed: number;
}

/** The keys of the cluster, by shard. */
export class Keyspace {
  /** In address order, as upstream's getSortedMasters returns them. */
  readonly shards: readonly Shard[];
  private readonly tables: BucketTable[];
  private readonly sorted: Set<string>[];
  /** Shard index (in `shards`) of each hash slot. */
  private readonly slotOwner = new Uint16Array(HASH_SLOTS);

  constructor(private readonly options: KeyspaceOptions) {
    const count = options.shards;
    if (!Number.isInteger(count) || count < 1 || count > HASH_SLOTS) {
      throw new Error(`redisShards must be an integer from 1 to ${HASH_SLOTS}, not ${count}`);
    }
    const created = Array.from({ length: count }, (_, i) => {
      const address = `valkey-cluster-${i}.valkey-cluster-service.ate-system.svc:6379`;
      return { address, hash: createHash('sha256').update(address).digest('hex'), created: i };
    });
    const ranges = slotRanges(count);
    const sorted = [...created].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    sorted.forEach((shard, index) => {
      const [first, last] = ranges[shard.created];
      this.slotOwner.fill(index, first, last + 1);
    });
    this.shards = sorted.map(({ address, hash }) => ({ address, hash }));
    this.tables = this.shards.map((_, i) => new BucketTable((options.seed + i * 0x9e3779b1) >>> 0));
    this.sorted = this.shards.map(() => new Set<string>());
  }

  /** Index in `shards` of the master that owns `key`. */
  shardOf(key: string): number {
    return this.slotOwner[keySlot(key)];
  }

  add(key: string): void {
    const shard = this.shardOf(key);
    this.tables[shard].add(key);
    this.sorted[shard].add(key);
  }

  remove(key: string): void {
    const shard = this.shardOf(key);
    this.tables[shard].remove(key);
    this.sorted[shard].delete(key);
  }

  /** FLUSHALL on every master. */
  clear(): void {
    for (const table of this.tables) table.clear();
    for (const keys of this.sorted) keys.clear();
  }

  /** SCAN <cursor> MATCH <prefix>* COUNT <count> on one master. */
  scan(shard: number, cursor: number, prefix: string, count: number): ScanResult {
    if (this.options.scan === 'miniredis') {
      const matching = [...this.sorted[shard]].filter((key) => key.startsWith(prefix)).sort();
      if (cursor > matching.length) return { keys: [], cursor: 0 };
      const next = cursor + count;
      return { keys: matching.slice(cursor, next), cursor: next >= matching.length ? 0 : next };
    }
    const keys: string[] = [];
    let sampled = 0;
    let iterations = count * 10;
    do {
      cursor = this.tables[shard].step(cursor, (key) => {
        sampled++;
        if (key.startsWith(prefix)) keys.push(key);
      });
    } while (cursor !== 0 && iterations-- > 0 && sampled < count);
    return { keys, cursor };
  }
}
