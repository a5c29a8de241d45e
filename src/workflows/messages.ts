// The sandbox workflow's public contract: its input, the view it reports, and the updates,
// signals and queries that the facade, the CLI and the fleet observer send it.
// Imported by workflow code, so this module must stay free of Node APIs.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/** Our lifecycle states (architecture §3); shown in the Web UI as `SandboxState`. */
export type SandboxState =
  | 'PROVISIONING'
  | 'RUNNING'
  | 'SUSPENDING'
  | 'SUSPENDED'
  | 'RESUMING'
  | 'PAUSED'
  | 'MIGRATING'
  | 'DELETING'
  | 'DELETED'
  | 'FAILED';

/** Substrate actor status names (ateapi `Actor.Status` without the prefix). */
export type ActorStatus =
  'RESUMING' | 'RUNNING' | 'SUSPENDING' | 'SUSPENDED' | 'PAUSING' | 'PAUSED' | 'UNKNOWN';

export interface ActorRef {
  atespace: string;
  name: string;
}

export interface TemplateRef {
  namespace: string;
  name: string;
}

/** The template a sandbox's actor is created from. */
export type TemplateChoice =
  /** A pre-provisioned ActorTemplate named in platform_config, used as is and never deleted. */
  | { kind: 'existing'; ref: TemplateRef }
  /** A per-sandbox ActorTemplate that ateflow synthesizes, owns and deletes with the sandbox. */
  | { kind: 'synthesized'; ref: TemplateRef; spec: SynthesizedTemplateSpec };

export interface SynthesizedTemplateSpec {
  /**
   * A pre-provisioned template (platform_config.substrate_actor_template) whose spec the sandbox's
   * own template copies before adding the identity; without it the template is built from `image`.
   */
  base?: TemplateRef;
  /** The sandbox image (digest-pinned); unused with a base template, whose images win. */
  image: string;
  /** Environment for the main container; identity variables are added by the activity. */
  environment: Record<string, string>;
  /** The canonical main process, forwarded verbatim as OPENSHELL_MAIN_PROCESS_SPEC. */
  command: string[];
  tty: boolean;
  logLevel: string;
  /** OPENSHELL_ENDPOINT: the gateway as the sandbox reaches it (from the facade that created it). */
  gatewayEndpoint?: string;
  /**
   * The gateway's sandbox token, sealed (AES-256-GCM) by the facade so that the raw bearer never
   * appears in workflow history, the Web UI, search attributes or logs. Empty when none was sent.
   */
  sealedToken: string;
}

/** What Substrate last reported about the actor. */
export interface ActorView {
  ref: ActorRef;
  status: ActorStatus;
  version: number;
  template: TemplateRef;
  podName: string;
  podUid: string;
  podIp: string;
  workerPool: string;
  /** Snapshot kind of the latest checkpoint: none yet, object storage (suspend) or node-local (pause). */
  snapshot: 'NONE' | 'EXTERNAL' | 'LOCAL';
  snapshotUri: string;
  workerSelector: Record<string, string>;
}

/** One step in a sandbox's life, kept for the watch stream, the CLI and the UI. */
export interface LifecycleEvent {
  /** Monotonic per sandbox (survives continue-as-new); consumers resume from the last one seen. */
  seq: number;
  timestampMs: number;
  type: 'Normal' | 'Warning';
  /** CamelCase reason, e.g. Provisioning, Running, IdleSuspended, PodLost, Recovered, Migrated. */
  reason: string;
  message: string;
  /** openshell.progress.* keys during create and resume; free-form otherwise. */
  metadata: Record<string, string>;
}

export interface SandboxInput {
  sandboxId: string;
  sandboxName: string;
  workspace: string;
  actor: ActorRef;
  template: TemplateChoice;
  /** Initial placement constraint (driver_config.worker_selector). */
  workerSelector: Record<string, string>;
  /** Auto-suspend after this long without activity; 0 disables. */
  idleTimeoutMs: number;
  /**
   * After each create or start, no idle suspend for at least this long, used or not (an agent
   * that boots and then thinks before its first call); absent or 0: the idle timeout alone.
   */
  keepAliveMs?: number;
  /** Labels from the gateway's template, echoed in the view. */
  labels: Record<string, string>;
  /** Time budgets; defaults in the workflow (sandbox.ts `defaultLimits`). */
  limits?: Partial<SandboxLimits>;
  /** Present when this run continues an earlier one (continue-as-new). */
  carried?: SandboxView;
  /**
   * The workflow code generation the sandbox was created at (patches.ts CODE_GENERATION): the
   * patches it runs without recording them. Absent in workflows started before generations.
   */
  generation?: number;
}

export interface SandboxLimits {
  /** Longest a single transition (resume, suspend, …) may take before the sandbox is FAILED. */
  transitionTimeoutMs: number;
  /** Longest a resume waits for a free worker before the sandbox is FAILED. */
  capacityBudgetMs: number;
  /** Longest a synthesized template may take to become Ready. */
  templateReadyTimeoutMs: number;
}

export interface SandboxView {
  sandboxId: string;
  sandboxName: string;
  workspace: string;
  state: SandboxState;
  /** Human-readable status line (also the Web UI's current details). */
  detail: string;
  /** Set while a resume waits for a free worker. */
  waitingForCapacity: boolean;
  /** Set in FAILED: what went wrong and what to do. */
  failure?: SandboxFailure;
  actor: ActorRef;
  template: TemplateRef;
  templateOwned: boolean;
  /** The Secret holding the gateway's token for this sandbox (synthesized templates only). */
  tokenSecret?: TemplateRef;
  /** Last actor observation, from an activity result or the fleet observer. */
  actorView?: ActorView;
  labels: Record<string, string>;
  workerSelector: Record<string, string>;
  idleTimeoutMs: number;
  /** The keep-alive window after each create or start (SandboxInput.keepAliveMs). */
  keepAliveMs?: number;
  /** Until when the current keep-alive window holds off the idle timer. */
  keepAliveUntilMs?: number;
  lastActiveAtMs: number;
  /** What moved lastActiveAtMs last ("Touch", "exec/SSH/port-forward through the gateway", …). */
  lastActiveSource?: string;
  /** When the idle timer will suspend the sandbox (0: not armed). */
  idleDeadlineMs: number;
  /** A stop hold (quarantine): start is refused until it is released. */
  hold?: { reason: string; sinceMs: number };
  createdAtMs: number;
  /** The most recent lifecycle events (bounded), oldest first. */
  events: LifecycleEvent[];
}

/**
 * Why a sandbox is FAILED and its way out: `start` recovers it (its actor and snapshot are kept:
 * the gateway shows it Stopped, so `openshell sandbox start` works), `delete` is all that is left
 * (its first provisioning failed, or its actor is gone: the gateway shows it Error).
 */
export interface SandboxFailure {
  reason: string;
  message: string;
  /** Absent in views carried over from workflows started before recovery was recorded. */
  recovery?: 'start' | 'delete';
}

export interface CreateRequest {
  input: SandboxInput;
}

export interface MigrateRequest {
  /** Replace the actor's worker selector first (empty map clears it; absent keeps it). */
  workerSelector?: Record<string, string>;
  reason?: string;
}

export interface HoldRequest {
  reason: string;
}

export interface DeleteResult {
  /** False when the sandbox's actor was already gone before this request. */
  deleted: boolean;
  view: SandboxView;
}

/** Creates the sandbox (update-with-start); returns once the intent is durable. */
export const createUpdate = defineUpdate<SandboxView, [CreateRequest]>('create');
/** Resumes a suspended or paused sandbox; returns when it is RUNNING. */
export const startUpdate = defineUpdate<SandboxView, []>('start');
/** Suspends (memory snapshot to object storage); returns when the snapshot is committed. */
export const stopUpdate = defineUpdate<SandboxView, []>('stop');
/** Takes a durable snapshot and keeps running (suspend, then resume). */
export const checkpointUpdate = defineUpdate<SandboxView, []>('checkpoint');
/** Pauses (node-local snapshot; the next resume is pinned to that node). */
export const pauseUpdate = defineUpdate<SandboxView, []>('pause');
/** Moves the actor to another worker (optionally under a new selector). */
export const migrateUpdate = defineUpdate<SandboxView, [MigrateRequest]>('migrate');
/** Deletes the actor (and a synthesized template) from any state; the workflow then completes. */
export const deleteUpdate = defineUpdate<DeleteResult, []>('delete');
/** Sets the per-sandbox idle timeout (ms; 0 disables); applies at once. */
export const setIdleTimeoutUpdate = defineUpdate<SandboxView, [number]>('setIdleTimeout');
/** Places a stop hold: suspends the sandbox and refuses start until released. */
export const holdUpdate = defineUpdate<SandboxView, [HoldRequest]>('hold');
export const releaseUpdate = defineUpdate<SandboxView, []>('release');

/** Activity on the sandbox (exec, connect, traffic): moves the idle clock, nothing else. */
/** Someone used the sandbox: moves its idle clock. The argument names who saw the use. */
export const touchSignal = defineSignal<[source?: string]>('touch');
/** The fleet observer saw the actor change in a way this workflow did not cause. */
export const actorObservedSignal = defineSignal<[ActorView | null]>('actorObserved');

export const viewQuery = defineQuery<SandboxView>('view');

export const sandboxWorkflowId = (sandboxId: string) => `sandbox/${sandboxId}`;
