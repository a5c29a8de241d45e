// Activities over ActorTemplates: synthesize-and-apply, wait for Ready, delete what we own.
import { heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { unsealToken } from '../sealing';
import {
  ownerOf,
  synthesizeTemplate,
  TOKEN_SECRET_KEY,
  tokenSecretRef,
  type SandboxIdentity,
  type SynthesisSettings,
} from '../substrate/synthesize-template';
import { OWNER_ANNOTATION, type TemplateStore } from '../substrate/template-store';
import type { SynthesizedTemplateSpec, TemplateRef } from '../workflows/messages';
import { PERMANENT } from './failure-types';

export interface TemplateActivityDeps {
  templates: TemplateStore;
  sealingKey: Buffer;
  synthesis: SynthesisSettings;
  /** How often waitTemplateReady looks at the template's status. */
  readyPollMs?: number;
}

const describe = (ref: TemplateRef) => `ActorTemplate ${ref.namespace}/${ref.name}`;

export function templateActivities({
  templates,
  sealingKey,
  synthesis,
  readyPollMs = 500,
}: TemplateActivityDeps) {
  return {
    /** Applies the sandbox's own template (and its token Secret); repeated calls change nothing. */
    async applySandboxTemplate(
      ref: TemplateRef,
      identity: SandboxIdentity,
      spec: SynthesizedTemplateSpec,
    ): Promise<void> {
      let template;
      try {
        template = synthesizeTemplate(ref, identity, spec, synthesis);
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`${describe(ref)}: ${(err as Error).message}`, PERMANENT);
      }
      if (spec.sealedToken) {
        const token = unsealToken(spec.sealedToken, sealingKey);
        await templates.applySecret(
          tokenSecretRef(ref),
          { [TOKEN_SECRET_KEY]: token },
          { [OWNER_ANNOTATION]: ownerOf(identity.sandboxId) },
        );
      }
      await templates.apply(template);
    },

    /** Resolves once the template's golden snapshot is ready; heartbeats its phase as progress. */
    async waitTemplateReady(ref: TemplateRef): Promise<void> {
      for (;;) {
        const template = await templates.get(ref);
        if (!template) throw ApplicationFailure.nonRetryable(`${describe(ref)} not found`, PERMANENT);
        const phase = template.status?.phase ?? '';
        if (phase === 'Ready') return;
        if (phase === 'Failed') throw ApplicationFailure.nonRetryable(`${describe(ref)} failed`, PERMANENT);
        heartbeat(phase || 'Pending');
        await sleep(readyPollMs);
      }
    },

    /** Deletes the template and its token Secret only if this sandbox owns them. */
    async deleteOwnedTemplate(
      ref: TemplateRef,
      sandboxId: string,
    ): Promise<'deleted' | 'absent' | 'not-owned'> {
      const template = await templates.get(ref);
      if (!template) {
        await templates.deleteSecret(tokenSecretRef(ref));
        return 'absent';
      }
      if (template.metadata.annotations?.[OWNER_ANNOTATION] !== ownerOf(sandboxId)) return 'not-owned';
      await templates.delete(ref);
      await templates.deleteSecret(tokenSecretRef(ref));
      return 'deleted';
    },
  };
}
