// ActorTemplates and token Secrets in a real Kubernetes API server (@kubernetes/client-node).
// Writes use server-side apply with our own field manager, so repeated applies are no-ops and
// the CRD's immutable-spec rule is enforced by the API server itself.
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { TemplateRef } from '../workflows/messages';
import type { ActorTemplate, TemplateStore } from './template-store';

const FIELD_MANAGER = 'ateflow';
const crd = { group: 'ate.dev', version: 'v1alpha1', plural: 'actortemplates' } as const;
const applyPatch = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

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
    return new Error(`${action}: Kubernetes API answered ${err.code}: ${message}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

export class KubernetesTemplateStore implements TemplateStore {
  private readonly objects: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(kubeconfig: KubeConfig) {
    this.objects = kubeconfig.makeApiClient(CustomObjectsApi);
    this.core = kubeconfig.makeApiClient(CoreV1Api);
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

  async delete(ref: TemplateRef): Promise<boolean> {
    try {
      await this.objects.deleteNamespacedCustomObject({ ...crd, ...ref });
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
