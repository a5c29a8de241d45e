// ActorTemplates kept by the simulator's admin API: the stand-in for Kubernetes when ateflow runs
// against the embedded simulator (no cluster).
import { setTimeout as delay } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { SimAdminConnection } from '../sim/admin-client';
import type { TemplateRef } from '../workflows/messages';
import { isServiceError } from './errors';
import type { ActorTemplate, ReadyOutcome, TemplateStore, WaitForReadyOptions } from './template-store';

const notFound = (err: unknown) => isServiceError(err) && err.code === status.NOT_FOUND;

export class SimulatorTemplateStore implements TemplateStore {
  private readonly admin: SimAdminConnection;

  /** The admin API has no watch: waitForReady reads the template every `pollMs`. */
  constructor(
    adminAddress: string,
    private readonly pollMs = 500,
  ) {
    this.admin = new SimAdminConnection(adminAddress);
  }

  close(): void {
    this.admin.close();
  }

  async apply(template: ActorTemplate): Promise<void> {
    await this.admin.call('applyActorTemplate', { templateJson: JSON.stringify(template) });
  }

  async get(ref: TemplateRef): Promise<ActorTemplate | null> {
    try {
      const { templateJson } = await this.admin.call('getActorTemplate', ref);
      return JSON.parse(templateJson) as ActorTemplate;
    } catch (err) {
      if (notFound(err)) return null;
      throw err;
    }
  }

  async waitForReady(ref: TemplateRef, { onPhase, signal }: WaitForReadyOptions): Promise<ReadyOutcome> {
    let lastPhase: string | undefined;
    for (;;) {
      signal?.throwIfAborted();
      const template = await this.get(ref);
      if (!template) return { state: 'absent' };
      const phase = template.status?.phase ?? '';
      if (phase !== lastPhase) {
        lastPhase = phase;
        onPhase(phase);
      }
      if (phase === 'Ready') return { state: 'ready', template };
      if (phase === 'Failed') return { state: 'failed', template };
      await delay(this.pollMs, undefined, { signal }).catch((err: unknown) => {
        throw signal?.aborted && signal.reason instanceof Error ? signal.reason : err;
      });
    }
  }

  async delete(ref: TemplateRef): Promise<boolean> {
    try {
      await this.admin.call('deleteActorTemplate', ref);
      return true;
    } catch (err) {
      if (notFound(err)) return false;
      throw err;
    }
  }

  async applySecret(
    ref: TemplateRef,
    data: Record<string, string>,
    annotations: Record<string, string>,
  ): Promise<void> {
    await this.admin.call('applySecret', { ...ref, data, annotations });
  }

  async deleteSecret(ref: TemplateRef): Promise<void> {
    try {
      await this.admin.call('deleteSecret', ref);
    } catch (err) {
      if (!notFound(err)) throw err;
    }
  }
}
