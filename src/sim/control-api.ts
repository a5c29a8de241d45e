// The 14 ateapi.Control RPCs, transport-free: validation in upstream's order with upstream's
// messages, then the store or a lifecycle workflow. Handlers throw StatusError for statuses
// the client must see verbatim and plain Errors for everything upstream reports as Internal.
import {
  Actor_Status,
  type ActorRef,
  type CreateActorRequest,
  type CreateActorResponse,
  type CreateAtespaceRequest,
  type CreateAtespaceResponse,
  type DebugClearRequest,
  type DebugClearResponse,
  type DeleteActorRequest,
  type DeleteActorResponse,
  type DeleteAtespaceRequest,
  type DeleteAtespaceResponse,
  type GetActorRequest,
  type GetActorResponse,
  type GetAtespaceRequest,
  type GetAtespaceResponse,
  type ListActorsRequest,
  type ListActorsResponse,
  type ListAtespacesRequest,
  type ListAtespacesResponse,
  type ListWorkersRequest,
  type ListWorkersResponse,
  type PauseActorRequest,
  type PauseActorResponse,
  type ResumeActorRequest,
  type ResumeActorResponse,
  type SuspendActorRequest,
  type SuspendActorResponse,
  type UpdateActorRequest,
  type UpdateActorResponse,
} from '../gen/ateapi';
import type { TemplateStore } from './cluster/templates';
import {
  actorNotFound,
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  PersistenceConflict,
  updateConflict,
} from './errors';
import type { ControlRpc } from './faults';
import type { Lifecycle } from './lifecycle';
import { listActorsPage } from './list-actors';
import type { Random } from './random';
import type { Store } from './store';
import { validateActorName, validateAtespace, validateSelector } from './validation';

/** Request and response type of every Control method. */
export interface ControlMethods {
  GetActor: [GetActorRequest, GetActorResponse];
  CreateActor: [CreateActorRequest, CreateActorResponse];
  UpdateActor: [UpdateActorRequest, UpdateActorResponse];
  SuspendActor: [SuspendActorRequest, SuspendActorResponse];
  PauseActor: [PauseActorRequest, PauseActorResponse];
  ResumeActor: [ResumeActorRequest, ResumeActorResponse];
  DeleteActor: [DeleteActorRequest, DeleteActorResponse];
  ListWorkers: [ListWorkersRequest, ListWorkersResponse];
  ListActors: [ListActorsRequest, ListActorsResponse];
  CreateAtespace: [CreateAtespaceRequest, CreateAtespaceResponse];
  GetAtespace: [GetAtespaceRequest, GetAtespaceResponse];
  ListAtespaces: [ListAtespacesRequest, ListAtespacesResponse];
  DeleteAtespace: [DeleteAtespaceRequest, DeleteAtespaceResponse];
  DebugClear: [DebugClearRequest, DebugClearResponse];
}

export type ControlHandlers = {
  [K in ControlRpc]: (request: ControlMethods[K][0], signal: AbortSignal) => Promise<ControlMethods[K][1]>;
};

const MAX_PAGE_SIZE = 1000;

/** Get, Resume, Suspend and Pause check only that the name and atespace are present. */
function requireRef(ref: ActorRef | undefined): ActorRef {
  const name = ref?.name ?? '';
  const atespace = ref?.atespace ?? '';
  if (name === '') throw invalidArgument('id is required');
  if (atespace === '') throw invalidArgument('atespace is required');
  return { atespace, name };
}

export interface ControlApiDeps {
  store: Store;
  templates: TemplateStore;
  lifecycle: Lifecycle;
  /** DebugClear hook: drop locks, schedule the worker resync. */
  afterDebugClear: () => void;
  /** DeleteActor hook: what ran for the actor (process actors) goes with it. */
  afterActorDeleted?: (atespace: string, name: string) => Promise<void>;
  /** Go's map order, for which invalid selector label is reported; default: request order. */
  mapOrder?: Random;
  /** A store round trip inside ListActors (between a SCAN and its GETs); default none. */
  storeRoundTrip?: () => Promise<void>;
}

export function controlHandlers({
  store,
  templates,
  lifecycle,
  afterDebugClear,
  afterActorDeleted,
  mapOrder,
  storeRoundTrip = () => Promise.resolve(),
}: ControlApiDeps): ControlHandlers {
  return {
    async GetActor(req) {
      const ref = requireRef(req.actorRef);
      const actor = store.getActor(ref.atespace, ref.name);
      if (!actor) throw actorNotFound(ref.name);
      return { actor };
    },

    async CreateActor(req) {
      const name = req.actorRef?.name ?? '';
      const atespace = req.actorRef?.atespace ?? '';
      if (req.actorTemplateNamespace === '') throw invalidArgument('actor_template_namespace is required');
      if (req.actorTemplateName === '') throw invalidArgument('actor_template_name is required');
      if (name === '') throw invalidArgument('actor_id is required');
      validateActorName(name);
      if (atespace === '') throw invalidArgument('atespace is required');
      validateAtespace(atespace);
      validateSelector(req.workerSelector, mapOrder);
      if (!templates.get(req.actorTemplateNamespace, req.actorTemplateName)) {
        throw failedPrecondition(
          `ActorTemplate ${req.actorTemplateNamespace}/${req.actorTemplateName} not found`,
        );
      }
      if (!store.hasAtespace(atespace)) throw failedPrecondition(`Atespace ${atespace} not found`);
      const actor = store.createActor({
        actorId: name,
        version: 1,
        actorTemplateNamespace: req.actorTemplateNamespace,
        actorTemplateName: req.actorTemplateName,
        status: Actor_Status.STATUS_SUSPENDED,
        ateomPodNamespace: '',
        ateomPodName: '',
        ateomPodIp: '',
        inProgressSnapshot: '',
        ateomPodUid: '',
        latestSnapshotInfo: undefined,
        workerSelector: req.workerSelector,
        workerPoolName: '',
        atespace,
      });
      if (!actor) throw alreadyExists(`Actor ${name} already exists`);
      return { actor };
    },

    async UpdateActor(req) {
      const name = req.actorRef?.name ?? '';
      const atespace = req.actorRef?.atespace ?? '';
      if (name === '') throw invalidArgument('actor_id is required');
      if (atespace === '') throw invalidArgument('atespace is required');
      validateAtespace(atespace);
      validateSelector(req.workerSelector, mapOrder);
      const actor = store.getActor(atespace, name);
      if (!actor) throw actorNotFound(name);
      try {
        return { actor: store.updateActor({ ...actor, workerSelector: req.workerSelector }) };
      } catch (err) {
        if (err instanceof PersistenceConflict) throw updateConflict();
        throw err;
      }
    },

    async ResumeActor(req, signal) {
      return { actor: await lifecycle.resume(requireRef(req.actorRef), req.boot, signal) };
    },

    async SuspendActor(req, signal) {
      return { actor: await lifecycle.suspend(requireRef(req.actorRef), signal) };
    },

    async PauseActor(req, signal) {
      return { actor: await lifecycle.pause(requireRef(req.actorRef), signal) };
    },

    async DeleteActor(req) {
      const name = req.actorRef?.name ?? '';
      const atespace = req.actorRef?.atespace ?? '';
      if (name === '') throw invalidArgument('actor_id is required');
      validateActorName(name);
      if (atespace === '') throw invalidArgument('atespace is required');
      const result = store.deleteActor(atespace, name);
      if (!result.deleted && result.reason === 'missing') throw actorNotFound(name);
      if (!result.deleted && result.reason === 'not-suspended') {
        throw failedPrecondition(`Actor ${name} is not suspended (status: ${result.status})`);
      }
      await afterActorDeleted?.(atespace, name);
      return {};
    },

    async ListWorkers() {
      return { workers: store.listWorkers() };
    },

    async ListActors(req) {
      // list_actors.go validateListActorsRequest: the atespace first, then the page size.
      if (req.atespace !== '') validateAtespace(req.atespace);
      if (req.pageSize < 0) throw invalidArgument('page_size cannot be negative');
      if (req.pageSize > MAX_PAGE_SIZE) {
        throw invalidArgument(`page_size ${req.pageSize} exceeds maximum page size ${MAX_PAGE_SIZE}`);
      }
      const source = {
        keyspace: store.keyspace,
        fetch: (key: string) => store.getActorByKey(key),
        roundTrip: storeRoundTrip,
      };
      try {
        return await listActorsPage(
          source,
          req.atespace,
          req.pageSize === 0 ? MAX_PAGE_SIZE : req.pageSize,
          req.pageToken,
        );
      } catch (err) {
        const text = err instanceof Error ? err.message : String(err);
        throw new Error(`while listing actors in db: ${text}`, { cause: err });
      }
    },

    async CreateAtespace(req) {
      if (req.name === '') throw invalidArgument('name is required');
      validateAtespace(req.name);
      if (!store.createAtespace(req.name)) throw alreadyExists(`Atespace ${req.name} already exists`);
      return { atespace: { name: req.name } };
    },

    async GetAtespace(req) {
      if (req.name === '') throw invalidArgument('name is required');
      validateAtespace(req.name);
      if (!store.hasAtespace(req.name)) throw notFound(`Atespace ${req.name} not found`);
      return { atespace: { name: req.name } };
    },

    async ListAtespaces() {
      return { atespaces: store.listAtespaces().map((name) => ({ name })) };
    },

    async DeleteAtespace(req) {
      if (req.name === '') throw invalidArgument('name is required');
      validateAtespace(req.name);
      const result = store.deleteAtespace(req.name);
      if (result === 'missing') throw notFound(`Atespace ${req.name} not found`);
      if (result === 'not-empty') throw failedPrecondition(`Atespace ${req.name} is not empty`);
      return {};
    },

    async DebugClear() {
      store.clear();
      afterDebugClear();
      return {};
    },
  };
}
