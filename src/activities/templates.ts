// Activities over ActorTemplates: build-and-apply the sandbox's own template (and its token
// Secret), wait for Ready (sandboxes started before templates were booted cold), delete what we own.
import { Context, heartbeat } from '@temporalio/activity';
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
import { attempt, permanent } from './failures';

export interface TemplateActivityDeps {
  templates: TemplateStore;
  sealingKey: Buffer;
  synthesis: SynthesisSettings;
  /** How often waitTemplateReady heartbeats the last phase it saw, between phase changes. */
  heartbeatMs?: number;
}

const describe = (ref: TemplateRef) => `ActorTemplate ${ref.namespace}/${ref.name}`;

export function templateActivities({
  templates,
  sealingKey,
  synthesis,
  heartbeatMs = 5_000,
}: TemplateActivityDeps) {
  return {
    /**
     * Applies the sandbox's own template and its token Secret (repeated calls change nothing);
     * returns the Secret, which the sandbox's delete removes.
     */
    async applySandboxTemplate(
      ref: TemplateRef,
      identity: SandboxIdentity,
      spec: SynthesizedTemplateSpec,
    ): Promise<{ tokenSecret?: TemplateRef }> {
      const base = spec.base
        ? await attempt(`read ${describe(spec.base)}`, () => templates.get(spec.base!))
        : undefined;
      if (base === null) {
        throw permanent(
          `${describe(spec.base!)} (platform_config.substrate_actor_template) not found: ` +
            'create it first or name another one',
        );
      }
      const token = spec.sealedToken ? unsealToken(spec.sealedToken, sealingKey) : '';
      const tokenSecret = token ? tokenSecretRef(ref, token) : undefined;
      let template;
      try {
        template = synthesizeTemplate(ref, identity, spec, synthesis, base, tokenSecret);
      } catch (err) {
        throw permanent(`${describe(ref)}: ${(err as Error).message}`);
      }
      if (tokenSecret) {
        await attempt(`apply the token Secret of ${ref.name}`, () =>
          templates.applySecret(
            tokenSecret,
            { [TOKEN_SECRET_KEY]: token },
            { [OWNER_ANNOTATION]: ownerOf(identity.sandboxId) },
          ),
        );
      }
      await attempt(`apply ${describe(ref)}`, () => templates.apply(template));
      return { tokenSecret };
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
        outcome = await attempt(`wait for ${describe(ref)}`, () =>
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
      if (outcome.state === 'absent') throw permanent(`${describe(ref)} not found`);
      if (outcome.state === 'failed') throw permanent(`${describe(ref)} failed`);
    },

    /** Deletes the template and its token Secret, only if this sandbox owns them. */
    async deleteOwnedTemplate(
      ref: TemplateRef,
      sandboxId: string,
      tokenSecret?: TemplateRef,
    ): Promise<'deleted' | 'absent' | 'not-owned'> {
      // Sandboxes created before token Secrets were named by content used `<template>-token`.
      const secret = tokenSecret ?? { namespace: ref.namespace, name: `${ref.name}-token` };
      const removeSecret = () =>
        attempt(`delete Secret ${secret.name}`, () => templates.deleteSecret(secret));
      const template = await attempt(`read ${describe(ref)}`, () => templates.get(ref));
      if (!template) {
        await removeSecret();
        return 'absent';
      }
      if (template.metadata.annotations?.[OWNER_ANNOTATION] !== ownerOf(sandboxId)) return 'not-owned';
      // Only the version whose owner we just checked (a concurrent change fails, and the retry re-checks).
      const { resourceVersion } = template.metadata;
      await attempt(`delete ${describe(ref)}`, () => templates.delete(ref, { resourceVersion }));
      await removeSecret();
      return 'deleted';
    },
  };
}
