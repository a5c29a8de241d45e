// ActorTemplate objects as the Kubernetes API would hold them: create-or-update by
// namespace/name, an immutable spec (the CRD's CEL rule "Spec is immutable"), mutable labels
// and annotations, and a status subresource that only the golden controller writes.
import {
  actorTemplateSchema,
  InvalidObjectError,
  parseObject,
  type ActorTemplate,
  type ActorTemplateStatus,
} from './resources';
import type { Random } from '../random';

export interface TemplateListener {
  templateAdded(template: ActorTemplate): void;
  templateDeleted(template: ActorTemplate): void;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

/** JSON with object keys sorted, so two specs compare by content. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

export class TemplateStore {
  private readonly templates = new Map<string, ActorTemplate>();
  private resourceVersion = 1;
  private listener: TemplateListener | undefined;

  constructor(private readonly random: Random) {}

  listen(listener: TemplateListener): void {
    this.listener = listener;
  }

  get(namespace: string, name: string): ActorTemplate | undefined {
    return this.templates.get(key(namespace, name));
  }

  list(namespace = ''): ActorTemplate[] {
    return [...this.templates.values()].filter((t) => namespace === '' || t.metadata.namespace === namespace);
  }

  /**
   * Creates the template, or updates labels and annotations of an existing one. A different
   * spec is rejected; any status in `raw` is ignored (it is a subresource).
   */
  apply(raw: unknown): { template: ActorTemplate; created: boolean } {
    const parsed = parseObject(actorTemplateSchema, 'ActorTemplate', raw);
    const { namespace, name } = parsed.metadata;
    const existing = this.get(namespace, name);
    if (!existing) {
      const template: ActorTemplate = {
        ...parsed,
        metadata: {
          ...parsed.metadata,
          uid: this.random.uuid(),
          creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
          generation: 1,
          resourceVersion: String(this.resourceVersion++),
        },
        status: {},
      };
      this.templates.set(key(namespace, name), template);
      this.listener?.templateAdded(template);
      return { template, created: true };
    }
    if (canonical(existing.spec) !== canonical(parsed.spec)) {
      throw new InvalidObjectError('ActorTemplate.ate.dev', name, [
        'spec: Invalid value: "object": Spec is immutable',
      ]);
    }
    existing.metadata = {
      ...existing.metadata,
      labels: parsed.metadata.labels,
      annotations: parsed.metadata.annotations,
      resourceVersion: String(this.resourceVersion++),
    };
    return { template: existing, created: false };
  }

  /** Status subresource write (the golden controller). False if the template is gone. */
  updateStatus(namespace: string, name: string, status: ActorTemplateStatus): boolean {
    const template = this.get(namespace, name);
    if (!template) return false;
    template.status = status;
    template.metadata.resourceVersion = String(this.resourceVersion++);
    return true;
  }

  delete(namespace: string, name: string): boolean {
    const template = this.get(namespace, name);
    if (!template) return false;
    this.templates.delete(key(namespace, name));
    this.listener?.templateDeleted(template);
    return true;
  }
}
