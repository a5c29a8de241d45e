// ActorTemplates (ate.dev/v1alpha1) live in Kubernetes; ateflow reads and writes them through this
// small interface. Two implementations: the Kubernetes API (@kubernetes/client-node) and the
// simulator's admin API, which stands in when no Kubernetes API is configured.
import type { TemplateRef } from '../workflows/messages';

export const OWNER_ANNOTATION = 'ateflow.dev/owner';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string; optional?: boolean } };
}

export interface ActorTemplateSpec {
  pauseImage: string;
  containers: {
    name: string;
    image: string;
    command?: string[];
    env?: EnvVar[];
  }[];
  snapshotsConfig: { location: string; onPause?: 'Full' | 'Data'; onCommit?: 'Full' | 'Data' };
  sandboxClass?: 'gvisor' | 'microvm';
  workerSelector?: { matchLabels?: Record<string, string> };
}

export interface ActorTemplate {
  apiVersion: 'ate.dev/v1alpha1';
  kind: 'ActorTemplate';
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: ActorTemplateSpec;
  status?: { phase?: string; goldenActorID?: string; goldenSnapshot?: string };
}

export interface TemplateStore {
  /** Creates the template, or leaves an identical one as it is; a different spec is an error. */
  apply(template: ActorTemplate): Promise<void>;
  get(ref: TemplateRef): Promise<ActorTemplate | null>;
  /** True when it existed. */
  delete(ref: TemplateRef): Promise<boolean>;
  /** Creates or replaces an Opaque Secret (holds the sandbox token outside the template spec). */
  applySecret(
    ref: TemplateRef,
    data: Record<string, string>,
    annotations: Record<string, string>,
  ): Promise<void>;
  deleteSecret(ref: TemplateRef): Promise<void>;
}
