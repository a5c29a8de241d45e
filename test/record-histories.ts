// `npm run record-histories`: runs representative sandbox lifecycles on the dev server and the
// simulator and writes their workflow histories to test/histories/, where test/replay.test.ts
// replays them against the current workflow code (a determinism guard).
//
// Histories are kept per generation of the workflow code: `sandbox-<scenario>.json` were recorded
// before the operation table (they replay through src/workflows/legacy/), `-v2` after it (a marker
// per patch), `-v<n>` at code generation n (src/workflows/patches.ts CODE_GENERATION). This
// script writes only the current generation's files and never touches an earlier one's, so a
// change that breaks the histories of workflows still open keeps failing the replay test.
// After an intentional change that needs a new generation (a rewrite frozen in legacy/, or
// patches to build in), bump CODE_GENERATION and record again; after a patched() change, the current generation's files may be
// re-recorded to cover the new branch (the older ones stay and cover the old one).
//
// `tsx test/record-histories.ts [--suffix <name>] [scenario …]` records only the scenarios named,
// into `sandbox-<scenario>-v<n>[-<name>].json`: a suffix keeps a recording made with earlier code of
// this generation (e.g. `unpatched`, before a patched() change) next to the current one, so both
// branches of the patch replay.
//
// `tsx test/record-histories.ts --measure` prints, for every recorded history, the events and the
// bytes (compact JSON) that each part of the lifecycle added; no server is needed.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { WorkflowUpdateStage, type WorkflowUpdateHandle } from '@temporalio/client';

type Accepted = { waitForStage: typeof WorkflowUpdateStage.ACCEPTED };
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import {
  checkpointUpdate,
  deleteUpdate,
  holdUpdate,
  migrateUpdate,
  pauseUpdate,
  releaseUpdate,
  startUpdate,
  sandboxWorkflowId,
  stopUpdate,
} from '../src/workflows/messages';
import { CODE_GENERATION } from '../src/workflows/patches';
import { sandboxWorkflow } from '../src/workflows/sandbox';
import {
  createSandbox,
  handleOf,
  inState,
  sandboxInput,
  startSandboxStack,
  waitForView,
  type SandboxStack,
} from './helpers/sandbox-env';

/** The generation of workflow code that this script records (see the header). */
const GENERATION = `v${CODE_GENERATION}`;
const dir = join(__dirname, 'histories');

/** Each scenario runs one sandbox to its end and returns its id. */
const SCENARIOS: Record<string, (stack: SandboxStack) => Promise<string>> = {
  lifecycle,
  reconcile,
  overlap,
  'first-task': firstTask,
  'delete-failure': deleteFailure,
};

async function record(names: string[], suffix: string): Promise<void> {
  const unknown = names.filter((name) => !(name in SCENARIOS));
  if (unknown.length > 0)
    throw new Error(`unknown scenarios ${unknown.join(', ')}: ${Object.keys(SCENARIOS).join(', ')}`);
  const stack = await startSandboxStack({ server: 'dev' });
  const scenarios: Record<string, string> = {};
  try {
    for (const name of names.length > 0 ? names : Object.keys(SCENARIOS)) {
      scenarios[name] = await SCENARIOS[name](stack);
    }
    for (const [name, sandboxId] of Object.entries(scenarios)) {
      const history = await handleOf(stack, sandboxId).fetchHistory();
      const file = join(dir, `sandbox-${name}-${GENERATION}${suffix ? `-${suffix}` : ''}.json`);
      writeFileSync(file, historyToJSON(history) + '\n');
      console.log(`wrote ${file} (${history.events?.length} events)`);
    }
  } finally {
    await stack.teardown();
  }
  measure();
}

/** Create, stop, start, checkpoint, migrate, pause, hold, release, delete: one at a time. */
async function lifecycle(stack: SandboxStack): Promise<string> {
  const input = sandboxInput({ sandboxId: `replay-lifecycle-${GENERATION}`, idleTimeoutMs: 60 * 60_000 });
  await createSandbox(stack, input);
  await waitForView(stack, input.sandboxId, inState('RUNNING'), 'running');
  const handle = handleOf(stack, input.sandboxId);
  await handle.executeUpdate(stopUpdate);
  await handle.executeUpdate(startUpdate);
  await handle.executeUpdate(checkpointUpdate);
  await handle.executeUpdate(migrateUpdate, { args: [{ reason: 'recording' }] });
  await handle.executeUpdate(pauseUpdate);
  await handle.executeUpdate(holdUpdate, { args: [{ reason: 'recording' }] });
  await handle.executeUpdate(releaseUpdate);
  await handle.executeUpdate(deleteUpdate);
  return input.sandboxId;
}

/** Idle suspend, then a traffic-driven resume and a pod loss seen by the fleet observer. */
async function reconcile(stack: SandboxStack): Promise<string> {
  const input = sandboxInput({ sandboxId: `replay-reconcile-${GENERATION}`, idleTimeoutMs: 1_000 });
  await createSandbox(stack, input);
  const suspended = await waitForView(stack, input.sandboxId, inState('SUSPENDED'), 'the idle suspend');
  const { atespace, name } = suspended.actor;
  await fetch(`${stack.sim.dataPlaneUrl}/actors/${atespace}/${name}/counter`, { method: 'POST' });
  const resumed = await waitForView(stack, input.sandboxId, inState('RUNNING'), 'the traffic resume');
  stack.sim.core.killWorker(resumed.actorView!.podName);
  await waitForView(
    stack,
    input.sandboxId,
    (view) => view.events.some((event) => event.reason === 'Recovered'),
    'recovery',
  );
  await handleOf(stack, input.sandboxId).executeUpdate(deleteUpdate);
  return input.sandboxId;
}

/**
 * Requests queued behind a slow stop (the operation table decides each again at its turn): a
 * pause refused there, a hold and a release, a start and a checkpoint; then a delete that
 * supersedes a queued start.
 */
async function overlap(stack: SandboxStack): Promise<string> {
  const input = sandboxInput({ sandboxId: `replay-overlap-${GENERATION}`, idleTimeoutMs: 0 });
  await createSandbox(stack, input);
  await waitForView(stack, input.sandboxId, inState('RUNNING'), 'running');
  const handle = handleOf(stack, input.sandboxId);
  const slowSuspend = () =>
    stack.sim.core.faults.add({
      rpc: 'SuspendActor',
      actor: input.actor.name,
      code: status.OK,
      message: '',
      probability: 0,
      count: 1,
      extraLatencyMs: 500,
      leaveTransitional: false,
    });
  const accepted: WorkflowUpdateHandle<unknown>[] = [];
  const accept = async (send: (stage: Accepted) => Promise<unknown>) =>
    accepted.push(
      (await send({ waitForStage: WorkflowUpdateStage.ACCEPTED })) as WorkflowUpdateHandle<unknown>,
    );
  const settle = async (expected: string[]) => {
    const outcomes = await Promise.allSettled(accepted.splice(0).map((update) => update.result()));
    const got = outcomes.map((outcome) => outcome.status);
    if (got.join() !== expected.join()) {
      throw new Error(`overlap scenario: expected ${expected.join()}, got ${got.join()}`);
    }
  };
  slowSuspend();
  await accept((o) => handle.startUpdate(stopUpdate, o));
  await accept((o) => handle.startUpdate(pauseUpdate, o)); // refused at its turn: SUSPENDED
  await accept((o) => handle.startUpdate(holdUpdate, { ...o, args: [{ reason: 'recording' }] }));
  await accept((o) => handle.startUpdate(releaseUpdate, o));
  await accept((o) => handle.startUpdate(startUpdate, o));
  await accept((o) => handle.startUpdate(checkpointUpdate, o));
  await settle(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
  slowSuspend();
  await accept((o) => handle.startUpdate(stopUpdate, o));
  await accept((o) => handle.startUpdate(startUpdate, o)); // superseded by the delete
  await accept((o) => handle.startUpdate(deleteUpdate, o));
  await settle(['fulfilled', 'rejected', 'fulfilled']);
  return input.sandboxId;
}

/**
 * Requests delivered with the workflow's first task (started while no worker polls): a stop and
 * a hold, which queue behind provisioning (patch provision-first).
 */
async function firstTask(stack: SandboxStack): Promise<string> {
  const input = sandboxInput({ sandboxId: `replay-first-task-${GENERATION}`, idleTimeoutMs: 0 });
  const handle = handleOf(stack, input.sandboxId);
  await stack.stopWorker();
  let sent: Promise<unknown>[];
  try {
    await stack.env.client.workflow.start(sandboxWorkflow, {
      workflowId: sandboxWorkflowId(input.sandboxId),
      taskQueue: stack.taskQueue,
      args: [input],
    });
    sent = [
      handle.executeUpdate(stopUpdate),
      handle.executeUpdate(holdUpdate, { args: [{ reason: 'recording' }] }),
    ];
    await new Promise((resolve) => setTimeout(resolve, 500)); // admitted before the worker is back
  } finally {
    await stack.startWorker();
  }
  await Promise.allSettled(sent);
  await handle.executeUpdate(deleteUpdate);
  return input.sandboxId;
}

/** A delete that fails (DeleteActor refused once), then one that succeeds (patch delete-answers-failure). */
async function deleteFailure(stack: SandboxStack): Promise<string> {
  const input = sandboxInput({ sandboxId: `replay-delete-failure-${GENERATION}`, idleTimeoutMs: 0 });
  await createSandbox(stack, input);
  await waitForView(stack, input.sandboxId, inState('RUNNING'), 'running');
  stack.sim.core.faults.add({
    rpc: 'DeleteActor',
    actor: input.actor.name,
    code: status.PERMISSION_DENIED,
    message: 'injected while recording',
    probability: 0,
    count: 1,
    extraLatencyMs: 0,
    leaveTransitional: false,
  });
  const handle = handleOf(stack, input.sandboxId);
  const first = await handle.startUpdate(deleteUpdate, { waitForStage: WorkflowUpdateStage.ACCEPTED });
  await waitForView(stack, input.sandboxId, inState('FAILED'), 'the failed delete');
  await handle.executeUpdate(deleteUpdate);
  await Promise.allSettled([first.result()]);
  return input.sandboxId;
}

// ---- measuring ---------------------------------------------------------------------------------

interface HistoryEvent {
  eventId: string;
  eventType: string;
  workflowExecutionUpdateAcceptedEventAttributes?: { acceptedRequest?: { input?: { name?: string } } };
  workflowExecutionSignaledEventAttributes?: { signalName?: string };
  timerFiredEventAttributes?: unknown;
}

export interface Part {
  /** What started it: `create` (the workflow's start), an update's name, `signal:<name>` or `timer`. */
  part: string;
  events: number;
  /** Compact JSON bytes of its events. */
  bytes: number;
}

/**
 * Splits a history into the parts its requests caused: each part begins with the workflow task
 * that delivered an update, a signal or a timer, and ends where the next one begins.
 */
export function historyParts(events: HistoryEvent[]): Part[] {
  const parts: Part[] = [];
  let current: Part = { part: 'create', events: 0, bytes: 0 };
  let pending: HistoryEvent[] = []; // events since the last workflow task was scheduled
  const flush = (into: Part, list: HistoryEvent[]) => {
    for (const event of list) {
      into.events++;
      into.bytes += Buffer.byteLength(JSON.stringify(event));
    }
  };
  for (const event of events) {
    const type = event.eventType.replace('EVENT_TYPE_', '');
    if (type === 'WORKFLOW_TASK_SCHEDULED') {
      flush(current, pending);
      pending = [];
    }
    pending.push(event);
    const trigger =
      type === 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED'
        ? event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name
        : type === 'WORKFLOW_EXECUTION_SIGNALED'
          ? `signal:${event.workflowExecutionSignaledEventAttributes?.signalName}`
          : type === 'TIMER_FIRED'
            ? 'timer'
            : undefined;
    // The create arrives with the start (update-with-start): it is part of the first part.
    if (trigger && !(trigger === 'create' && current.part === 'create')) {
      parts.push(current);
      current = { part: trigger, events: 0, bytes: 0 };
    }
  }
  flush(current, pending);
  parts.push(current);
  return parts.filter((part) => part.events > 0);
}

/** Prints the parts of every recorded history. */
function measure(): void {
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.json'))) {
    const { events } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { events: HistoryEvent[] };
    const parts = historyParts(events);
    const total = parts.reduce(
      (sum, part) => ({ events: sum.events + part.events, bytes: sum.bytes + part.bytes }),
      {
        events: 0,
        bytes: 0,
      },
    );
    console.log(`\n${file}: ${total.events} events, ${total.bytes} bytes`);
    for (const part of parts)
      console.log(
        `  ${part.part.padEnd(22)} ${String(part.events).padStart(4)} events ${String(part.bytes).padStart(7)} bytes`,
      );
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const suffixAt = args.indexOf('--suffix');
  const suffix = suffixAt >= 0 ? args.splice(suffixAt, 2)[1] : '';
  const run = args.includes('--measure') ? Promise.resolve(measure()) : record(args, suffix);
  run.catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
