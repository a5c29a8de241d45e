// Durability: continue-as-new keeps a sandbox whole, and a worker process killed mid-transition
// is replaced by another that completes the transition exactly once.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { status } from '@grpc/grpc-js';
import { WorkflowUpdateStage } from '@temporalio/client';
import { Actor_Status } from '../src/gen/ateapi';
import { SandboxState } from '../src/workflows/search-attributes';
import { setIdleTimeoutUpdate, startUpdate, stopUpdate, viewQuery } from '../src/workflows/messages';
import {
  createSandbox,
  handleOf,
  inState,
  sandboxInput,
  startSandboxStack,
  waitForView,
  type SandboxStack,
} from './helpers/sandbox-env';

describe('continue-as-new (dev server suggesting it every 40 events)', () => {
  let stack: SandboxStack;
  before(async () => {
    stack = await startSandboxStack({
      server: 'dev',
      devServerArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=40'],
    });
  });
  after(async () => stack?.teardown());

  it('carries state, events, the idle deadline and search attributes into the new run', async () => {
    const input = sandboxInput({ idleTimeoutMs: 60 * 60_000 });
    await createSandbox(stack, input);
    await waitForView(stack, input.sandboxId, inState('RUNNING'), 'the sandbox to run');
    const handle = handleOf(stack, input.sandboxId);
    const firstRun = (await handle.describe()).runId;
    for (let cycle = 0; cycle < 6 && (await handle.describe()).runId === firstRun; cycle++) {
      await handle.executeUpdate(stopUpdate);
      await handle.executeUpdate(startUpdate);
      await new Promise((resolve) => setTimeout(resolve, 200)); // let the loop continue as new
    }
    const latest = await handle.describe();
    assert.notEqual(latest.runId, firstRun, 'the workflow never continued as new');

    const before = await handle.query(viewQuery);
    await handle.executeUpdate(setIdleTimeoutUpdate, { args: [2 * 60 * 60_000] });
    const view = await handle.query(viewQuery);
    assert.equal(view.state, 'RUNNING');
    assert.equal(view.createdAtMs, before.createdAtMs);
    assert.ok(
      view.events.some((event) => event.reason === 'Provisioning'),
      'events from the first run were lost',
    );
    const seqs = view.events.map((event) => event.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
    );
    assert.equal(view.idleDeadlineMs, view.lastActiveAtMs + 2 * 60 * 60_000);
    assert.equal(latest.typedSearchAttributes.get(SandboxState), 'RUNNING');
    // The new run still drives the actor.
    const stopped = await handle.executeUpdate(stopUpdate);
    assert.equal(stopped.state, 'SUSPENDED');
    assert.equal((await stack.ateapi.getActor(view.actor)).status, Actor_Status.STATUS_SUSPENDED);
  });
});

describe('worker crash mid-transition (dev server, worker processes)', () => {
  let stack: SandboxStack;
  const workers: ChildProcess[] = [];
  before(async () => void (stack = await startSandboxStack({ server: 'dev', worker: false })));
  afterEach(() => workers.forEach((worker) => worker.kill('SIGKILL')));
  after(async () => stack?.teardown());

  /** A real `worker.ts` process, configured like production through the environment. */
  function spawnWorker(): ChildProcess {
    const worker = spawn(process.execPath, ['--import', 'tsx', require.resolve('../worker.ts')], {
      env: {
        ...process.env,
        ATEFLOW_TEMPORAL_ADDRESS: stack.env.address,
        ATEFLOW_TASK_QUEUE: stack.taskQueue,
        ATEFLOW_ATEAPI_ENDPOINT: stack.sim.address,
        ATEFLOW_SIM_ADMIN: stack.sim.adminAddress,
        ATEFLOW_SEALING_KEY: stack.sealingKey.toString('base64'),
        ATEFLOW_OBSERVE_INTERVAL: '500ms',
        ATEFLOW_LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    workers.push(worker);
    return worker;
  }

  it('completes a stop exactly once after the worker running it is killed', async () => {
    spawnWorker();
    const input = sandboxInput();
    await createSandbox(stack, input);
    await waitForView(stack, input.sandboxId, inState('RUNNING'), 'the sandbox to run', 60_000);

    // Make the checkpoint slow, so the worker dies while SuspendActor is in flight.
    stack.sim.core.faults.add({
      rpc: 'SuspendActor',
      actor: '',
      code: status.OK,
      message: '',
      probability: 0,
      count: 1,
      extraLatencyMs: 10_000,
      leaveTransitional: false,
    });
    const handle = handleOf(stack, input.sandboxId);
    const stop = await handle.startUpdate(stopUpdate, { waitForStage: WorkflowUpdateStage.ACCEPTED });
    await waitForView(stack, input.sandboxId, inState('SUSPENDING'), 'the stop to start');
    const crashed = workers[0];
    crashed.kill('SIGKILL');
    await once(crashed, 'exit');

    spawnWorker();
    const stopped = await stop.result(); // the retried activity finishes on the new worker
    assert.equal(stopped.state, 'SUSPENDED');
    const actors = (await stack.ateapi.listAllActors(input.actor.atespace)).filter(
      (a) => a.actorId === input.actor.name,
    );
    assert.equal(actors.length, 1, 'duplicate actors');
    assert.equal(actors[0].status, Actor_Status.STATUS_SUSPENDED);
    assert.equal(
      stopped.events.filter((event) => event.reason === 'Stopped').length,
      1,
      'the stop ran twice',
    );
  });
});
