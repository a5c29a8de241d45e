// Faults, capacity and deletion from every state, against the dev server and the simulator.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { Actor_Status } from '../src/gen/ateapi';
import { sealToken } from '../src/sealing';
import { OWNER_ANNOTATION } from '../src/substrate/template-store';
import {
  deleteUpdate,
  migrateUpdate,
  pauseUpdate,
  startUpdate,
  stopUpdate,
  type SandboxInput,
  type SandboxView,
} from '../src/workflows/messages';
import {
  clusterWithPools,
  createSandbox,
  handleOf,
  inState,
  sandboxInput,
  startSandboxStack,
  waitForView,
  type SandboxStack,
} from './helpers/sandbox-env';

/** One pool of two workers, so that capacity runs out quickly. */
const cluster = clusterWithPools({ small: 2 });

describe('sandbox resilience (dev server, simulator)', () => {
  let stack: SandboxStack;
  before(async () => void (stack = await startSandboxStack({ server: 'dev', sim: { cluster } })));
  after(async () => stack?.teardown());

  const injectFault = (
    rpc: string,
    code: status,
    count: number,
    extra: Partial<{ leaveTransitional: boolean }> = {},
  ) =>
    stack.sim.core.faults.add({
      rpc,
      actor: '',
      code,
      message: `injected ${status[code]}`,
      probability: 0,
      count,
      extraLatencyMs: 0,
      leaveTransitional: extra.leaveTransitional ?? false,
    });

  async function create(input: SandboxInput = sandboxInput()): Promise<SandboxView> {
    await createSandbox(stack, input);
    return waitForView(
      stack,
      input.sandboxId,
      (v) => v.state === 'RUNNING' || v.state === 'FAILED',
      'a settled create',
    );
  }
  const remove = (view: SandboxView) => handleOf(stack, view.sandboxId).executeUpdate(deleteUpdate);

  for (const code of [status.ABORTED, status.UNAVAILABLE, status.DEADLINE_EXCEEDED]) {
    it(`retries ${status[code]} on every activity's RPC to success`, async () => {
      const rpcs = [
        'CreateAtespace',
        'CreateActor',
        'ResumeActor',
        'SuspendActor',
        'UpdateActor',
        'PauseActor',
        'GetActor',
        'DeleteActor',
      ];
      for (const rpc of rpcs) injectFault(rpc, code, 1);
      const view = await create();
      assert.equal(view.state, 'RUNNING', view.detail);
      const handle = handleOf(stack, view.sandboxId);
      assert.equal((await handle.executeUpdate(stopUpdate)).state, 'SUSPENDED');
      assert.equal((await handle.executeUpdate(startUpdate)).state, 'RUNNING');
      const moved = await handle.executeUpdate(migrateUpdate, {
        args: [{ workerSelector: { pool: 'small' } }],
      });
      assert.equal(moved.state, 'RUNNING');
      assert.equal((await handle.executeUpdate(pauseUpdate)).state, 'PAUSED');
      const result = await remove(view);
      assert.equal(result.deleted, true);
      for (const fault of stack.sim.core.faults.list())
        assert.equal(fault.count, 0, `${fault.rpc} fault not consumed`);
      stack.sim.core.faults.clear();
    });
  }

  it('completes a transitional state left by a failed call', async () => {
    injectFault('ResumeActor', status.UNAVAILABLE, 1, { leaveTransitional: true });
    const view = await create();
    assert.equal(view.state, 'RUNNING');
    assert.equal((await stack.ateapi.getActor(view.actor)).status, Actor_Status.STATUS_RUNNING);
    injectFault('SuspendActor', status.DEADLINE_EXCEEDED, 1, { leaveTransitional: true });
    const stopped = await handleOf(stack, view.sandboxId).executeUpdate(stopUpdate);
    assert.equal(stopped.state, 'SUSPENDED');
    assert.equal((await stack.ateapi.getActor(view.actor)).status, Actor_Status.STATUS_SUSPENDED);
    await remove(view);
  });

  it('waits for a free worker, then runs when one frees up', async () => {
    const [a, b] = [await create(), await create()]; // the pool's two workers are now busy
    const waiting = sandboxInput();
    await createSandbox(stack, waiting);
    const blocked = await waitForView(
      stack,
      waiting.sandboxId,
      (v) => v.waitingForCapacity,
      'a capacity wait',
    );
    assert.equal(blocked.state, 'PROVISIONING');
    assert.ok(blocked.events.some((event) => event.reason === 'WaitingForCapacity'));
    await handleOf(stack, a.sandboxId).executeUpdate(stopUpdate);
    const running = await waitForView(
      stack,
      waiting.sandboxId,
      inState('RUNNING'),
      'the waiting sandbox to run',
    );
    assert.equal(running.waitingForCapacity, false);
    for (const view of [a, b, running]) await remove(view);
  });

  it('fails with a clear reason when no worker frees up within the budget', async () => {
    const busy = [await create(), await create()];
    const starved = sandboxInput({ limits: { capacityBudgetMs: 2_500 } });
    const view = await create(starved);
    assert.equal(view.state, 'FAILED');
    assert.match(view.failure?.message ?? '', /no free Substrate worker .* add workers or free some/);
    // FAILED is not a dead end: once capacity exists, start retries; delete always works.
    await handleOf(stack, busy[0].sandboxId).executeUpdate(stopUpdate);
    const started = await handleOf(stack, view.sandboxId).executeUpdate(startUpdate);
    assert.equal(started.state, 'RUNNING');
    for (const sandbox of [...busy, started]) await remove(sandbox);
  });

  it('deletes from every state and leaves no actor, template or secret it owns', async () => {
    const suffix = () => Math.random().toString(36).slice(2, 8);
    const synthesized = (): SandboxInput => {
      const input = sandboxInput({ sandboxId: `syn-${suffix()}` });
      return {
        ...input,
        template: {
          kind: 'synthesized',
          ref: { namespace: 'default', name: `oshl-${input.sandboxId}` },
          spec: {
            image: `workload@sha256:${'2'.repeat(64)}`,
            environment: { GREETING: 'hi' },
            command: ['/bin/bash', '-l'],
            tty: true,
            logLevel: 'info',
            sealedToken: sealToken('token-of-' + input.sandboxId, stack.sealingKey),
          },
        },
      };
    };

    const running = await create(synthesized());
    const template = await stack.templates.get(running.template);
    assert.equal(template?.metadata.annotations?.[OWNER_ANNOTATION], `sandbox/${running.sandboxId}`);
    const env = template?.spec.containers[0].env ?? [];
    assert.ok(env.some((e) => e.name === 'OPENSHELL_SANDBOX_ID' && e.value === running.sandboxId));
    assert.ok(!JSON.stringify(template).includes('token-of-'), 'the raw token leaked into the template');
    assert.ok(!JSON.stringify(running).includes('token-of-'), 'the raw token leaked into the workflow view');

    const suspended = await create(synthesized());
    await handleOf(stack, suspended.sandboxId).executeUpdate(stopUpdate);

    const resuming = await create();
    await handleOf(stack, resuming.sandboxId).executeUpdate(stopUpdate);
    injectFault('ResumeActor', status.FAILED_PRECONDITION, 1, { leaveTransitional: true });
    await handleOf(stack, resuming.sandboxId)
      .executeUpdate(startUpdate)
      .catch(() => undefined);
    const failed = await waitForView(stack, resuming.sandboxId, inState('FAILED'), 'the failed start');
    assert.equal((await stack.ateapi.getActor(failed.actor)).status, Actor_Status.STATUS_RESUMING);

    const goldenActors = new Map<string, string>();
    for (const view of [running, suspended]) {
      const golden = (await stack.templates.get(view.template))?.status?.goldenActorID;
      assert.ok(golden, `no golden actor recorded for ${view.template.name}`);
      goldenActors.set(view.sandboxId, golden);
    }

    for (const view of [running, suspended, failed]) {
      const result = await remove(view);
      assert.equal(result.deleted, true, `delete from ${view.state}`);
      assert.equal(result.view.state, 'DELETED');
      await assert.rejects(
        stack.ateapi.getActor(view.actor),
        /not found/,
        `actor left after delete from ${view.state}`,
      );
      if (view.templateOwned) {
        assert.equal(await stack.templates.get(view.template), null, 'template left behind');
        const secret = stack.sim.core.cluster.secretValue(
          'default',
          `${view.template.name}-token`,
          'sandbox.jwt',
        );
        assert.deepEqual(secret, { missing: 'secret' }, 'token secret left behind');
        const golden = { atespace: 'ate-golden', name: goldenActors.get(view.sandboxId)! };
        await assert.rejects(stack.ateapi.getActor(golden), /not found/, 'golden actor left behind');
      }
    }
  });

  it('deletes mid-create without leaving anything behind', async () => {
    const busy = [await create(), await create()];
    const input = sandboxInput();
    await createSandbox(stack, input);
    await waitForView(stack, input.sandboxId, (v) => v.waitingForCapacity, 'a capacity wait');
    const result = await handleOf(stack, input.sandboxId).executeUpdate(deleteUpdate);
    assert.equal(result.view.state, 'DELETED');
    await assert.rejects(stack.ateapi.getActor(input.actor), /not found/);
    for (const view of busy) await remove(view);
  });

  it('keeps a template it does not own', async () => {
    const view = await create(); // the pre-provisioned default/sandbox template
    await remove(view);
    assert.ok(await stack.templates.get(view.template), 'a pre-provisioned template was deleted');
  });
});
