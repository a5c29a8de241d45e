// Substrate's template controller leaves a template's golden actor in atespace `ate-golden`
// forever (reference ateapi.md §3.5). When ateflow deletes a template it synthesized, it removes
// that actor too, so a deleted sandbox leaves nothing of its own behind.
import { status } from '@grpc/grpc-js';
import { Actor_Status } from '../gen/ateapi';
import type { AteapiClient } from '../substrate/client';
import { isServiceError } from '../substrate/errors';
import type { TemplateStore } from '../substrate/template-store';
import type { TemplateRef } from '../workflows/messages';
import { toActivityFailure } from './failures';

export const GOLDEN_ATESPACE = 'ate-golden';

export function goldenActivities(templates: TemplateStore, ateapi: AteapiClient) {
  return {
    /**
     * Deletes the golden actor of `template` if it is settled (SUSPENDED); one still warming up is
     * left alone rather than failing the sandbox's delete. Returns what happened.
     */
    async deleteGoldenActor(template: TemplateRef): Promise<'deleted' | 'none' | 'busy'> {
      const goldenActorId = (await templates.get(template))?.status?.goldenActorID;
      if (!goldenActorId) return 'none';
      const ref = { atespace: GOLDEN_ATESPACE, name: goldenActorId };
      try {
        const actor = await ateapi.getActor(ref);
        if (actor.status !== Actor_Status.STATUS_SUSPENDED) return 'busy';
        await ateapi.deleteActor(ref);
        return 'deleted';
      } catch (err) {
        if (isServiceError(err) && err.code === status.NOT_FOUND) return 'none';
        throw toActivityFailure(err, `delete golden actor ${goldenActorId} of ${template.name}`);
      }
    },
  };
}
