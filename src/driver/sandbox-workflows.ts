// The facade's only way to sandboxes: Temporal calls against the sandbox workflows, each with our
// own deadline, each failure translated into a DriverError (NOT_FOUND only when truly gone).
import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { defaultPayloadConverter, type UpdateDefinition } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import {
  createUpdate,
  sandboxWorkflowId,
  touchSignal,
  viewQuery,
  type LifecycleEvent,
  type SandboxInput,
  type SandboxView,
} from '../workflows/messages';
import {
  SandboxChangedAt,
  SandboxName,
  SandboxState,
  SandboxWorkspace,
} from '../workflows/search-attributes';
import { CODE_GENERATION } from '../workflows/patches';
import { initialView, snapshot } from '../workflows/view';
import { publishedViewOf, SANDBOX_WORKFLOW_TYPE } from '../temporal/published-view';
import { status } from '@grpc/grpc-js';
import { fromTemporal, notFound, type CallContext, type DriverError } from './errors';

const SANDBOX_ID_PREFIX = sandboxWorkflowId('');

export interface SandboxWorkflowsOptions {
  taskQueue: string;
  temporalAddress: string;
  callTimeoutMs: number;
  readTimeoutMs: number;
}

export interface ViewsResult {
  views: SandboxView[];
  failed: Map<string, DriverError>;
}

/** A sandbox workflow as visibility reports it. */
export interface SandboxExecution {
  sandboxId: string;
  running: boolean;
  /** Completed with state DELETED: the sandbox is gone. */
  deleted: boolean;
  /** SandboxChangedAt (ms), or the close time; 0 when unknown. */
  changedAtMs: number;
  /**
   * The view the workflow published in its memo with its latest change (recent events only);
   * absent for workflows from before it published one, which must be queried.
   */
  view?: SandboxView;
}

/** How long this facade remembers its own writes (longer than any cache staleness bound). */
const WRITE_MEMORY_MS = 60_000;

export class SandboxWorkflows {
  /** When this facade last changed each sandbox (create or update returned or failed). */
  private readonly writes = new Map<string, number>();

  constructor(
    readonly client: Client,
    private readonly options: SandboxWorkflowsOptions,
  ) {}

  get readTimeoutMs(): number {
    return this.options.readTimeoutMs;
  }

  /**
   * True when this facade changed the sandbox within `withinMs`: a cached view may predate the
   * change (visibility lags the workflow), so readers go to the workflow itself.
   */
  writtenWithin(sandboxId: string, withinMs: number): boolean {
    const at = this.writes.get(sandboxId);
    return at !== undefined && Date.now() - at < withinMs;
  }

  private noteWrite(sandboxId: string): void {
    const now = Date.now();
    this.writes.delete(sandboxId);
    this.writes.set(sandboxId, now);
    // Oldest first (insertion order): forget writes nobody can be waiting to see any more.
    for (const [id, at] of this.writes) {
      if (now - at < WRITE_MEMORY_MS) break;
      this.writes.delete(id);
    }
  }

  /** Update-with-start `create`: returns once the intent is durable; repeating it is harmless. */
  async create(planned: SandboxInput): Promise<SandboxView> {
    const id = planned.sandboxId;
    const input: SandboxInput = { ...planned, generation: CODE_GENERATION };
    return this.write(id, () =>
      this.call(`create sandbox ${id}`, id, this.options.callTimeoutMs, () =>
        this.client.workflow.executeUpdateWithStart(createUpdate, {
          args: [{ input }],
          // Unique per request: a stable id would let the server answer a create that follows a
          // delete with the deleted run's old result (update ids are remembered past the run's end).
          // A repeated create of a live sandbox is still harmless (USE_EXISTING joins the run).
          updateId: `create/${id}/${randomUUID()}`,
          startWorkflowOperation: new WithStartWorkflowOperation(SANDBOX_WORKFLOW_TYPE, {
            workflowId: sandboxWorkflowId(id),
            taskQueue: this.options.taskQueue,
            args: [input],
            workflowIdConflictPolicy: 'USE_EXISTING',
            // What the Web UI shows for the sandbox in the workflow list and on its page: who it is
            // (the state is the SandboxState column and the status line, which change).
            staticSummary: `sandbox ${input.sandboxName || input.sandboxId}${input.workspace ? ` in ${input.workspace}` : ''}`,
            staticDetails: staticDetails(input),
            // Visible to the watch poller from the first instant, before the workflow's first task.
            typedSearchAttributes: [
              { key: SandboxState, value: 'PROVISIONING' },
              { key: SandboxWorkspace, value: input.workspace },
              { key: SandboxName, value: input.sandboxName || input.sandboxId },
              { key: SandboxChangedAt, value: new Date() },
            ],
            // Likewise its view, until the workflow publishes its own.
            memo: { view: snapshot(initialView(input, Date.now())) },
          }),
        }),
      ),
    );
  }

  /** Runs one update to completion (a transition waits its turn in the workflow). */
  async update<Ret, Args extends unknown[]>(
    sandboxId: string,
    update: UpdateDefinition<Ret, Args>,
    args: Args,
  ): Promise<Ret> {
    return this.write(sandboxId, () =>
      this.call(`${update.name} sandbox ${sandboxId}`, sandboxId, this.options.callTimeoutMs, () =>
        this.client.workflow
          .getHandle(sandboxWorkflowId(sandboxId))
          // The SDK types args per arity; ours are checked by the signature above.
          .executeUpdate(update as unknown as UpdateDefinition<Ret, [unknown]>, {
            args: args as unknown as [unknown],
          }),
      ),
    );
  }

  private async write<T>(sandboxId: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      this.noteWrite(sandboxId);
    }
  }

  /** The current view; NOT_FOUND when the workflow does not exist or completed as DELETED. */
  async view(sandboxId: string): Promise<SandboxView> {
    const view = await this.call(`get sandbox ${sandboxId}`, sandboxId, this.options.readTimeoutMs, () =>
      this.client.workflow.getHandle(sandboxWorkflowId(sandboxId)).query(viewQuery),
    );
    if (view.state === 'DELETED') throw notFound(sandboxId);
    return view;
  }

  /**
   * The view the workflow published with its latest change, read from the server's record of the
   * workflow (describe: no worker, no replay, as fresh as the last workflow task); a query only
   * for workflows that publish none. NOT_FOUND when the workflow does not exist or was deleted.
   */
  async published(sandboxId: string): Promise<SandboxView> {
    const execution = await this.describe(sandboxId);
    if (!execution || execution.deleted || execution.view?.state === 'DELETED') throw notFound(sandboxId);
    return execution.view ?? this.view(sandboxId);
  }

  /** Moves the sandbox's idle clock; `source` names who saw the use (kept for the idle reason). */
  async touch(sandboxId: string, source = 'Touch'): Promise<void> {
    await this.call(`touch sandbox ${sandboxId}`, sandboxId, this.options.readTimeoutMs, () =>
      this.client.workflow.getHandle(sandboxWorkflowId(sandboxId)).signal(touchSignal, source),
    );
  }

  /** How many sandbox workflows are running (one cheap visibility call, no memos). */
  async countRunning(): Promise<number> {
    return this.call('count sandboxes', undefined, this.options.readTimeoutMs, async () => {
      const { count } = await this.client.workflow.count(
        `WorkflowType = '${SANDBOX_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`,
      );
      return count;
    });
  }

  /** Every sandbox whose workflow is running (suspended sandboxes included), with its published view. */
  async running(): Promise<SandboxExecution[]> {
    return this.list(`ExecutionStatus = 'Running'`);
  }

  /**
   * The sandbox's workflow as the server describes it now (not visibility, which may lag);
   * undefined when it does not exist.
   */
  async describe(sandboxId: string): Promise<SandboxExecution | undefined> {
    try {
      return await this.call(
        `describe sandbox ${sandboxId}`,
        sandboxId,
        this.options.readTimeoutMs,
        async () =>
          toExecution(await this.client.workflow.getHandle(sandboxWorkflowId(sandboxId)).describe()),
      );
    } catch (err) {
      if ((err as DriverError).code === status.NOT_FOUND) return undefined;
      throw err;
    }
  }

  /** Sandboxes whose workflow changed, or closed, at or after `sinceMs`. */
  async changedSince(sinceMs: number): Promise<SandboxExecution[]> {
    const since = new Date(sinceMs).toISOString();
    return this.list(`(${SandboxChangedAt.name} >= '${since}' OR CloseTime >= '${since}')`);
  }

  /**
   * Views of many sandboxes, a few queries at a time. Gone ones are left out; ones that could not
   * be queried (no worker, timeout) are reported in `failed` so callers can decide.
   */
  async views(sandboxIds: string[], concurrency = 16): Promise<ViewsResult> {
    const result: ViewsResult = { views: [], failed: new Map() };
    let next = 0;
    const queryNext = async () => {
      while (next < sandboxIds.length) {
        const id = sandboxIds[next++];
        try {
          result.views.push(await this.view(id));
        } catch (err) {
          const driverError = err as DriverError;
          if (driverError.code !== status.NOT_FOUND) result.failed.set(id, driverError);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, sandboxIds.length) }, queryNext));
    return result;
  }

  /**
   * The views of executions as listed: the published ones as they are, the others queried.
   * One that cannot be read is in `failed`, for the caller to report or leave out, never a reason
   * to fail the others.
   */
  async viewsOf(executions: SandboxExecution[]): Promise<ViewsResult> {
    const result = await this.views(executions.filter((e) => !e.view).map((e) => e.sandboxId));
    for (const execution of executions) if (execution.view) result.views.push(execution.view);
    return result;
  }

  /**
   * Every retained sandbox's view: one paginated visibility read (published views), queries only
   * for workflows that publish none. Fails only when the list itself cannot be read, or when not
   * one view could be read because Temporal or the workers are unreachable (UNAVAILABLE: retry),
   * which an empty list would hide.
   */
  async allViews(): Promise<ViewsResult> {
    const result = await this.viewsOf(await this.running());
    const failures = [...result.failed.values()];
    if (
      result.views.length === 0 &&
      failures.length > 0 &&
      failures.every((e) => e.code === status.UNAVAILABLE)
    ) {
      throw failures[0];
    }
    return result;
  }

  /**
   * Every lifecycle event of a sandbox, across continue-as-new runs: the workflow upserts its new
   * events into its memo (with its published `view`; before, `lifecycleEvents`, and
   * `lifecycleEvent` one at a time before the operation table), so history holds all of them.
   */
  async history(sandboxId: string): Promise<LifecycleEvent[]> {
    const bySeq = new Map<number, LifecycleEvent>();
    await this.call(`history of sandbox ${sandboxId}`, sandboxId, this.options.readTimeoutMs, async () => {
      let runId: string | undefined = undefined;
      do {
        const handle = this.client.workflow.getHandle(sandboxWorkflowId(sandboxId), runId);
        const history: temporal.api.history.v1.IHistory = await handle.fetchHistory();
        runId = undefined;
        for (const event of history.events ?? ([] as HistoryEvent[])) {
          const fields = event.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields;
          const batch = fields?.lifecycleEvents ? decode(fields.lifecycleEvents) : undefined;
          const single = fields?.lifecycleEvent ? decode(fields.lifecycleEvent) : undefined;
          const published = fields?.view
            ? (decode(fields.view) as Partial<SandboxView> | undefined)
            : undefined;
          for (const recorded of [
            ...(Array.isArray(batch) ? (batch as unknown[]) : []),
            single,
            ...(Array.isArray(published?.events) ? published.events : []),
          ]) {
            if (isLifecycleEvent(recorded)) bySeq.set(recorded.seq, recorded);
          }
          const started: temporal.api.history.v1.IWorkflowExecutionStartedEventAttributes | null | undefined =
            event.workflowExecutionStartedEventAttributes;
          if (started?.continuedExecutionRunId) runId = started.continuedExecutionRunId;
        }
      } while (runId);
    });
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  private async list(filter: string): Promise<SandboxExecution[]> {
    const query = `WorkflowType = '${SANDBOX_WORKFLOW_TYPE}' AND ${filter}`;
    return this.call('list sandboxes', undefined, this.options.readTimeoutMs, async () => {
      // Continue-as-new leaves closed runs next to the running one: the running run wins.
      const byId = new Map<string, SandboxExecution>();
      for await (const info of this.client.workflow.list({ query })) {
        const execution = toExecution(info);
        if (!execution) continue;
        const seen = byId.get(execution.sandboxId);
        if (!seen || (!seen.running && (execution.running || execution.changedAtMs > seen.changedAtMs))) {
          byId.set(execution.sandboxId, execution);
        }
      }
      return [...byId.values()];
    });
  }

  private async call<T>(
    what: string,
    sandboxId: string | undefined,
    timeoutMs: number,
    fn: () => Promise<T>,
  ): Promise<T> {
    const ctx: CallContext = {
      what,
      sandboxId,
      timeoutMs,
      temporalAddress: this.options.temporalAddress,
      taskQueue: this.options.taskQueue,
    };
    try {
      return await this.client.withDeadline(Date.now() + timeoutMs, fn);
    } catch (err) {
      throw fromTemporal(err, ctx);
    }
  }
}

function toExecution(info: Omit<WorkflowExecutionInfo, 'raw'>): SandboxExecution | undefined {
  if (!info.workflowId.startsWith(SANDBOX_ID_PREFIX)) return undefined;
  const state = info.typedSearchAttributes.get(SandboxState);
  const changedAt = info.typedSearchAttributes.get(SandboxChangedAt);
  const running = info.status.name === 'RUNNING';
  return {
    sandboxId: info.workflowId.slice(SANDBOX_ID_PREFIX.length),
    running,
    deleted: info.status.name === 'COMPLETED' && state === 'DELETED',
    changedAtMs: Math.max(changedAt?.getTime() ?? 0, info.closeTime?.getTime() ?? 0),
    view: publishedViewOf(info.memo),
  };
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type Payload = temporal.api.common.v1.IPayload;

function decode(payload: Payload): unknown {
  try {
    return defaultPayloadConverter.fromPayload(payload);
  } catch {
    return undefined; // not one of ours (binary or encoded): nothing to collect
  }
}

const isLifecycleEvent = (value: unknown): value is LifecycleEvent =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as LifecycleEvent).seq === 'number' &&
  typeof (value as LifecycleEvent).reason === 'string';

/** The sandbox's identity for its Web UI page (markdown; nothing secret: the token is sealed). */
function staticDetails(input: SandboxInput): string {
  const template =
    input.template.kind === 'synthesized'
      ? `${input.template.ref.namespace}/${input.template.ref.name} (its own; ` +
        (input.template.spec.base
          ? `based on ${input.template.spec.base.name})`
          : `image ${input.template.spec.image})`)
      : `${input.template.ref.namespace}/${input.template.ref.name}`;
  return [
    `**OpenShell sandbox** ${input.sandboxName} (id \`${input.sandboxId}\`)`,
    `- workspace: ${input.workspace || '—'}`,
    `- actor: ${input.actor.atespace}/${input.actor.name}`,
    `- template: ${template}`,
    `- idle timeout: ${input.idleTimeoutMs > 0 ? `${input.idleTimeoutMs / 1000} s` : 'off'}`,
    ...(input.keepAliveMs ? [`- keep-alive after each start: ${input.keepAliveMs / 1000} s`] : []),
  ].join('\n');
}
