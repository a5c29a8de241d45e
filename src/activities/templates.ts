// Activities over ActorTemplates: synthesize-and-apply, wait for Ready, delete what we own.
import { Context, heartbeat } from '@temporalio/activity';
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
import { OWNER_ANNOTATION, TemplateRejectedError, type TemplateStore } from '../substrate/template-store';
import type { SynthesizedTemplateSpec, TemplateRef } from '../workflows/messages';
import { PERMANENT } from './failure-types';

export interface TemplateActivityDeps {
  templates: TemplateStore;
  sealingKey: Buffer;
  synthesis: SynthesisSettings;
  /** How often waitTemplateReady heartbeats the last phase it saw, between phase changes. */
  heartbeatMs?: number;
}

const describe = (ref: TemplateRef) => `ActorTemplate ${ref.namespace}/${ref.name}`;

/** The store's refusals (forbidden, invalid, immutable spec) cannot be retried away. */
async function permanentIfRejected<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof TemplateRejectedError) throw ApplicationFailure.nonRetryable(err.message, PERMANENT);
    throw err;
  }
}

export function templateActivities({
  templates,
  sealingKey,
  synthesis,
  heartbeatMs = 5_000,
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
        await permanentIfRejected(
          templates.applySecret(
            tokenSecretRef(ref),
            { [TOKEN_SECRET_KEY]: token },
            { [OWNER_ANNOTATION]: ownerOf(identity.sandboxId) },
          ),
        );
      }
      await permanentIfRejected(templates.apply(template));
    },

    /**
     * Resolves once the template's golden snapshot is ready. Heartbeats its phase as progress: at
     * every change the store reports, and every `heartbeatMs` in between.
     */
    async waitTemplateReady(ref: TemplateRef): Promise<void> {
      let progress = 'Pending';
      heartbeat(progress);
      const beat = setInterval(() => heartbeat(progress), heartbeatMs);
      let outcome;
      try {
        outcome = await permanentIfRejected(
          templates.waitForReady(ref, {
            onPhase: (phase) => {
              progress = phase || 'Pending';
              heartbeat(progress);
            },
            signal: Context.current().cancellationSignal,
          }),
        );
      } finally {
        clearInterval(beat);
      }
      if (outcome.state === 'absent') {
        throw ApplicationFailure.nonRetryable(`${describe(ref)} not found`, PERMANENT);
      }
      if (outcome.state === 'failed') {
        throw ApplicationFailure.nonRetryable(`${describe(ref)} failed`, PERMANENT);
      }
    },

    /** Deletes the template and its token Secret only if this sandbox owns them. */
    async deleteOwnedTemplate(
      ref: TemplateRef,
      sandboxId: string,
    ): Promise<'deleted' | 'absent' | 'not-owned'> {
      const template = await permanentIfRejected(templates.get(ref));
      if (!template) {
        await permanentIfRejected(templates.deleteSecret(tokenSecretRef(ref)));
        return 'absent';
      }
      if (template.metadata.annotations?.[OWNER_ANNOTATION] !== ownerOf(sandboxId)) return 'not-owned';
      // Only the version whose owner we just checked (a concurrent change fails, and the retry re-checks).
      const { resourceVersion } = template.metadata;
      await permanentIfRejected(templates.delete(ref, { resourceVersion }));
      await permanentIfRejected(templates.deleteSecret(tokenSecretRef(ref)));
      return 'deleted';
    },
  };
}
