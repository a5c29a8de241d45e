// Idle auto-suspend, proven on the time-skipping server with the real worker and simulator.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setIdleTimeoutUpdate, startUpdate, touchSignal, type SandboxView } from '../src/workflows/messages';
import {
  createSandbox,
  handleOf,
  inState,
  sandboxInput,
  startSandboxStack,
  waitForView,
  type SandboxStack,
} from './helpers/sandbox-env';

const MINUTE = 60_000;

describe('idle auto-suspend (time-skipping)', () => {
  let stack: SandboxStack;
  before(async () => void (stack = await startSandboxStack({ server: 'time-skipping' })));
  after(async () => stack?.teardown());

  async function runningSandbox(idleTimeoutMs: number): Promise<SandboxView> {
    const input = sandboxInput({ idleTimeoutMs });
    await createSandbox(stack, input);
    return waitForView(stack, input.sandboxId, inState('RUNNING'), 'the sandbox to run');
  }

  const idleSuspension = (view: SandboxView) => view.events.find((event) => event.reason === 'IdleSuspended');

  /** When (server time) the sandbox's last timer fired: the moment the idle suspend was decided. */
  async function lastTimerFiredMs(sandboxId: string): Promise<number> {
    const events = (await handleOf(stack, sandboxId).fetchHistory()).events ?? [];
    const fired = events.filter((event) => event.timerFiredEventAttributes).pop();
    assert.ok(fired?.eventTime, 'no timer fired');
    return Number(fired.eventTime.seconds) * 1000 + Math.floor((fired.eventTime.nanos ?? 0) / 1e6);
  }

  it('suspends within a second of exactly idleTimeout without activity', async () => {
    const running = await runningSandbox(10 * MINUTE);
    // A wide margin: the server clock also runs in real time between our calls.
    await stack.env.sleep(10 * MINUTE - 30_000);
    const before = await waitForView(stack, running.sandboxId, () => true, 'a view');
    assert.equal(before.state, 'RUNNING', 'suspended before the idle timeout');

    await stack.env.sleep(60_000);
    const suspended = await waitForView(stack, running.sandboxId, inState('SUSPENDED'), 'the idle suspend');
    assert.ok(idleSuspension(suspended), 'no IdleSuspended event');
    const idleFor = (await lastTimerFiredMs(running.sandboxId)) - running.lastActiveAtMs;
    assert.ok(idleFor >= 10 * MINUTE && idleFor < 10 * MINUTE + 1_000, `suspended after ${idleFor} ms`);
    assert.equal((await stack.ateapi.getActor(running.actor)).status, 4 /* STATUS_SUSPENDED */);
  });

  it('postpones the suspend when touched', async () => {
    const running = await runningSandbox(10 * MINUTE);
    const handle = handleOf(stack, running.sandboxId);
    await stack.env.sleep(6 * MINUTE);
    await handle.signal(touchSignal);
    await stack.env.sleep(6 * MINUTE); // 12 min since start, 6 since the touch
    assert.equal((await waitForView(stack, running.sandboxId, () => true, 'a view')).state, 'RUNNING');
    await stack.env.sleep(5 * MINUTE);
    const suspended = await waitForView(stack, running.sandboxId, inState('SUSPENDED'), 'the idle suspend');
    assert.ok(idleSuspension(suspended), 'no IdleSuspended event');
    const idleFor = (await lastTimerFiredMs(running.sandboxId)) - suspended.lastActiveAtMs;
    assert.ok(idleFor >= 10 * MINUTE && idleFor < 10 * MINUTE + 1_000, `suspended after ${idleFor} ms idle`);
  });

  // Every signal of use reaches the workflow as a touch naming its source (the facade's gateway
  // usage stream, the ops API's Touch): the idle logic is the same, and the reason names the last.
  for (const source of ['exec/SSH/port-forward through the gateway', undefined]) {
    it(`keeps a sandbox used just before its deadline (${source ?? 'Touch'}), then names it when idle`, async () => {
      const running = await runningSandbox(10 * MINUTE);
      const handle = handleOf(stack, running.sandboxId);
      await stack.env.sleep(10 * MINUTE - 30_000); // just before the deadline
      await (source === undefined ? handle.signal(touchSignal) : handle.signal(touchSignal, source));
      await stack.env.sleep(9 * MINUTE); // past the first deadline, before the new one
      assert.equal((await waitForView(stack, running.sandboxId, () => true, 'a view')).state, 'RUNNING');
      await stack.env.sleep(2 * MINUTE);
      const suspended = await waitForView(stack, running.sandboxId, inState('SUSPENDED'), 'the idle suspend');
      const idleFor = (await lastTimerFiredMs(running.sandboxId)) - suspended.lastActiveAtMs;
      assert.ok(
        idleFor >= 10 * MINUTE && idleFor < 10 * MINUTE + 1_000,
        `suspended after ${idleFor} ms idle`,
      );
      const reason = idleSuspension(suspended)?.message ?? '';
      assert.match(
        reason,
        /^no activity from exec\/SSH\/port-forward through the gateway, data-plane traffic or Touch since /,
      );
      assert.match(
        reason,
        new RegExp(`last: ${(source ?? 'Touch').replace(/[/]/g, '\\/')}; idle timeout 600 s`),
      );
    });
  }

  it('holds off the idle timer for the keep-alive window after create and after each start', async () => {
    const input = sandboxInput({ idleTimeoutMs: 2 * MINUTE, keepAliveMs: 15 * MINUTE });
    await createSandbox(stack, input);
    const running = await waitForView(stack, input.sandboxId, inState('RUNNING'), 'the sandbox to run');
    await stack.env.sleep(14 * MINUTE); // unused, far past the idle timeout, inside the window
    assert.equal((await waitForView(stack, input.sandboxId, () => true, 'a view')).state, 'RUNNING');
    await stack.env.sleep(2 * MINUTE);
    const suspended = await waitForView(stack, input.sandboxId, inState('SUSPENDED'), 'the idle suspend');
    const after = (await lastTimerFiredMs(input.sandboxId)) - running.lastActiveAtMs;
    assert.ok(after >= 15 * MINUTE && after < 15 * MINUTE + 1_000, `suspended ${after} ms after the start`);
    assert.ok(idleSuspension(suspended));

    // A start opens a new window.
    await handleOf(stack, input.sandboxId).executeUpdate(startUpdate);
    await stack.env.sleep(10 * MINUTE);
    assert.equal((await waitForView(stack, input.sandboxId, () => true, 'a view')).state, 'RUNNING');
    await stack.env.sleep(6 * MINUTE);
    await waitForView(stack, input.sandboxId, inState('SUSPENDED'), 'the idle suspend after the start');
  });

  it('never suspends with timeout 0', async () => {
    const running = await runningSandbox(0);
    await stack.env.sleep(30 * 24 * 60 * MINUTE);
    const view = await waitForView(stack, running.sandboxId, () => true, 'a view');
    assert.equal(view.state, 'RUNNING');
    assert.equal(view.idleDeadlineMs, 0);
  });

  it('applies a new timeout at once', async () => {
    const running = await runningSandbox(60 * MINUTE);
    const handle = handleOf(stack, running.sandboxId);
    await stack.env.sleep(10 * MINUTE);
    // Already idle for 10 minutes: a 5-minute timeout suspends now, not 5 minutes from now.
    await handle.executeUpdate(setIdleTimeoutUpdate, { args: [5 * MINUTE] });
    const suspended = await waitForView(stack, running.sandboxId, inState('SUSPENDED'), 'the suspend');
    assert.ok(idleSuspension(suspended));

    const other = await runningSandbox(0);
    await handleOf(stack, other.sandboxId).executeUpdate(setIdleTimeoutUpdate, { args: [2 * MINUTE] });
    const armed = await waitForView(stack, other.sandboxId, () => true, 'a view');
    assert.equal(armed.idleDeadlineMs, armed.lastActiveAtMs + 2 * MINUTE);
    await stack.env.sleep(2 * MINUTE + 1_000);
    await waitForView(stack, other.sandboxId, inState('SUSPENDED'), 'the suspend after the new timeout');
  });

  it('adds no history events while a running sandbox idles, beyond its one timer', async () => {
    const running = await runningSandbox(24 * 60 * MINUTE);
    const handle = handleOf(stack, running.sandboxId);
    // Count from the moment the idle timer is in history (the task arming it may still be in flight).
    let eventsBefore = (await handle.fetchHistory()).events ?? [];
    while (!eventsBefore.some((event) => event.timerStartedEventAttributes)) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      eventsBefore = (await handle.fetchHistory()).events ?? [];
    }
    await stack.env.sleep(3 * 60 * MINUTE);
    const eventsAfter = (await handle.fetchHistory()).events ?? [];
    assert.equal(eventsAfter.length, eventsBefore.length, 'three idle hours added history events');
    const timers = eventsAfter.filter((event) => event.timerStartedEventAttributes).length;
    assert.equal(timers, 1, 'expected exactly one idle timer');
  });
});
