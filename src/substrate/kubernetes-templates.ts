// ActorTemplates and token Secrets in a real Kubernetes API server (@kubernetes/client-node).
// Writes use server-side apply with our own field manager, so repeated applies are no-ops and
// the CRD's immutable-spec rule is enforced by the API server itself. Waiting for Ready is a
// watch on the one template that re-reads and re-watches whenever the connection ends.
import { setTimeout as delay } from 'node:timers/promises';
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import type { TemplateRef } from '../workflows/messages';
import {
  TemplateRejectedError,
  type ActorTemplate,
  type ReadyOutcome,
  type TemplateStore,
  type WaitForReadyOptions,
} from './template-store';

export const FIELD_MANAGER = 'ateflow';
const crd = { group: 'ate.dev', version: 'v1alpha1', plural: 'actortemplates' } as const;
const applyPatch = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
/** Answers that retrying cannot change: bad request, unauthenticated, forbidden, invalid. */
const REJECTED = new Set([400, 401, 403, 422]);
/** Consecutive failed re-reads while waiting before the wait gives up (about 30 s of backoff). */
const MAX_WAIT_FAILURES = 10;
/** Server-side end of each watch request; the wait then re-reads and watches again. */
const WATCH_TIMEOUT_SECONDS = 290;

const isStatus = (err: unknown, code: number) => err instanceof ApiException && err.code === code;

/** Kubernetes errors carry a Status object; its message is what an operator needs to read. */
function explain(err: unknown, action: string): Error {
  if (err instanceof ApiException) {
    const body = typeof err.body === 'string' ? err.body : JSON.stringify(err.body);
    let message = body;
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      // not JSON: keep the raw body
    }
    const text = `${action}: Kubernetes API answered ${err.code}: ${message}`;
    return REJECTED.has(err.code)
      ? new TemplateRejectedError(text, err.code)
      : new Error(text, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** The HTTP status of a failed watch request (client-node sets `statusCode` on it). */
const watchStatus = (err: unknown): number | undefined =>
  err && typeof err === 'object' && 'statusCode' in err && typeof err.statusCode === 'number'
    ? err.statusCode
    : undefined;

type WatchEnd = ReadyOutcome | 'reconnect';

/** Why the wait was cancelled (e.g. Temporal's CancelledFailure), instead of a bare AbortError. */
export const cancelledReason = (signal: AbortSignal | undefined): Error | undefined =>
  signal?.aborted
    ? signal.reason instanceof Error
      ? signal.reason
      : new Error(String(signal.reason))
    : undefined;

export class KubernetesTemplateStore implements TemplateStore {
  private readonly objects: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly watcher: Watch;

  constructor(kubeconfig: KubeConfig) {
    this.objects = kubeconfig.makeApiClient(CustomObjectsApi);
    this.core = kubeconfig.makeApiClient(CoreV1Api);
    this.watcher = new Watch(kubeconfig);
  }

  static fromFile(path: string): KubernetesTemplateStore {
    const kubeconfig = new KubeConfig();
    kubeconfig.loadFromFile(path);
    return new KubernetesTemplateStore(kubeconfig);
  }

  async apply(template: ActorTemplate): Promise<void> {
    const { name, namespace } = template.metadata;
    const body = {
      apiVersion: template.apiVersion,
      kind: template.kind,
      metadata: template.metadata,
      spec: template.spec,
    };
    try {
      await this.objects.patchNamespacedCustomObject(
        { ...crd, namespace, name, body, fieldManager: FIELD_MANAGER, force: true },
        applyPatch,
      );
    } catch (err) {
      throw explain(err, `apply ActorTemplate ${namespace}/${name}`);
    }
  }

  async get(ref: TemplateRef): Promise<ActorTemplate | null> {
    try {
      return (await this.objects.getNamespacedCustomObject({ ...crd, ...ref })) as ActorTemplate;
    } catch (err) {
      if (isStatus(err, 404)) return null;
      throw explain(err, `get ActorTemplate ${ref.namespace}/${ref.name}`);
    }
  }

  async waitForReady(ref: TemplateRef, options: WaitForReadyOptions): Promise<ReadyOutcome> {
    try {
      return await this.follow(ref, options);
    } catch (err) {
      throw cancelledReason(options.signal) ?? err;
    }
  }

  private async follow(ref: TemplateRef, { onPhase, signal }: WaitForReadyOptions): Promise<ReadyOutcome> {
    let lastPhase: string | undefined;
    const observe = (template: ActorTemplate): ReadyOutcome | undefined => {
      const phase = template.status?.phase ?? '';
      if (phase !== lastPhase) {
        lastPhase = phase;
        onPhase(phase);
      }
      if (phase === 'Ready') return { state: 'ready', template };
      if (phase === 'Failed') return { state: 'failed', template };
      return undefined;
    };
    let failures = 0;
    for (;;) {
      signal?.throwIfAborted();
      let end: WatchEnd;
      try {
        const template = await this.get(ref);
        if (!template) return { state: 'absent' };
        end = observe(template) ?? (await this.watchOnce(ref, template.metadata, observe, signal));
        failures = 0;
      } catch (err) {
        // Forbidden, invalid or cancelled: final. Anything else (connection refused, 5xx, 429): retry.
        if (err instanceof TemplateRejectedError || signal?.aborted || ++failures > MAX_WAIT_FAILURES)
          throw err;
        end = 'reconnect';
      }
      if (end !== 'reconnect') return end;
      // The watch ended (dropped connection, server timeout, expired resourceVersion): re-read.
      await delay(Math.min(100 * 2 ** failures, 5_000), undefined, { signal });
    }
  }

  /** One watch request on the template, from the resourceVersion just read. */
  private watchOnce(
    ref: TemplateRef,
    metadata: ActorTemplate['metadata'],
    observe: (template: ActorTemplate) => ReadyOutcome | undefined,
    signal: AbortSignal | undefined,
  ): Promise<WatchEnd> {
    const path = `/apis/${crd.group}/${crd.version}/namespaces/${encodeURIComponent(ref.namespace)}/${crd.plural}`;
    const query = {
      fieldSelector: `metadata.name=${ref.name}`,
      resourceVersion: metadata.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: WATCH_TIMEOUT_SECONDS,
    };
    return new Promise<WatchEnd>((resolve, reject) => {
      let request: AbortController | undefined;
      let settled = false;
      const settle = (finish: () => void) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        request?.abort();
        finish();
      };
      const onAbort = () => settle(() => reject(cancelledReason(signal) ?? new Error('wait cancelled')));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const onEvent = (type: string, object: unknown) => {
        if (type === 'DELETED') return settle(() => resolve({ state: 'absent' }));
        // ERROR is usually 410 Gone (our resourceVersion is too old): re-read and watch again.
        if (type === 'ERROR') return settle(() => resolve('reconnect'));
        if (type !== 'ADDED' && type !== 'MODIFIED') return; // BOOKMARK
        const outcome = observe(object as ActorTemplate);
        if (outcome) settle(() => resolve(outcome));
      };
      const onDone = (err: unknown) => {
        const code = watchStatus(err);
        if (code !== undefined && REJECTED.has(code)) {
          const action = `watch ActorTemplate ${ref.namespace}/${ref.name}`;
          const text = `${action}: Kubernetes API answered ${code}: ${(err as Error).message}`;
          return settle(() => reject(new TemplateRejectedError(text, code)));
        }
        settle(() => resolve('reconnect'));
      };
      this.watcher.watch(path, query, onEvent, onDone).then(
        (controller) => {
          request = controller;
          if (settled) controller.abort();
        },
        (err: unknown) => onDone(err),
      );
    });
  }

  async delete(ref: TemplateRef, { resourceVersion }: { resourceVersion?: string } = {}): Promise<boolean> {
    try {
      const body = resourceVersion ? { preconditions: { resourceVersion } } : undefined;
      await this.objects.deleteNamespacedCustomObject({ ...crd, ...ref, body });
      return true;
    } catch (err) {
      if (isStatus(err, 404)) return false;
      throw explain(err, `delete ActorTemplate ${ref.namespace}/${ref.name}`);
    }
  }

  async applySecret(
    ref: TemplateRef,
    data: Record<string, string>,
    annotations: Record<string, string>,
  ): Promise<void> {
    const body = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { ...ref, annotations, labels: { 'app.kubernetes.io/managed-by': 'ateflow' } },
      stringData: data,
    };
    try {
      await this.core.patchNamespacedSecret(
        { ...ref, body, fieldManager: FIELD_MANAGER, force: true },
        applyPatch,
      );
    } catch (err) {
      throw explain(err, `apply Secret ${ref.namespace}/${ref.name}`);
    }
  }

  async deleteSecret(ref: TemplateRef): Promise<void> {
    try {
      await this.core.deleteNamespacedSecret(ref);
    } catch (err) {
      if (!isStatus(err, 404)) throw explain(err, `delete Secret ${ref.namespace}/${ref.name}`);
    }
  }
}
