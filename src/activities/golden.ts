// Substrate's template controller leaves a template's golden actor in atespace `ate-golden`
// forever (reference ateapi.md §3.5), and one whose template is deleted mid-warm-up keeps running
// and holding a worker. When ateflow deletes a template it synthesized, it removes that actor too,
// so a deleted sandbox leaves nothing of its own behind.
import { status } from '@grpc/grpc-js';
import { ApplicationFailure } from '@temporalio/common';
import { Actor_Status } from '../gen/ateapi';
import type { AteapiClient } from '../substrate/client';
import { isServiceError } from '../substrate/errors';
import type { TemplateStore } from '../substrate/template-store';
import type { TemplateRef } from '../workflows/messages';
import { RETRYABLE } from '../workflows/failure-types';
import { attempt, toActivityFailure } from './failures';

export const GOLDEN_ATESPACE = 'ate-golden';

export function goldenActivities(templates: TemplateStore, ateapi: AteapiClient) {
  return {
    /**
     * Deletes the golden actor of `template`, suspending it first if it is still warming up. While
     * it is between states (the controller may be suspending it right now) the activity retries.
     */
    async deleteGoldenActor(template: TemplateRef): Promise<'deleted' | 'none'> {
      const found = await attempt(`read ActorTemplate ${template.name}`, () => templates.get(template));
      const goldenActorId = found?.status?.goldenActorID;
      if (!goldenActorId) return 'none';
      const ref = { atespace: GOLDEN_ATESPACE, name: goldenActorId };
      const action = `delete golden actor ${goldenActorId} of ${template.name}`;
      try {
        let actor = await ateapi.getActor(ref);
        if (actor.status === Actor_Status.STATUS_RUNNING) actor = await ateapi.suspendActor(ref);
        if (actor.status !== Actor_Status.STATUS_SUSPENDED) {
          throw ApplicationFailure.retryable(
            `${action}: it is ${Actor_Status[actor.status]}; waiting`,
            RETRYABLE,
          );
        }
        await ateapi.deleteActor(ref);
        return 'deleted';
      } catch (err) {
        if (isServiceError(err) && err.code === status.NOT_FOUND) return 'none';
        throw toActivityFailure(err, action);
      }
    },
  };
}
