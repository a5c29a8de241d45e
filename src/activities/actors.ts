// Activities over ateapi actors and atespaces. Each is idempotent under Temporal retries, the way
// reference ateapi.md §2.7 says each RPC must be retried.
import { heartbeat } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { AteapiClient } from '../substrate/client';
import { toActorView } from '../substrate/actor-view';
import { isServiceError } from '../substrate/errors';
import type { TemplateStore } from '../substrate/template-store';
import type { ActorRef, ActorView, TemplateRef } from '../workflows/messages';
import { RETRYABLE } from '../workflows/failure-types';
import { attempt, permanent, toActivityFailure } from './failures';

const isCode = (err: unknown, code: status): err is ServiceError => isServiceError(err) && err.code === code;

/** Heartbeats while a long synchronous lifecycle call runs, so a dead worker is noticed fast. */
async function withHeartbeats<T>(work: Promise<T>): Promise<T> {
  const timer = setInterval(() => heartbeat(), 5_000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

export function actorActivities(ateapi: AteapiClient, templates: TemplateStore) {
  /** CreateAtespace; AlreadyExists is success. */
  async function ensureAtespace(name: string): Promise<void> {
    try {
      await ateapi.createAtespace(name);
    } catch (err) {
      if (!isCode(err, status.ALREADY_EXISTS)) throw toActivityFailure(err, `create atespace ${name}`);
    }
  }

  return {
    ensureAtespace,

    /**
     * CreateActor; on AlreadyExists the existing actor must be ours (same template). With
     * `ensureAtespace`, its atespace is created first (AlreadyExists is success): one activity, not
     * two, per sandbox create.
     */
    async createActor(
      ref: ActorRef,
      template: TemplateRef,
      workerSelector: Record<string, string>,
      options: { ensureAtespace?: boolean } = {},
    ): Promise<ActorView> {
      const action = `create actor ${ref.name}`;
      if (options.ensureAtespace) await ensureAtespace(ref.atespace);
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
        if (isCode(err, status.FAILED_PRECONDITION) && /^ActorTemplate .* not found$/.test(err.details)) {
          // ateapi reads templates through an informer: one applied a moment ago may not be there yet.
          if (await attempt(`look up ${template.name}`, () => templates.get(template))) {
            throw toActivityFailure(new Error(`${err.details} yet (Substrate has not seen it)`), action);
          }
          throw permanent(`${action}: ActorTemplate ${template.namespace}/${template.name} not found`);
        }
        if (!isCode(err, status.ALREADY_EXISTS)) throw toActivityFailure(err, action);
      }
      const existing = toActorView(await attempt(`get actor ${ref.name}`, () => ateapi.getActor(ref)));
      if (existing.template.namespace !== template.namespace || existing.template.name !== template.name) {
        throw permanent(
          `actor ${ref.atespace}/${ref.name} already exists from template ` +
            `${existing.template.namespace}/${existing.template.name}, not ${template.namespace}/${template.name}`,
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

    /**
     * ResumeActor: a no-op on RUNNING, forward-recovers RESUMING. `boot` skips the template's golden
     * snapshot when the actor has none of its own (a sandbox's own template: its golden copy is idle).
     */
    async resumeActor(ref: ActorRef, boot = false): Promise<ActorView> {
      return toActorView(
        await attempt(`resume ${ref.name}`, () => withHeartbeats(ateapi.resumeActor(ref, boot))),
      );
    },

    /** SuspendActor: a no-op on SUSPENDED, completes SUSPENDING. */
    async suspendActor(ref: ActorRef): Promise<ActorView> {
      return toActorView(
        await attempt(`suspend ${ref.name}`, () => withHeartbeats(ateapi.suspendActor(ref))),
      );
    },

    /**
     * PauseActor: a no-op on PAUSED, completes PAUSING. Never issued on an actor in another
     * transition: off RUNNING, upstream's MarkPausing does nothing and atelet gets an empty
     * snapshot prefix (InvalidArgument "snapshot prefix must be non-empty for type
     * CHECKPOINT_TYPE_LOCAL", the actor left RESUMING), or checkpoints to the suspend's URI. So a
     * RESUMING actor (a resume cut short, or one Substrate runs on traffic) is resumed first — a
     * resume forward-recovers it, or is Aborted while another runs and this activity retries —
     * and a SUSPENDING one has its suspend completed: it is then stopped with a durable snapshot,
     * which is returned as it is. `boot` is the resume's (ignored when the actor has a snapshot).
     */
    async pauseActor(ref: ActorRef, boot = false): Promise<ActorView> {
      const action = `pause ${ref.name}`;
      const before = toActorView(await attempt(`get actor ${ref.name}`, () => ateapi.getActor(ref)));
      if (before.status === 'SUSPENDING') {
        return toActorView(
          await attempt(`${action}: complete its suspend first`, () =>
            withHeartbeats(ateapi.suspendActor(ref)),
          ),
        );
      }
      if (before.status === 'RESUMING') {
        await attempt(`${action}: complete its resume first`, () =>
          withHeartbeats(ateapi.resumeActor(ref, boot)),
        );
      }
      try {
        return toActorView(await withHeartbeats(ateapi.pauseActor(ref)));
      } catch (err) {
        // The actor turned transitional after the read above (a traffic-driven resume): a retry
        // reads it again.
        if (
          isCode(err, status.INVALID_ARGUMENT) &&
          err.details.startsWith('snapshot prefix must be non-empty')
        ) {
          throw ApplicationFailure.retryable(
            `${action}: the actor is in a transition (${err.details})`,
            RETRYABLE,
          );
        }
        if (err instanceof CancelledFailure) throw err;
        throw toActivityFailure(err, action);
      }
    },

    /** UpdateActor(worker_selector); takes effect on the next resume. */
    async updateActorSelector(ref: ActorRef, matchLabels: Record<string, string>): Promise<ActorView> {
      return toActorView(
        await attempt(`update selector of ${ref.name}`, () => ateapi.updateActorSelector(ref, matchLabels)),
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
