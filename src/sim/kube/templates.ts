// The simulator's ActorTemplate store backed by a Kubernetes API server: templates come from an
// informer (list + watch, every namespace), and the golden controller's status writes go back to
// the API server's status subresource with server-side apply. The spec is the API server's to
// validate (our CRD's rules); the simulator re-checks it with its own schema and skips what it
// cannot model. Status is owned by this controller: a template first seen by this simulator starts
// its golden build from "" (the snapshots of an earlier run are gone with its memory).
import {
  CustomObjectsApi,
  KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type Informer,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import { setTimeout as delay } from 'node:timers/promises';
import { logger } from '../../logger';
import type { ActorTemplateStatus } from '../cluster/resources';
import { TemplateStore } from '../cluster/templates';
import type { Random } from '../random';

export const GOLDEN_FIELD_MANAGER = 'ateflow-sim-golden-controller';
const GROUP = 'ate.dev';
const VERSION = 'v1alpha1';
const applyPatch = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const RESTART_MS = 1_000;
const STATUS_ATTEMPTS = 5;

const log = logger.child({ component: 'sim-kube-templates' });
const key = (namespace: string, name: string) => `${namespace}/${name}`;

interface KubeObject extends KubernetesObject {
  metadata?: KubernetesObject['metadata'] & { name?: string; namespace?: string; uid?: string };
}

/** An informer that restarts itself after errors (client-node's stops at the first one). */
export class ResilientInformer<T extends KubeObject> {
  readonly informer: Informer<T> & ObjectCache<T>;
  private stopped = false;

  constructor(config: KubeConfig, path: string, list: () => Promise<{ items: T[] }>, what: string) {
    this.informer = makeInformer<T>(config, path, list);
    this.informer.on('error', (err: unknown) => {
      if (this.stopped) return;
      log.warn({ err, what }, 'watch ended with an error; restarting');
      void delay(RESTART_MS).then(() => (this.stopped ? undefined : this.informer.start().catch(() => {})));
    });
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer.stop();
  }
}

/**
 * The simulator's in-memory TemplateStore whose status writes are also applied to the API server
 * (in order per template, retried a few times; a template that is gone is left alone).
 */
export class KubeBackedTemplateStore extends TemplateStore {
  private readonly api: CustomObjectsApi;
  private readonly writes = new Map<string, Promise<void>>();
  /** Kubernetes UID of each mirrored template: a new UID under the same name is a new template. */
  private readonly uids = new Map<string, string>();
  private informer: ResilientInformer<KubeObject> | undefined;
  private stopped = false;

  constructor(
    random: Random,
    private readonly config: KubeConfig,
  ) {
    super(random);
    this.api = config.makeApiClient(CustomObjectsApi);
  }

  override updateStatus(namespace: string, name: string, status: ActorTemplateStatus): boolean {
    const updated = super.updateStatus(namespace, name, status);
    if (updated && !this.stopped) this.pushStatus(namespace, name, status);
    return updated;
  }

  /** Lists and watches ActorTemplates in every namespace; resolves after the first list. */
  async startMirror(): Promise<void> {
    const list = () =>
      this.api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'actortemplates' });
    const informer = new ResilientInformer<KubeObject>(
      this.config,
      `/apis/${GROUP}/${VERSION}/actortemplates`,
      list as () => Promise<{ items: KubeObject[] }>,
      'actortemplates',
    );
    informer.informer.on('add', (obj) => this.mirror(obj));
    informer.informer.on('update', (obj) => this.mirror(obj));
    informer.informer.on('delete', (obj) => this.forget(obj));
    this.informer = informer;
    await informer.start();
  }

  /** Stops mirroring and status writes (pending retries give up). */
  async stopMirror(): Promise<void> {
    this.stopped = true;
    await this.informer?.stop();
    await Promise.allSettled(this.writes.values());
  }

  /** Adds a template (starting its golden build) or takes its new labels and annotations. */
  private mirror(obj: KubeObject): void {
    const namespace = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? '';
    const k = key(namespace, name);
    const uid = obj.metadata?.uid ?? '';
    if (this.uids.has(k) && this.uids.get(k) !== uid) this.delete(namespace, name); // deleted and re-created
    this.uids.set(k, uid);
    try {
      const { created } = this.apply({ ...obj, kind: 'ActorTemplate', status: undefined });
      if (created)
        log.info({ template: k }, 'ActorTemplate from the Kubernetes API: building its golden snapshot');
    } catch (err) {
      log.warn({ err, template: k }, 'ActorTemplate skipped: the simulator cannot model it');
    }
  }

  private forget(obj: KubeObject): void {
    const namespace = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? '';
    this.uids.delete(key(namespace, name));
    this.delete(namespace, name);
  }

  private pushStatus(namespace: string, name: string, status: ActorTemplateStatus): void {
    const k = key(namespace, name);
    const body = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'ActorTemplate',
      metadata: { namespace, name },
      status,
    };
    const write = async () => {
      for (let attempt = 1; ; attempt++) {
        if (this.stopped || !this.get(namespace, name)) return; // stopped, or deleted meanwhile
        try {
          await this.api.patchNamespacedCustomObjectStatus(
            {
              group: GROUP,
              version: VERSION,
              plural: 'actortemplates',
              namespace,
              name,
              body,
              fieldManager: GOLDEN_FIELD_MANAGER,
              force: true,
            },
            applyPatch,
          );
          return;
        } catch (err) {
          if ((err as { code?: number }).code === 404) return;
          if (attempt >= STATUS_ATTEMPTS) {
            log.warn({ err, template: k, phase: status.phase }, 'could not write ActorTemplate status');
            return;
          }
          await delay(100 * 2 ** attempt);
        }
      }
    };
    const next = (this.writes.get(k) ?? Promise.resolve()).then(write);
    this.writes.set(k, next);
    void next.finally(() => {
      if (this.writes.get(k) === next) this.writes.delete(k);
    });
  }
}
