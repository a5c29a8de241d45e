// Saving and reloading the simulator's state, so that `ateflow dev` finds its sandboxes again
// after a restart: atespaces, actors, snapshots, ActorTemplates (with their golden status),
// Secrets and the actor locks held (Redis keeps them with their TTL: a call cut off by the
// restart leaves its actor locked until the TTL runs out, ~30 s). Worker pods are not saved:
// they come back new, as after a cluster restart, so an actor that was bound to a pod (RUNNING or
// in a transition) is reset to SUSPENDED with its last snapshot, exactly what Substrate's syncer
// does when a worker pod dies.
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Actor, Actor_Status } from '../gen/ateapi';
import type { ActorTemplate } from './cluster/resources';
import type { SimulatorCore } from './core';
import type { ActorLocks } from './locks';
import type { SnapshotStorage } from './workload';

const FORMAT = 'ateflow-simulator-state/v1';
/**
 * Actor versions jump by this much on a reload. State is saved periodically, so a killed process
 * loses the last writes and versions would go backwards; observers (the fleet observer, the
 * sandbox workflows) drop observations whose version is not newer than what they saw.
 */
export const RELOAD_VERSION_STEP = 1000;

export interface SimulatorState {
  format: typeof FORMAT;
  savedAt: string;
  atespaces: string[];
  actors: unknown[];
  snapshots: ReturnType<SnapshotStorage['entries']>;
  templates: ActorTemplate[];
  secrets: { namespace: string; name: string; data: Record<string, string> }[];
  /** Absent in files written before locks were kept. */
  locks?: ReturnType<ActorLocks['entries']>;
}

/** A copy of everything in `core` that outlives worker pods. */
export function captureState(core: SimulatorCore): SimulatorState {
  return {
    format: FORMAT,
    savedAt: new Date().toISOString(),
    atespaces: core.store.listAtespaces(),
    actors: [...core.store.allActors()].map((actor) => Actor.toJSON(actor)),
    snapshots: core.snapshots.entries(),
    templates: core.templates.list().map((template) => structuredClone(template)),
    secrets: core.cluster.listSecrets(),
    locks: core.locks.entries(),
  };
}

/** What a restore brought back, for the start-up message. */
export interface RestoreSummary {
  atespaces: number;
  actors: number;
  /** Actors that were bound to a (now gone) worker pod and were reset to SUSPENDED. */
  reset: number;
  templates: number;
  secrets: number;
}

/**
 * Puts `state` into a core that is not started yet. Templates that were Ready keep their golden
 * snapshot (no rebuild); the others are applied by `afterStart()`, which starts their golden
 * build again (call it right after `core.start()`).
 */
export function restoreState(
  core: SimulatorCore,
  state: SimulatorState,
): RestoreSummary & { afterStart(): void } {
  if (state.format !== FORMAT) throw new Error(`unknown simulator state format ${String(state.format)}`);
  core.snapshots.load(state.snapshots);
  for (const secret of state.secrets) {
    core.cluster.putSecret({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { namespace: secret.namespace, name: secret.name },
      stringData: secret.data,
    });
  }
  for (const name of state.atespaces) core.store.createAtespace(name);
  core.locks.load(state.locks ?? []);
  let reset = 0;
  for (const raw of state.actors) {
    const actor = Actor.fromJSON(raw);
    const bound =
      actor.status !== Actor_Status.STATUS_SUSPENDED && actor.status !== Actor_Status.STATUS_PAUSED;
    if (bound) reset++;
    const version = actor.version + RELOAD_VERSION_STEP;
    core.store.restoreActor(
      bound
        ? {
            ...actor,
            version,
            status: Actor_Status.STATUS_SUSPENDED,
            ateomPodNamespace: '',
            ateomPodName: '',
            ateomPodIp: '',
            inProgressSnapshot: '',
            workerPoolName: '',
          }
        : { ...actor, version, ateomPodNamespace: '', ateomPodName: '', ateomPodIp: '', workerPoolName: '' },
    );
  }
  // Before start() the template store has no listener, so applying starts no golden build.
  const ready = state.templates.filter((t) => t.status?.phase === 'Ready');
  const unfinished = state.templates.filter((t) => t.status?.phase !== 'Ready');
  for (const template of ready) {
    core.templates.apply(template);
    core.templates.updateStatus(template.metadata.namespace, template.metadata.name, template.status!);
  }
  return {
    afterStart: () => {
      for (const template of unfinished) core.templates.apply(template);
    },
    atespaces: state.atespaces.length,
    actors: state.actors.length,
    reset,
    templates: state.templates.length,
    secrets: state.secrets.length,
  };
}

export function readStateFile(path: string): SimulatorState | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as SimulatorState;
  } catch (err) {
    throw new Error(
      `simulator state ${path} is unreadable (${err instanceof Error ? err.message : String(err)}); ` +
        'move it away to start with an empty cluster',
      { cause: err },
    );
  }
}

/** Writes atomically (temporary file, then rename), readable by the owner only. */
export function writeStateFile(path: string, state: SimulatorState): void {
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, JSON.stringify(state), { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}
