// openshell.compute.v1.ComputeDriver: each gateway call becomes a workflow update, query or
// visibility read (architecture §4). Stateless: all sandbox state lives in the workflows.
import { status } from '@grpc/grpc-js';
import {
  DriverSandbox,
  WatchSandboxesEvent,
  type ComputeDriverServer,
  type GetSandboxRequest,
} from '../gen/compute_driver';
import { logger } from '../logger';
import { sealToken } from '../sealing';
import type { Worker } from '../gen/ateapi';
import { deleteUpdate, startUpdate, stopUpdate, type SandboxView } from '../workflows/messages';
import { planSandbox } from './create-plan';
import { toDriverSandbox, toPlatformEvent } from './driver-sandbox';
import { DriverError, failedPrecondition, grpcCodeOf } from './errors';
import type { SandboxChange, SandboxEventSource } from './event-source';
import { boundedUnary, followEvents, serverStream, unsendable } from './grpc-handlers';
import { checkName, checkSandboxId, checkWorkspace, isDnsLabel } from './limits';
import type { SandboxWorkflows, ViewsResult } from './sandbox-workflows';
import type { DriverSettings } from './settings';

export const DRIVER_NAME = 'ateflow';

/** The ateapi calls the facade makes itself (workspaces, drain); everything else goes through workflows. */
export interface FacadeAteapi {
  createAtespace(name: string): Promise<unknown>;
  deleteAtespace(name: string): Promise<void>;
  listWorkers(): Promise<Worker[]>;
}

export interface ComputeDriverDeps {
  settings: DriverSettings;
  version: string;
  sandboxes: SandboxWorkflows;
  events: SandboxEventSource;
  ateapi: FacadeAteapi;
  sealingKey: Buffer;
}

/** The sandbox a Get/Stop/Start/Delete names, its fields checked against their limits. */
function target(request: Pick<GetSandboxRequest, 'sandboxId' | 'sandboxName'>): string {
  checkSandboxId(request.sandboxId);
  checkName(request.sandboxName, 'sandbox_name');
  return request.sandboxId;
}

/**
 * A sandbox as the gateway sees it, checked on its own before it goes on the wire; a view that
 * cannot be sent (over LIMITS.reportedSandboxBytes, or a number that is no int64) is INTERNAL:
 * valid input cannot make one, so it is this driver's fault.
 */
function sendableSandbox(view: SandboxView): DriverSandbox {
  // Views from the cache are the same objects until they change: convert and check each once
  // (the gateway's sweep asks for every sandbox every minute).
  const known = checkedSandboxes.get(view);
  if (known) return known;
  const sandbox = toDriverSandbox(view);
  const problem = unsendable(DriverSandbox, sandbox);
  if (problem) {
    throw new DriverError(
      status.INTERNAL,
      `sandbox ${view.sandboxId} cannot be reported: ${problem}; delete it (its workflow keeps the history)`,
    );
  }
  checkedSandboxes.set(view, sandbox);
  return sandbox;
}
const checkedSandboxes = new WeakMap<SandboxView, DriverSandbox>();

/** A lifecycle update that returned without reaching the state it promised. */
function expectState(view: SandboxView, wanted: SandboxView['state'][], action: string): void {
  if (wanted.includes(view.state)) return;
  const why = view.failure ? `${view.failure.reason}: ${view.failure.message}` : view.detail;
  throw failedPrecondition(`${action} sandbox ${view.sandboxId} ended in state ${view.state} (${why})`);
}

export function computeDriverService(deps: ComputeDriverDeps): ComputeDriverServer {
  const { settings, sandboxes, ateapi } = deps;
  const unary = boundedUnary(settings.callTimeoutMs);
  return {
    getCapabilities: unary('GetCapabilities', async () => ({
      driverName: DRIVER_NAME,
      driverVersion: deps.version,
      defaultImage: settings.defaultImage,
      // Sandboxes are durable workflows: a gateway restart must not stop or start them.
      gatewayManagesLifecycle: false,
      supportsSandboxAuthentication: false,
      driverReportsRuntimeReadiness: false,
    })),

    authenticateSandbox: unary('AuthenticateSandbox', async () => {
      throw new DriverError(status.UNIMPLEMENTED, 'ateflow does not issue sandbox bootstrap credentials');
    }),

    getGatewayListenerRequirements: unary('GetGatewayListenerRequirements', async () => {
      const listener = settings.listener;
      const reason = 'sandboxes on Substrate dial the gateway here';
      switch (listener.kind) {
        case 'none':
          return { requirements: [] };
        case 'loopback':
          return { requirements: [{ reason, loopbackInterface: {} }] };
        case 'default-route':
          return { requirements: [{ reason, defaultRouteInterface: {} }] };
        case 'exact':
          return {
            requirements: [{ reason, exactBindAddress: listener.address }],
          };
      }
    }),

    validateSandboxCreate: unary('ValidateSandboxCreate', async (request) => {
      planSandbox(request.sandbox, settings);
      return {};
    }),

    // Reads come from the watch poller's cache while it runs (the gateway keeps a watch open), else
    // from the view each workflow publishes with every change: no query, so no replay (README,
    // "Reads and staleness").
    getSandbox: unary('GetSandbox', async (request) => {
      const id = target(request);
      return { sandbox: sendableSandbox(deps.events.cached(id) ?? (await sandboxes.published(id))) };
    }),

    // One sandbox that cannot be read or sent is left out, with a log line, and never fails the
    // list: the gateway copies names and conditions from what is listed (so a stand-in would
    // rename or misreport the sandbox), and it checks every sandbox missing from the list with
    // GetSandbox before it prunes one, which then answers UNAVAILABLE or INTERNAL, not NOT_FOUND.
    listSandboxes: unary('ListSandboxes', async () => {
      const { views, failed } = await cachedOrListed(deps.events, sandboxes);
      for (const [sandboxId, err] of failed) {
        logger.warn(
          { sandboxId, err: err.message },
          'ListSandboxes: sandbox left out, its view cannot be read',
        );
      }
      const listed: DriverSandbox[] = [];
      for (const view of views) {
        try {
          listed.push(sendableSandbox(view));
        } catch (err) {
          logger.warn(
            { sandboxId: view.sandboxId, err: (err as Error).message },
            'ListSandboxes: sandbox left out',
          );
        }
      }
      return { sandboxes: listed };
    }),

    createSandbox: unary('CreateSandbox', async (request) => {
      const input = planSandbox(request.sandbox, settings);
      if (input.template.kind === 'synthesized') {
        // The raw bearer never enters workflow history: only the sealed form does.
        input.template.spec.sealedToken = sealToken(request.sandbox!.spec!.sandboxToken, deps.sealingKey);
      }
      const view = await sandboxes.create(input);
      if (view.sandboxName !== input.sandboxName || view.workspace !== input.workspace) {
        throw new DriverError(
          status.ALREADY_EXISTS,
          `sandbox ${input.sandboxId} already exists as "${view.sandboxName}" in workspace "${view.workspace}"`,
        );
      }
      return {};
    }),

    stopSandbox: unary('StopSandbox', async (request) => {
      const view = await sandboxes.update(target(request), stopUpdate, []);
      expectState(view, ['SUSPENDED', 'PAUSED'], 'stop');
      return {};
    }),

    startSandbox: unary('StartSandbox', async (request) => {
      const view = await sandboxes.update(target(request), startUpdate, []);
      expectState(view, ['RUNNING'], 'start');
      return {};
    }),

    deleteSandbox: unary('DeleteSandbox', async (request) => {
      const id = target(request);
      try {
        // No update id: a retry after completion must reach the closed workflow and learn it is gone.
        const result = await sandboxes.update(id, deleteUpdate, []);
        return { deleted: result.deleted };
      } catch (err) {
        if (err instanceof DriverError && err.code === status.NOT_FOUND) return { deleted: false };
        throw err;
      }
    }),

    watchSandboxes: serverStream('WatchSandboxes', async (_request, call) => {
      // A message grpc-js cannot serialize would end the stream for every sandbox: check each.
      const send = (event: WatchSandboxesEvent, sandboxId: string) => {
        const problem = unsendable(WatchSandboxesEvent, event);
        if (problem) logger.warn({ sandboxId, err: problem }, 'WatchSandboxes: change left out');
        else call.write(event);
      };
      await followEvents(
        call,
        deps.events,
        (change) => send(toWatchEvent(change), changeId(change)),
        (snapshot) => {
          for (const view of snapshot) send({ sandbox: { sandbox: toDriverSandbox(view) } }, view.sandboxId);
        },
      );
    }),

    ensureWorkspace: unary('EnsureWorkspace', async (request) => {
      checkWorkspace(request.workspace);
      await ateapi.createAtespace(atespaceOf(request.workspace, settings)).catch((err: unknown) => {
        if (grpcCodeOf(err) !== status.ALREADY_EXISTS) throw workspaceError(err, 'create');
      });
      return {};
    }),

    deleteWorkspace: unary('DeleteWorkspace', async (request) => {
      checkWorkspace(request.workspace);
      // Workspaces without an atespace of their own share the default one; it stays.
      if (!isDnsLabel(request.workspace)) return {};
      await ateapi.deleteAtespace(request.workspace).catch((err: unknown) => {
        if (grpcCodeOf(err) !== status.NOT_FOUND) throw workspaceError(err, 'delete');
      });
      return {};
    }),
  };
}

/** Every sandbox's view: from the watch poller's cache while it runs, else one visibility list. */
async function cachedOrListed(events: SandboxEventSource, sandboxes: SandboxWorkflows): Promise<ViewsResult> {
  const cached = events.cachedAll();
  if (!cached) return sandboxes.allViews();
  const unread = new DriverError(status.UNAVAILABLE, 'its view could not be read on the last poll');
  return { views: cached.views, failed: new Map(cached.unread.map((id) => [id, unread])) };
}

const atespaceOf = (workspace: string, settings: DriverSettings) =>
  isDnsLabel(workspace) ? workspace : settings.defaultAtespace;

function workspaceError(err: unknown, action: 'create' | 'delete'): DriverError {
  const code = grpcCodeOf(err);
  const message = `${action} atespace on Substrate: ${err instanceof Error ? err.message : String(err)}`;
  if (code === status.FAILED_PRECONDITION && action === 'delete') {
    return failedPrecondition(
      `the workspace's atespace still holds sandboxes: delete them first (${message})`,
    );
  }
  if (code === undefined || code === status.DEADLINE_EXCEEDED)
    return new DriverError(status.UNAVAILABLE, message);
  return new DriverError(code, message);
}

const changeId = (change: SandboxChange) =>
  change.kind === 'sandbox' ? change.view.sandboxId : change.sandboxId;

function toWatchEvent(change: SandboxChange): WatchSandboxesEvent {
  switch (change.kind) {
    case 'sandbox':
      return { sandbox: { sandbox: toDriverSandbox(change.view) } };
    case 'deleted':
      return { deleted: { sandboxId: change.sandboxId } };
    case 'event':
      return { platformEvent: { sandboxId: change.sandboxId, event: toPlatformEvent(change.event) } };
  }
}
