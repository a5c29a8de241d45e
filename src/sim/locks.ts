// Upstream's per-actor lifecycle lock: key "lock:actor:<name>" (the atespace is not part of
// it), a random token and a 30 s TTL, released by compare-and-delete when the call ends. It lives
// in the store, so it outlives an ate-api-server that dies in the middle of a call: after a
// restart the actor is locked (Aborted) until the TTL runs out (saved and reloaded with the state).
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

  /** When the lock on `actorName` expires (epoch ms); undefined when it is free. */
  heldUntil(actorName: string, now = Date.now()): number | undefined {
    const current = this.held.get(actorName);
    return current && current.expiresAt > now ? current.expiresAt : undefined;
  }

  /** The locks held now, for saving the state. */
  entries(now = Date.now()): { actorName: string; token: string; expiresAt: number }[] {
    return [...this.held]
      .filter(([, lock]) => lock.expiresAt > now)
      .map(([actorName, lock]) => ({ actorName, ...lock }));
  }

  /** Puts saved locks back; expired ones are dropped (Redis expired them meanwhile). */
  load(entries: readonly { actorName: string; token: string; expiresAt: number }[], now = Date.now()): void {
    for (const { actorName, token, expiresAt } of entries) {
      if (expiresAt > now) this.held.set(actorName, { token, expiresAt });
    }
  }
}
