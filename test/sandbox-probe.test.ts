// A probe of overlapping requests (issue 15): round after round, a fresh sandbox gets a random
// burst of concurrent requests — any order, several at once, some repeated, a delete sometimes
// twice — and the state machine's promises are checked after each burst:
//   - every caller gets an answer (its view, or an ApplicationFailure with a known type) in time;
//   - after a delete the workflow is completed and its actor is gone from Substrate;
//   - otherwise the sandbox's final state is its actor's real status (FAILED only with a message
//     naming a way out), and a held sandbox never ends RUNNING.
// Real Temporal dev server, the simulator with latency (transitions take tens of ms, so requests
// overlap them). Seeded: PROBE_SEED=<n> replays a run; PROBE_BUDGET_MS bounds it (default 45 s).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import { Actor_Status } from '../src/gen/ateapi';
import { isServiceError } from '../src/substrate/errors';
import {
  CAPACITY_BUDGET_EXHAUSTED,
  OPERATION_FAILED,
  REFUSED,
  SANDBOX_DELETED,
  SUPERSEDED,
} from '../src/workflows/failure-types';
import {
  checkpointUpdate,
  createUpdate,
  deleteUpdate,
  holdUpdate,
  migrateUpdate,
  pauseUpdate,
  releaseUpdate,
  sandboxWorkflowId,
  startUpdate,
  stopUpdate,
  viewQuery,
  type DeleteResult,
  type SandboxInput,
  type SandboxView,
} from '../src/workflows/messages';
import { sandboxWorkflow } from '../src/workflows/sandbox';
import { sandboxInput, startSandboxStack, type SandboxStack } from './helpers/sandbox-env';

const KINDS = [
  'create',
  'stop',
  'start',
  'checkpoint',
  'migrate',
  'pause',
  'hold',
  'release',
  'delete',
] as const;
type Kind = (typeof KINDS)[number];

const SEED = Number(process.env.PROBE_SEED ?? Math.floor(Math.random() * 2 ** 31));
const BUDGET_MS = Number(process.env.PROBE_BUDGET_MS ?? 45_000);
const MAX_ROUNDS = Number(process.env.PROBE_ROUNDS ?? 60);
/** Every caller must have its answer this long after its request was sent. */
const ANSWER_DEADLINE_MS = 20_000;
/** The failure types a sandbox update may end with (failure-types.ts). */
const KNOWN_TYPES = new Set([
  REFUSED,
  SUPERSEDED,
  SANDBOX_DELETED,
  OPERATION_FAILED,
  CAPACITY_BUDGET_EXHAUSTED,
]);

/** mulberry32: a small seeded PRNG, so a failing round can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Request {
  kind: Kind;
  /** When it is sent, after the first create returned (ms). */
  atMs: number;
}

/** One round's burst: the first create, then 3–8 requests (some repeated, a delete sometimes twice). */
function burst(random: () => number): Request[] {
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
  const count = 3 + Math.floor(random() * 6);
  const kinds: Kind[] = [];
  for (let i = 0; i < count; i++) kinds.push(pick(KINDS.filter((kind) => kind !== 'delete')));
  if (random() < 0.5) {
    kinds.splice(Math.floor(random() * (kinds.length + 1)), 0, 'delete');
    if (random() < 0.4) kinds.splice(Math.floor(random() * (kinds.length + 1)), 0, 'delete');
  }
  if (random() < 0.3) kinds.push(pick(kinds)); // a duplicate sent right after its twin
  // Half the rounds fire everything at once (mid-provisioning); the others spread it over
  // ~400 ms, so requests also land on a running sandbox and in the middle of each other.
  const spreadMs = random() < 0.5 ? 30 : 400;
  return kinds.map((kind) => ({ kind, atMs: Math.floor(random() * spreadMs) }));
}

type Answer =
  | { kind: Kind; ok: true; value: SandboxView | DeleteResult; ms: number }
  | { kind: Kind; ok: false; error: unknown; ms: number }
  | { kind: Kind; ok: 'timeout'; ms: number };

const describeAnswer = (answer: Answer): string => {
  if (answer.ok === 'timeout') return `${answer.kind}: NO ANSWER after ${answer.ms} ms`;
  if (answer.ok) {
    const view = 'view' in answer.value ? answer.value.view : answer.value;
    return `${answer.kind}: ${view.state}${view.hold ? ' (held)' : ''} in ${answer.ms} ms`;
  }
  const cause = answer.error instanceof WorkflowUpdateFailedError ? answer.error.cause : answer.error;
  const type = cause instanceof ApplicationFailure ? cause.type : (cause as Error)?.constructor?.name;
  return `${answer.kind}: ${type}: ${(cause as Error)?.message} in ${answer.ms} ms`;
};

/** `kind: outcome` for the tally: ok, the failure type, or the error's class. */
function outcomeOf(answer: Answer): string {
  if (answer.ok === 'timeout') return `${answer.kind}:TIMEOUT`;
  if (answer.ok) return `${answer.kind}:ok`;
  const cause = answer.error instanceof WorkflowUpdateFailedError ? answer.error.cause : answer.error;
  const type = cause instanceof ApplicationFailure ? cause.type : (cause as Error)?.constructor?.name;
  return `${answer.kind}:${type}`;
}

const actorStatusNames: Partial<Record<Actor_Status, string>> = {
  [Actor_Status.STATUS_RESUMING]: 'RESUMING',
  [Actor_Status.STATUS_RUNNING]: 'RUNNING',
  [Actor_Status.STATUS_SUSPENDING]: 'SUSPENDING',
  [Actor_Status.STATUS_SUSPENDED]: 'SUSPENDED',
  [Actor_Status.STATUS_PAUSING]: 'PAUSING',
  [Actor_Status.STATUS_PAUSED]: 'PAUSED',
};

describe(`probe of overlapping requests (dev server, simulator with latency; PROBE_SEED=${SEED})`, () => {
  let stack: SandboxStack;
  // Latency ×0.05: restores take 25–75 ms, suspends 15–50 ms, a pause 8–20 ms.
  before(async () => void (stack = await startSandboxStack({ server: 'dev', sim: { latencyScale: 0.05 } })));
  after(async () => stack?.teardown());

  /** CreateSandbox as the facade sends it (update-with-start, USE_EXISTING); the run it joined. */
  async function create(input: SandboxInput): Promise<{ view: SandboxView; runId: string }> {
    const operation = new WithStartWorkflowOperation(sandboxWorkflow, {
      workflowId: sandboxWorkflowId(input.sandboxId),
      taskQueue: stack.taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    const view = await stack.env.client.workflow.executeUpdateWithStart(createUpdate, {
      args: [{ input }],
      startWorkflowOperation: operation,
    });
    const { runId } = await (await operation.workflowHandle()).describe();
    return { view, runId };
  }

  function send(input: SandboxInput, kind: Kind, random: () => number): Promise<SandboxView | DeleteResult> {
    const handle = stack.env.client.workflow.getHandle(sandboxWorkflowId(input.sandboxId));
    switch (kind) {
      case 'create':
        return create(input).then(({ view }) => view);
      case 'stop':
        return handle.executeUpdate(stopUpdate);
      case 'start':
        return handle.executeUpdate(startUpdate);
      case 'checkpoint':
        return handle.executeUpdate(checkpointUpdate);
      case 'pause':
        return handle.executeUpdate(pauseUpdate);
      case 'migrate':
        // With and without a new selector (one every worker of the default pool matches).
        return handle.executeUpdate(migrateUpdate, {
          args: [
            random() < 0.5 ? { reason: 'probe' } : { reason: 'probe', workerSelector: { tier: 'standard' } },
          ],
        });
      case 'hold':
        return handle.executeUpdate(holdUpdate, { args: [{ reason: 'probe' }] });
      case 'release':
        return handle.executeUpdate(releaseUpdate);
      case 'delete':
        return handle.executeUpdate(deleteUpdate);
    }
  }

  async function answerOf(kind: Kind, request: () => Promise<SandboxView | DeleteResult>): Promise<Answer> {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Answer>((resolve) => {
      timer = setTimeout(
        () => resolve({ kind, ok: 'timeout', ms: Date.now() - started }),
        ANSWER_DEADLINE_MS,
      );
    });
    const answered = request().then(
      (value): Answer => ({ kind, ok: true, value, ms: Date.now() - started }),
      (error: unknown): Answer => ({ kind, ok: false, error, ms: Date.now() - started }),
    );
    try {
      return await Promise.race([answered, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The actor's status, or undefined when Substrate no longer has it. */
  async function actorStatus(input: SandboxInput): Promise<string | undefined> {
    try {
      const actor = await stack.ateapi.getActor(input.actor);
      return actorStatusNames[actor.status] ?? String(actor.status);
    } catch (err) {
      if (isServiceError(err) && /not found/i.test(err.message)) return undefined;
      throw err;
    }
  }

  /**
   * The sandbox once it has settled: a resting view that its actor agrees with. The fleet
   * observer may still be reconciling right after the burst, so this polls (briefly) for
   * agreement, and returns the last pair seen when there is none.
   */
  async function settled(input: SandboxInput, runId: string) {
    const handle = stack.env.client.workflow.getHandle(sandboxWorkflowId(input.sandboxId), runId);
    const deadline = Date.now() + 5_000;
    for (;;) {
      const view = await handle.query(viewQuery);
      const actor = await actorStatus(input);
      const agrees = view.state === 'FAILED' || view.state === actor;
      if (agrees || Date.now() > deadline) return { view, actor };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The checks on one answer; returns what is wrong with it. */
  function checkAnswer(answer: Answer, deleteSent: boolean): string | undefined {
    if (answer.ok === 'timeout') return 'no answer within the deadline';
    if (answer.ok) {
      if (answer.kind === 'delete') {
        const result = answer.value as DeleteResult;
        return result.view.state === 'DELETED' ? undefined : `delete answered ${result.view.state}`;
      }
      const view = answer.value as SandboxView;
      // Each update returns the view its own operation left.
      const expected: Partial<Record<Kind, string[]>> = {
        start: ['RUNNING'],
        checkpoint: ['RUNNING'],
        pause: ['PAUSED'],
        stop: ['SUSPENDED', 'PAUSED'],
        hold: ['SUSPENDED', 'PAUSED', 'FAILED'],
      };
      const allowed = expected[answer.kind];
      if (allowed && !allowed.includes(view.state)) return `answered with state ${view.state}`;
      if (answer.kind === 'hold' && !view.hold) return 'answered without the hold';
      if (answer.kind === 'release' && view.hold) return 'answered still held';
      return undefined;
    }
    const error = answer.error;
    if (error instanceof WorkflowUpdateFailedError) {
      const cause = error.cause;
      if (!(cause instanceof ApplicationFailure))
        return `failed without an ApplicationFailure: ${String(cause)}`;
      if (!KNOWN_TYPES.has(cause.type ?? ''))
        return `failed with untyped failure ${cause.type}: ${cause.message}`;
      return undefined;
    }
    // The workflow had completed (deleted) before this request reached it.
    if (deleteSent && error instanceof WorkflowNotFoundError) return undefined;
    return `failed outside the workflow: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
  }

  /**
   * Every run of the sandbox's workflow as a readable timeline (event, update name, activity),
   * written to test-results/ so that a failed round can be read without re-running it.
   */
  async function dumpHistories(sandboxId: string, answers: string): Promise<string> {
    const lines = [answers, ''];
    for await (const run of stack.env.client.workflow.list({
      query: `WorkflowId = '${sandboxWorkflowId(sandboxId)}'`,
    })) {
      lines.push(`run ${run.runId} ${run.status.name}`);
      const history = await stack.env.client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      for (const event of history.events ?? []) {
        const type = String(event.eventType).replace('EVENT_TYPE_', '');
        const update =
          event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name ??
          event.workflowExecutionUpdateAdmittedEventAttributes?.request?.input?.name ??
          '';
        const activity = event.activityTaskScheduledEventAttributes?.activityType?.name ?? '';
        const time = event.eventTime?.seconds
          ? new Date(
              Number(event.eventTime.seconds) * 1000 + (event.eventTime.nanos ?? 0) / 1e6,
            ).toISOString()
          : '';
        lines.push(`  ${String(event.eventId)} ${time} ${type} ${update}${activity}`);
      }
    }
    const dir = join(__dirname, '..', 'test-results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `sandbox-probe-${sandboxId}.txt`);
    writeFileSync(file, lines.join('\n') + '\n');
    return file;
  }

  it('answers every caller and leaves every sandbox consistent with its actor', async (t) => {
    const random = prng(SEED);
    t.diagnostic(`PROBE_SEED=${SEED}`);
    console.log(`sandbox probe: PROBE_SEED=${SEED} (budget ${BUDGET_MS} ms, up to ${MAX_ROUNDS} rounds)`);
    const started = Date.now();
    const problems: string[] = [];
    const tally = new Map<string, number>();
    let rounds = 0;
    while (rounds < MAX_ROUNDS && Date.now() - started < BUDGET_MS && problems.length === 0) {
      rounds++;
      const input = sandboxInput({ sandboxId: `probe-${SEED}-${rounds}` });
      const requests = burst(random);
      const deleteSent = requests.some((request) => request.kind === 'delete');
      const found = problems.length;
      const wrong = (what: string) => problems.push(`round ${rounds} [${plan}]: ${what}`);
      const plan = ['create', ...requests.map((r) => `${r.kind}@${r.atMs}`)].join(' ');

      // The first create starts the workflow; the burst follows at once, overlapping provisioning.
      const first = await create(input);
      const answers = await Promise.all(
        requests.map(async ({ kind, atMs }) => {
          await new Promise((resolve) => setTimeout(resolve, atMs));
          return answerOf(kind, () => send(input, kind, random));
        }),
      );
      const log = answers.map(describeAnswer).join('; ');
      for (const answer of answers) tally.set(outcomeOf(answer), (tally.get(outcomeOf(answer)) ?? 0) + 1);
      for (const answer of answers) {
        const problem = checkAnswer(answer, deleteSent);
        if (problem) wrong(`${answer.kind}: ${problem} — answers: ${log}`);
      }

      const latest = await stack.env.client.workflow.getHandle(sandboxWorkflowId(input.sandboxId)).describe();
      const firstRun = stack.env.client.workflow.getHandle<typeof sandboxWorkflow>(
        sandboxWorkflowId(input.sandboxId),
        first.runId,
      );
      if (deleteSent) {
        const description = await firstRun.describe();
        if (description.status.name !== 'COMPLETED')
          wrong(`delete sent, but the workflow is ${description.status.name} — answers: ${log}`);
        else if ((await firstRun.result()).state !== 'DELETED')
          wrong('delete sent, but the result is not DELETED');
        if (latest.runId !== first.runId && latest.status.name === 'RUNNING') {
          // A create that arrived after the delete had completed made the sandbox again (the
          // facade's creates do the same), and the burst's later requests went to it: it must be
          // a whole sandbox too. Delete it for the check below.
          const again = await settled(input, latest.runId);
          if (again.view.state !== 'FAILED' && again.view.state !== again.actor)
            wrong(
              `re-created sandbox is ${again.view.state}, its actor ${again.actor ?? 'gone'} — answers: ${log}`,
            );
          await stack.env.client.workflow
            .getHandle(sandboxWorkflowId(input.sandboxId), latest.runId)
            .executeUpdate(deleteUpdate);
        } else if (latest.status.name !== 'COMPLETED') {
          wrong(`the latest run is ${latest.status.name} — answers: ${log}`);
        }
        const actor = await actorStatus(input);
        if (actor !== undefined) wrong(`delete sent, but the actor is still ${actor} — answers: ${log}`);
      } else {
        const { view, actor } = await settled(input, first.runId);
        const held = view.hold ? ' (held)' : '';
        if (view.state === 'FAILED') {
          if (!/start it to recover|delete it/i.test(view.failure?.message ?? ''))
            wrong(`FAILED without a way out: ${view.failure?.message}`);
        } else if (view.state !== actor) {
          wrong(`the sandbox is ${view.state}${held} but its actor ${actor ?? 'is gone'} — answers: ${log}`);
        }
        if (view.hold && (view.state === 'RUNNING' || actor === 'RUNNING'))
          wrong(`held, but ${view.state} with its actor ${actor} — answers: ${log}`);
        // Clean up (and check that a delete works from wherever the burst left it).
        const result = await firstRun.executeUpdate(deleteUpdate);
        if (result.view.state !== 'DELETED') wrong(`clean-up delete answered ${result.view.state}`);
      }
      if (problems.length > found) problems.push(`histories: ${await dumpHistories(input.sandboxId, log)}`);
    }
    const outcomes = [...tally].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`);
    console.log(`sandbox probe: ${rounds} rounds in ${Date.now() - started} ms, PROBE_SEED=${SEED}`);
    console.log(`sandbox probe: answers by outcome: ${outcomes.join(', ')}`);
    assert.deepEqual(problems, [], `PROBE_SEED=${SEED}`);
    assert.ok(rounds >= 5, `only ${rounds} rounds ran within the budget`);
  });
});
