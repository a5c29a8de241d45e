// The ActorTemplate controller (upstream atecontroller): builds each template's golden
// snapshot through the ordinary Control API. Phases: "" → ResumeGoldenActor →
// WaitGoldenActor → Ready. The golden actor lives in atespace ate-golden and holds a worker
// while it warms up. Errors requeue with backoff and never set Failed, as upstream.
import { status as GrpcStatus } from '@grpc/grpc-js';
import { SnapshotType } from '../gen/ateapi';
import type { ActorTemplate, ActorTemplateStatus } from './cluster/resources';
import type { TemplateListener, TemplateStore } from './cluster/templates';
import { StatusError } from './errors';
import type { LatencyModel } from './latency';
import type { ControlPipeline } from './pipeline';
import type { Random } from './random';
import type { Timers } from './timers';

export const GOLDEN_ATESPACE = 'ate-golden';
const BACKOFF_BASE_MS = 5;
const BACKOFF_MAX_MS = 30_000;

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export class GoldenController implements TemplateListener {
  private readonly failures = new Map<string, number>();
  private readonly never = new AbortController().signal;

  constructor(
    private readonly templates: TemplateStore,
    private readonly api: ControlPipeline,
    private readonly latency: LatencyModel,
    private readonly random: Random,
    private readonly timers: Timers,
  ) {}

  templateAdded(template: ActorTemplate): void {
    this.requeue(template.metadata.namespace, template.metadata.name, 0);
  }

  templateDeleted(template: ActorTemplate): void {
    this.failures.delete(`${template.metadata.namespace}/${template.metadata.name}`);
  }

  private requeue(namespace: string, name: string, delayMs: number): void {
    this.timers.after(delayMs, () => void this.reconcile(namespace, name));
  }

  private async reconcile(namespace: string, name: string): Promise<void> {
    const key = `${namespace}/${name}`;
    const template = this.templates.get(namespace, name);
    if (!template || this.timers.isStopped) return;
    try {
      const next = await this.step(template);
      this.failures.delete(key);
      if (next !== undefined) this.requeue(namespace, name, next);
    } catch {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      this.requeue(namespace, name, Math.min(BACKOFF_BASE_MS * 2 ** (failures - 1), BACKOFF_MAX_MS));
    }
  }

  /** Runs the template's current phase; returns the delay before the next one, if any. */
  private async step(template: ActorTemplate): Promise<number | undefined> {
    const { namespace, name } = template.metadata;
    const status: ActorTemplateStatus = template.status ?? {};
    const ref = { atespace: GOLDEN_ATESPACE, name: status.goldenActorID ?? '' };
    switch (status.phase ?? '') {
      case '': {
        await this.ensureGoldenAtespace();
        const id = this.random.uuid();
        await this.api.invoke(
          'CreateActor',
          {
            actorRef: { atespace: GOLDEN_ATESPACE, name: id },
            actorTemplateNamespace: namespace,
            actorTemplateName: name,
          },
          this.never,
        );
        this.setStatus(template, { ...status, goldenActorID: id, phase: 'ResumeGoldenActor' });
        return 0;
      }
      case 'ResumeGoldenActor': {
        await this.api.invoke('ResumeActor', { actorRef: ref, boot: false }, this.never);
        const everyContainerHasReadyz = (template.spec.containers ?? []).every((c) => c.readyz !== undefined);
        const warmup = everyContainerHasReadyz ? 0 : this.latency.fixed(this.latency.profile.goldenWarmupMs);
        const takeAt = new Date(Date.now() + warmup).toISOString().replace(/\.\d{3}Z$/, 'Z');
        this.setStatus(template, { ...status, phase: 'WaitGoldenActor', takeGoldenSnapshotAt: takeAt });
        return warmup;
      }
      case 'WaitGoldenActor': {
        const remaining = Date.parse(status.takeGoldenSnapshotAt ?? '') - Date.now();
        if (remaining > 0) return remaining;
        const { actor } = await this.api.invoke('SuspendActor', { actorRef: ref }, this.never);
        const info = actor?.latestSnapshotInfo;
        if (info?.type !== SnapshotType.SNAPSHOT_TYPE_EXTERNAL || !info.external?.snapshotUriPrefix) {
          throw new Error('golden actor has no external snapshot');
        }
        this.setStatus(template, {
          ...status,
          phase: 'Ready',
          goldenSnapshot: info.external.snapshotUriPrefix,
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'Ready',
              message: 'Actor template is ready for use',
              lastTransitionTime: now(),
              observedGeneration: template.metadata.generation,
            },
          ],
        });
        return undefined;
      }
      default:
        return undefined;
    }
  }

  private async ensureGoldenAtespace(): Promise<void> {
    try {
      await this.api.invoke('CreateAtespace', { name: GOLDEN_ATESPACE }, this.never);
    } catch (err) {
      if (!(err instanceof StatusError && err.code === GrpcStatus.ALREADY_EXISTS)) throw err;
    }
  }

  private setStatus(template: ActorTemplate, status: ActorTemplateStatus): void {
    this.templates.updateStatus(template.metadata.namespace, template.metadata.name, status);
  }
}
