// Concurrent requests on one sandbox. The documented order: requests run one at a time in the
// order the workflow accepted them (FIFO); a request that arrives mid-transition waits for it and
// then runs against the new state. None is rejected for being concurrent.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { WorkflowUpdateFailedError, WorkflowUpdateStage } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Actor_Status } from '../src/gen/ateapi';
import { SUPERSEDED } from '../src/workflows/failure-types';
import {
  checkpointUpdate,
  deleteUpdate,
  holdUpdate,
  sandboxWorkflowId,
  startUpdate,
  stopUpdate,
  type SandboxState,
  type SandboxView,
} from '../src/workflows/messages';
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

type Op = 'start' | 'stop' | 'checkpoint';
const definitions = { start: startUpdate, stop: stopUpdate, checkpoint: checkpointUpdate };
const outcome: Record<Op, SandboxState> = { start: 'RUNNING', stop: 'SUSPENDED', checkpoint: 'RUNNING' };

describe('concurrent requests on one sandbox (dev server, simulator with latency)', () => {
  let stack: SandboxStack;
  // Latency scale 0.1: resumes take ~100 ms and suspends ~30-100 ms, so requests overlap them.
  before(async () => void (stack = await startSandboxStack({ server: 'dev', sim: { latencyScale: 0.1 } })));
  after(async () => stack?.teardown());

  async function running(): Promise<SandboxView> {
    const input = sandboxInput();
    await createSandbox(stack, input);
    return waitForView(stack, input.sandboxId, inState('RUNNING'), 'the sandbox to run');
  }

  /** Sends the requests in order, each accepted before the next is sent; returns their results. */
  async function sendInOrder(sandboxId: string, ops: Op[]): Promise<SandboxView[]> {
    const handle = handleOf(stack, sandboxId);
    const pending = [];
    for (const op of ops) {
      pending.push(await handle.startUpdate(definitions[op], { waitForStage: WorkflowUpdateStage.ACCEPTED }));
    }
    return Promise.all(pending.map((update) => update.result()));
  }

  async function actorStatus(view: SandboxView): Promise<Actor_Status> {
    return (await stack.ateapi.getActor(view.actor)).status;
  }

  it('runs a stop that arrives during a resume after the resume', async () => {
    const view = await running();
    await handleOf(stack, view.sandboxId).executeUpdate(stopUpdate);
    const [started, stopped] = await sendInOrder(view.sandboxId, ['start', 'stop']);
    assert.equal(started.state, 'RUNNING');
    assert.equal(stopped.state, 'SUSPENDED');
    assert.equal(await actorStatus(view), Actor_Status.STATUS_SUSPENDED);
  });

  it('runs a start that arrives during a suspend after the suspend', async () => {
    const view = await running();
    const [stopped, started] = await sendInOrder(view.sandboxId, ['stop', 'start']);
    assert.equal(stopped.state, 'SUSPENDED');
    assert.equal(started.state, 'RUNNING');
    assert.equal(await actorStatus(view), Actor_Status.STATUS_RUNNING);
  });

  it('runs a delete that arrives during the create after it, leaving nothing', async () => {
    const input = sandboxInput();
    const created = await createSandbox(stack, input);
    assert.equal(created.state, 'PROVISIONING');
    const result = await handleOf(stack, input.sandboxId).executeUpdate(deleteUpdate);
    assert.equal(result.view.state, 'DELETED');
    assert.deepEqual(
      result.view.events
        .map((event) => event.reason)
        .filter((reason) => reason === 'Running' || reason === 'Deleted'),
      ['Running', 'Deleted'],
      'the create finished before the delete ran',
    );
    await assert.rejects(stack.ateapi.getActor(input.actor), /not found/);
  });

  it('completes 20 interleaved requests in acceptance order with a consistent final state', async () => {
    const view = await running();
    // A fixed, varied sequence; checkpoint only where the sandbox will be running.
    const ops: Op[] = [];
    let state: SandboxState = 'RUNNING';
    const pattern = [1, 0, 2, 1, 1, 0, 0, 2, 2, 1, 0, 2, 1, 0, 1, 2, 0, 1, 1, 0];
    for (const pick of pattern) {
      const op: Op = pick === 2 && state === 'RUNNING' ? 'checkpoint' : pick === 1 ? 'stop' : 'start';
      ops.push(op);
      state = outcome[op];
    }
    const results = await sendInOrder(view.sandboxId, ops);
    results.forEach((result, index) =>
      assert.equal(result.state, outcome[ops[index]], `request ${index} (${ops[index]})`),
    );

    const final = await waitForView(stack, view.sandboxId, () => true, 'a view');
    assert.equal(final.state, outcome[ops[ops.length - 1]]);
    const expectedActor =
      final.state === 'RUNNING' ? Actor_Status.STATUS_RUNNING : Actor_Status.STATUS_SUSPENDED;
    assert.equal(await actorStatus(view), expectedActor);
    const checkpoints = final.events.filter((event) => event.reason === 'Checkpointed').length;
    assert.equal(checkpoints, ops.filter((op) => op === 'checkpoint').length);
  });

  /** Settles within `ms`, or fails the test saying which request never got an answer. */
  async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A sandbox whose requests reach it with its first workflow task: the workflow is started while
   * no worker polls (a worker restart; or a create that makes a deleted sandbox again while other
   * requests are on their way), so they are delivered together when a worker comes back.
   */
  async function withFirstTask<T>(send: (sandboxId: string) => T): Promise<{ sandboxId: string; sent: T }> {
    const input = sandboxInput();
    await stack.stopWorker();
    try {
      await stack.env.client.workflow.start(sandboxWorkflow, {
        workflowId: sandboxWorkflowId(input.sandboxId),
        taskQueue: stack.taskQueue,
        args: [input],
      });
      const sent = send(input.sandboxId);
      await new Promise((resolve) => setTimeout(resolve, 500)); // admitted by the server
      return { sandboxId: input.sandboxId, sent };
    } finally {
      await stack.startWorker();
    }
  }

  it('runs requests that come with the first workflow task after provisioning', async () => {
    // Before, they ran ahead of provisioning: the stop failed (no decision while PROVISIONING),
    // the sandbox went FAILED (its actor "missing"), and only then was it provisioned.
    const { sandboxId, sent } = await withFirstTask((id) => [
      handleOf(stack, id).executeUpdate(stopUpdate),
      handleOf(stack, id).executeUpdate(holdUpdate, { args: [{ reason: 'first task' }] }),
    ]);
    const [stopped, held] = await within(20_000, 'stop and hold', Promise.all(sent));
    assert.equal(stopped.state, 'SUSPENDED');
    assert.equal(held.state, 'SUSPENDED');
    assert.equal(held.hold?.reason, 'first task');
    assert.ok(
      !held.events.some((event) => event.type === 'Warning' && event.reason !== 'Held'),
      'no failure',
    );
    assert.equal(await actorStatus(held), Actor_Status.STATUS_SUSPENDED);
    await handleOf(stack, sandboxId).executeUpdate(deleteUpdate);
  });

  it('answers a delete that comes with the first workflow task, after provisioning', async () => {
    // Before, the delete ran ahead of provisioning, failed, and its caller never got an answer.
    const { sandboxId, sent } = await withFirstTask((id) => ({
      stop: handleOf(stack, id)
        .executeUpdate(stopUpdate)
        .then(
          () => undefined,
          (err: unknown) => err,
        ),
      delete: handleOf(stack, id).executeUpdate(deleteUpdate),
    }));
    const result = await within(20_000, 'delete', sent.delete);
    assert.equal(result.deleted, true);
    assert.equal(result.view.state, 'DELETED');
    const stopFailure = await sent.stop;
    assert.ok(stopFailure instanceof WorkflowUpdateFailedError, `the stop: ${String(stopFailure)}`);
    assert.ok(stopFailure.cause instanceof ApplicationFailure && stopFailure.cause.type === SUPERSEDED);
    const { status: run } = await handleOf(stack, sandboxId).describe();
    assert.equal(run.name, 'COMPLETED');
    await assert.rejects(stack.ateapi.getActor(result.view.actor), /not found/);
  });

  it('answers every caller of a delete that fails; a later delete succeeds', async () => {
    // Before, the callers of a failed delete waited until some later delete succeeded.
    const view = await running();
    stack.sim.core.faults.add({
      rpc: 'DeleteActor',
      actor: view.actor.name,
      code: status.PERMISSION_DENIED,
      message: 'injected: not allowed',
      probability: 0,
      count: 1,
      extraLatencyMs: 0,
      leaveTransitional: false,
    });
    const handle = handleOf(stack, view.sandboxId);
    const first = await handle.startUpdate(deleteUpdate, { waitForStage: WorkflowUpdateStage.ACCEPTED });
    const joined = await handle.startUpdate(deleteUpdate, { waitForStage: WorkflowUpdateStage.ACCEPTED });
    for (const update of [first, joined]) {
      await within(
        20_000,
        'the failed delete',
        assert.rejects(update.result(), (err: unknown) => {
          assert.ok(err instanceof WorkflowUpdateFailedError);
          assert.match((err.cause as Error).message, /not allowed/);
          return true;
        }),
      );
    }
    const failed = await waitForView(stack, view.sandboxId, inState('FAILED'), 'FAILED');
    assert.equal(failed.failure?.recovery, 'delete');
    const result = await within(20_000, 'the second delete', handle.executeUpdate(deleteUpdate));
    assert.equal(result.view.state, 'DELETED');
    await assert.rejects(stack.ateapi.getActor(view.actor), /not found/);
  });
});
