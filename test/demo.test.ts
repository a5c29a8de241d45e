// The helpdesk story (`ateflow demo`) against `ateflow dev`'s stack with the simulator's latency
// scaled down: every step must pass. Then the stack is restarted and must find its sandboxes
// again, and a second `ateflow dev` on the same ports is refused with a one-line reason.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { DevStartError, startDevStack } from '../src/cli/dev';
import { connectFacade } from '../src/driver/client';
import { runHelpdeskDemo } from '../src/demo/helpdesk';
import type { Sandbox } from '../src/gen/ateflow';
import { unary, within } from '../src/grpc/unary';
import { gateway, gatewaySandbox } from './helpers/stack';
import { startTestDevStack, type TestDevStack } from './helpers/dev-stack';

describe('ateflow demo against ateflow dev', () => {
  let dev: TestDevStack;
  let bob = '';

  before(async () => void (dev = await startTestDevStack(0.02)));
  after(async () => dev?.teardown());

  it('runs the helpdesk story: all nine steps pass, each timed', async () => {
    const lines: string[] = [];
    const result = await runHelpdeskDemo({
      facade: dev.stack.driverSocket,
      simAdmin: dev.stack.sim.adminAddress,
      webUiUrl: dev.stack.webUiUrl,
      namespace: dev.stack.namespace,
      bobIdleTimeoutMs: 8_000, // long enough for steps 8–9 to see him running under load
      waitTimeoutMs: 20_000,
      print: (line) => lines.push(line),
    });
    console.log(lines.join('\n'));
    assert.ok(result.ok, result.steps.find((s) => !s.ok)?.error ?? 'not every step ran');
    assert.equal(result.steps.length, 9);
    assert.ok(result.steps.every((s) => s.ok && s.ms >= 0));
    assert.match(
      result.links.bob,
      new RegExp(`^${dev.stack.webUiUrl}/namespaces/default/workflows/sandbox%2F${result.bob}$`),
    );
    assert.ok(lines.some((l) => l.includes('All 9 steps passed')));
    bob = result.bob;
  });

  it('refuses a second ateflow dev on the same ports with a one-line reason', async () => {
    await assert.rejects(
      startDevStack({ config: dev.config, dataPlanePort: dev.dataPlanePort, log: () => undefined }),
      (err: Error) =>
        err instanceof DevStartError &&
        /port 127\.0\.0\.1:\d+ is already in use/.test(err.message) &&
        !err.message.includes('\n'),
    );
  });

  it('finds its sandboxes again after a restart; a running one recovers with its checkpoint', async () => {
    const facade = connectFacade(dev.stack.driverSocket);
    const gw = gateway(facade, 20_000);
    const carol = randomUUID();
    const getOps = (id: string) =>
      unary<Sandbox>((cb) => facade.ops.getSandbox({ sandboxId: id }, new Metadata(), within(10_000), cb));
    const waitRunning = async (id: string) => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const s = await getOps(id);
        if (s.state === 'RUNNING') return s;
        assert.ok(Date.now() < deadline, `carol is ${s.state} on ${s.workerPod}: ${s.detail}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      await gw.create(
        gatewaySandbox(carol, {
          name: 'carol',
          workspace: 'helpdesk',
          driverConfig: { idle_timeout: 0 },
        }),
      );
      const running = await waitRunning(carol);
      const url = `${dev.stack.sim.dataPlaneUrl}/actors/${running.atespace}/${carol}/memory/note`;
      assert.ok((await fetch(url, { method: 'PUT', body: '"kept across restarts"' })).ok);
      await unary((cb) => facade.ops.checkpoint({ sandboxId: carol }, new Metadata(), within(20_000), cb));
      const before = await getOps(carol);
      facade.close();

      await dev.restart();
      assert.ok(dev.stack.sandboxesFound >= 2, `found ${dev.stack.sandboxesFound} sandboxes`);
      const restored = dev.stack.sim.restored;
      assert.ok(restored, 'the simulator state was not reloaded');
      assert.ok(restored.reset >= 1, 'carol was running, so her actor is reset to SUSPENDED');

      const again = connectFacade(dev.stack.driverSocket);
      try {
        const listed = await gateway(again, 20_000).list();
        assert.ok(listed.some((s) => s.id === carol));
        assert.ok(
          listed.some((s) => s.id === bob),
          'bob, from the demo, is listed again',
        );
        const after = await (async () => {
          const deadline = Date.now() + 20_000;
          for (;;) {
            const s = await unary<Sandbox>((cb) =>
              again.ops.getSandbox({ sandboxId: carol }, new Metadata(), within(10_000), cb),
            );
            if (s.state === 'RUNNING' && s.workerPod !== before.workerPod) return s;
            assert.ok(Date.now() < deadline, `carol is ${s.state}: ${s.detail}`);
            await new Promise((r) => setTimeout(r, 100));
          }
        })();
        assert.equal(after.atespace, running.atespace);
        const memory = (await (await fetch(url)).json()) as { value: unknown };
        assert.equal(memory.value, 'kept across restarts');
        await gateway(again, 20_000).delete(carol);
      } finally {
        again.close();
      }
    } finally {
      facade.close();
    }
  });
});
