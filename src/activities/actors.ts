// Activities over ateapi actors and atespaces. Each is idempotent under Temporal retries, the way
// reference ateapi.md §2.7 says each RPC must be retried.
import { heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { status } from '@grpc/grpc-js';
import type { AteapiClient } from '../substrate/client';
import { toActorView } from '../substrate/actor-view';
import { isServiceError } from '../substrate/errors';
import type { ActorRef, ActorView, TemplateRef } from '../workflows/messages';
import { PERMANENT } from './failure-types';
import { ateapiCall, toActivityFailure } from './failures';

const isCode = (err: unknown, code: status) => isServiceError(err) && err.code === code;

/** Heartbeats while a long synchronous lifecycle call runs, so a dead worker is noticed fast. */
async function withHeartbeats<T>(work: Promise<T>): Promise<T> {
  const timer = setInterval(() => heartbeat(), 5_000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

export function actorActivities(ateapi: AteapiClient) {
  return {
    /** CreateAtespace; AlreadyExists is success. */
    async ensureAtespace(name: string): Promise<void> {
      try {
        await ateapi.createAtespace(name);
      } catch (err) {
        if (!isCode(err, status.ALREADY_EXISTS)) throw toActivityFailure(err, `create atespace ${name}`);
      }
    },

    /** CreateActor; on AlreadyExists the existing actor must be ours (same template). */
    async createActor(
      ref: ActorRef,
      template: TemplateRef,
      workerSelector: Record<string, string>,
    ): Promise<ActorView> {
      try {
        return toActorView(
          await ateapi.createActor({
            actorRef: ref,
            actorTemplateNamespace: template.namespace,
            actorTemplateName: template.name,
            workerSelector: { matchLabels: workerSelector },
          }),
        );
      } catch (err) {
        if (!isCode(err, status.ALREADY_EXISTS)) throw toActivityFailure(err, `create actor ${ref.name}`);
      }
      const existing = toActorView(await ateapiCall(`get actor ${ref.name}`, () => ateapi.getActor(ref)));
      if (existing.template.namespace !== template.namespace || existing.template.name !== template.name) {
        throw ApplicationFailure.nonRetryable(
          `actor ${ref.atespace}/${ref.name} already exists from template ` +
            `${existing.template.namespace}/${existing.template.name}, not ${template.namespace}/${template.name}`,
          PERMANENT,
        );
      }
      return existing;
    },

    /** GetActor; null when the actor does not exist. */
    async getActor(ref: ActorRef): Promise<ActorView | null> {
      try {
        return toActorView(await ateapi.getActor(ref));
      } catch (err) {
        if (isCode(err, status.NOT_FOUND)) return null;
        throw toActivityFailure(err, `get actor ${ref.name}`);
      }
    },

    /** ResumeActor: a no-op on RUNNING, forward-recovers RESUMING. */
    async resumeActor(ref: ActorRef): Promise<ActorView> {
      return toActorView(
        await ateapiCall(`resume ${ref.name}`, () => withHeartbeats(ateapi.resumeActor(ref))),
      );
    },

    /** SuspendActor: a no-op on SUSPENDED, completes SUSPENDING. */
    async suspendActor(ref: ActorRef): Promise<ActorView> {
      return toActorView(
        await ateapiCall(`suspend ${ref.name}`, () => withHeartbeats(ateapi.suspendActor(ref))),
      );
    },

    /** PauseActor: a no-op on PAUSED, completes PAUSING. */
    async pauseActor(ref: ActorRef): Promise<ActorView> {
      return toActorView(await ateapiCall(`pause ${ref.name}`, () => withHeartbeats(ateapi.pauseActor(ref))));
    },

    /** UpdateActor(worker_selector); takes effect on the next resume. */
    async updateActorSelector(ref: ActorRef, matchLabels: Record<string, string>): Promise<ActorView> {
      return toActorView(
        await ateapiCall(`update selector of ${ref.name}`, () =>
          ateapi.updateActorSelector(ref, matchLabels),
        ),
      );
    },

    /** DeleteActor; 'absent' when it was already gone (NotFound). */
    async deleteActor(ref: ActorRef): Promise<'deleted' | 'absent'> {
      try {
        await ateapi.deleteActor(ref);
        return 'deleted';
      } catch (err) {
        if (isCode(err, status.NOT_FOUND)) return 'absent';
        throw toActivityFailure(err, `delete actor ${ref.name}`);
      }
    },
  };
}
