// Upstream's per-actor lifecycle lock: key "lock:actor:<name>" (the atespace is not part of
// it), a random token and a 30 s TTL, released by compare-and-delete when the call ends.
import { randomUUID } from 'node:crypto';

export const LOCK_TTL_MS = 30_000;

export class ActorLocks {
  private readonly held = new Map<string, { token: string; expiresAt: number }>();

  /** A token when the lock was free (or expired), undefined when someone holds it. */
  acquire(actorName: string, now = Date.now()): string | undefined {
    const current = this.held.get(actorName);
    if (current && current.expiresAt > now) return undefined;
    const token = randomUUID();
    this.held.set(actorName, { token, expiresAt: now + LOCK_TTL_MS });
    return token;
  }

  release(actorName: string, token: string): void {
    if (this.held.get(actorName)?.token === token) this.held.delete(actorName);
  }

  clear(): void {
    this.held.clear();
  }
}
