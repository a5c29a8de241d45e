// Traffic-driven auto-resume, as Substrate's atenet router does it: every request for an
// actor first calls ResumeActor (a no-op when RUNNING), deduplicated per actor, retrying only
// Aborted with 7 steps from 200 ms, ×1.5, 20 % jitter, inside a 15 s budget.
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ActorRef } from '../gen/ateapi';
import { StatusError } from './errors';
import { sleep } from './latency';
import type { ControlPipeline } from './pipeline';
import type { Random } from './random';
import type { StoredActor } from './store';

export const ROUTER_RETRY = { steps: 7, baseMs: 200, factor: 1.5, jitter: 0.2, budgetMs: 15_000 } as const;

export class TrafficResumer {
  private readonly inflight = new Map<string, Promise<StoredActor>>();

  constructor(
    private readonly api: ControlPipeline,
    private readonly random: Random,
  ) {}

  /** Resolves to the RUNNING actor, or rejects with the last ResumeActor error. */
  ensureRunning(ref: ActorRef): Promise<StoredActor> {
    const key = `${ref.atespace}/${ref.name}`;
    let flight = this.inflight.get(key);
    if (!flight) {
      flight = this.resumeWithRetry(ref).finally(() => this.inflight.delete(key));
      this.inflight.set(key, flight);
    }
    return flight;
  }

  private async resumeWithRetry(ref: ActorRef): Promise<StoredActor> {
    const budget = AbortSignal.timeout(ROUTER_RETRY.budgetMs);
    let delay: number = ROUTER_RETRY.baseMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const { actor } = await this.api.invoke('ResumeActor', { actorRef: ref, boot: false }, budget);
        return actor!;
      } catch (err) {
        const retryable = err instanceof StatusError && err.code === GrpcStatus.ABORTED;
        if (!retryable || attempt >= ROUTER_RETRY.steps || budget.aborted) throw err;
        await sleep(delay * (1 + ROUTER_RETRY.jitter * this.random.next()), budget).catch(() => {
          throw err;
        });
        delay *= ROUTER_RETRY.factor;
      }
    }
  }
}
