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
    /** Set by the server; a watch starts from it. */
    resourceVersion?: string;
  };
  spec: ActorTemplateSpec;
  status?: { phase?: string; goldenActorID?: string; goldenSnapshot?: string };
}

/** How a wait for a template's golden snapshot ended. */
export type ReadyOutcome =
  | { state: 'ready'; template: ActorTemplate }
  | { state: 'failed'; template: ActorTemplate }
  /** The template does not exist (never applied, or deleted while we waited). */
  | { state: 'absent' };

export interface WaitForReadyOptions {
  /** Called with `status.phase` ('' before the controller starts) whenever it changes, incl. the first. */
  onPhase: (phase: string) => void;
  /** Stops the wait (rejects with the signal's reason). */
  signal?: AbortSignal;
}

/**
 * The store refused a request in a way that retrying cannot fix: forbidden, invalid (e.g. the
 * immutable spec), unauthenticated. `status` is the HTTP status code the server answered.
 */
export class TemplateRejectedError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'TemplateRejectedError';
  }
}

export interface TemplateStore {
  /** Releases connections, if the store holds any. */
  close?(): void;
  /** Creates the template, or leaves an identical one as it is; a different spec is an error. */
  apply(template: ActorTemplate): Promise<void>;
  get(ref: TemplateRef): Promise<ActorTemplate | null>;
  /**
   * Follows the template until `status.phase` is Ready or Failed, or it is gone. Survives dropped
   * connections (it re-reads and watches again) and reports every phase it sees.
   */
  waitForReady(ref: TemplateRef, options: WaitForReadyOptions): Promise<ReadyOutcome>;
  /**
   * True when it existed. With `resourceVersion`, the delete happens only if the template is still
   * the version that was read (a Kubernetes precondition; a changed template is a retryable error).
   */
  delete(ref: TemplateRef, options?: { resourceVersion?: string }): Promise<boolean>;
  /** Creates or replaces an Opaque Secret (holds the sandbox token outside the template spec). */
  applySecret(
    ref: TemplateRef,
    data: Record<string, string>,
    annotations: Record<string, string>,
  ): Promise<void>;
  deleteSecret(ref: TemplateRef): Promise<void>;
}
