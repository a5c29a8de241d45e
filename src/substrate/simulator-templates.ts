// ActorTemplates kept by the simulator's admin API: the stand-in for Kubernetes when ateflow runs
// against the embedded simulator (no cluster).
import { setTimeout as delay } from 'node:timers/promises';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import { SimulatorAdminClient, type GetActorTemplateResponse } from '../gen/sim_admin';
import { unary, within } from '../grpc/unary';
import type { TemplateRef } from '../workflows/messages';
import { isServiceError } from './errors';
import type { ActorTemplate, ReadyOutcome, TemplateStore, WaitForReadyOptions } from './template-store';

const TIMEOUT_MS = 10_000;
const notFound = (err: unknown) => isServiceError(err) && err.code === status.NOT_FOUND;

export class SimulatorTemplateStore implements TemplateStore {
  private readonly admin: SimulatorAdminClient;

  /** The admin API has no watch: waitForReady reads the template every `pollMs`. */
  constructor(
    adminAddress: string,
    private readonly pollMs = 500,
  ) {
    this.admin = new SimulatorAdminClient(adminAddress, credentials.createInsecure());
  }

  close(): void {
    this.admin.close();
  }

  async apply(template: ActorTemplate): Promise<void> {
    const request = { templateJson: JSON.stringify(template) };
    await unary((done) => this.admin.applyActorTemplate(request, new Metadata(), within(TIMEOUT_MS), done));
  }

  async get(ref: TemplateRef): Promise<ActorTemplate | null> {
    try {
      const { templateJson } = await unary<GetActorTemplateResponse>((done) =>
        this.admin.getActorTemplate(ref, new Metadata(), within(TIMEOUT_MS), done),
      );
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
      await unary((done) => this.admin.deleteActorTemplate(ref, new Metadata(), within(TIMEOUT_MS), done));
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
    const request = { ...ref, data, annotations };
    await unary((done) => this.admin.applySecret(request, new Metadata(), within(TIMEOUT_MS), done));
  }

  async deleteSecret(ref: TemplateRef): Promise<void> {
    try {
      await unary((done) => this.admin.deleteSecret(ref, new Metadata(), within(TIMEOUT_MS), done));
    } catch (err) {
      if (!notFound(err)) throw err;
    }
  }
}
