// One seeded pseudo-random source for everything the simulator draws (placement, pod names,
// UIDs, latencies, fault probabilities), so a seed makes a run reproducible.
import { randomInt } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const POD_SUFFIX = 'bcdfghjklmnpqrstvwxz2456789'; // Kubernetes' safe alphabet for generated names

export class Random {
  private state: number;

  constructor(seed: number = randomInt(2 ** 31)) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1) (mulberry32). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform in [min, max]. */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[this.int(items.length)];
  }

  private chars(alphabet: string, length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[this.int(alphabet.length)];
    return out;
  }

  /** Like Go's crypto/rand.Text(): 26 base32 characters. */
  text(): string {
    return this.chars(BASE32, 26);
  }

  /** A random version-4 UUID. */
  uuid(): string {
    const hex = this.chars('0123456789abcdef', 32).split('');
    hex[12] = '4';
    hex[16] = '89ab'[this.int(4)]!;
    const h = hex.join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** A generated-name suffix such as a ReplicaSet's pod-template hash or a pod's 5 characters. */
  nameSuffix(length: number): string {
    return this.chars(POD_SUFFIX, length);
  }
}
