// `npm run record-histories`: runs representative sandbox lifecycles on the dev server and the
// simulator and writes their workflow histories to test/histories/, where test/replay.test.ts
// replays them against the current workflow code (a determinism guard). Re-record after an
// intentional, versioned change to the workflow.
import { writeFileSync } from 'node:fs';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { join } from 'node:path';
import {
  checkpointUpdate,
  deleteUpdate,
  migrateUpdate,
  pauseUpdate,
  startUpdate,
  stopUpdate,
} from '../src/workflows/messages';
import {
  createSandbox,
  handleOf,
  inState,
  sandboxInput,
  startSandboxStack,
  waitForView,
} from './helpers/sandbox-env';

async function main(): Promise<void> {
  const stack = await startSandboxStack({ server: 'dev' });
  const scenarios: Record<string, string> = {};
  try {
    // Create, stop, start, checkpoint, migrate, pause, delete.
    const full = sandboxInput({ sandboxId: 'replay-lifecycle', idleTimeoutMs: 60 * 60_000 });
    await createSandbox(stack, full);
    await waitForView(stack, full.sandboxId, inState('RUNNING'), 'running');
    const handle = handleOf(stack, full.sandboxId);
    await handle.executeUpdate(stopUpdate);
    await handle.executeUpdate(startUpdate);
    await handle.executeUpdate(checkpointUpdate);
    await handle.executeUpdate(migrateUpdate, { args: [{ reason: 'recording' }] });
    await handle.executeUpdate(pauseUpdate);
    await handle.executeUpdate(deleteUpdate);
    scenarios.lifecycle = full.sandboxId;

    // Idle suspend, then a traffic-driven resume and a pod loss seen by the fleet observer.
    const idle = sandboxInput({ sandboxId: 'replay-reconcile', idleTimeoutMs: 1_000 });
    await createSandbox(stack, idle);
    const suspended = await waitForView(stack, idle.sandboxId, inState('SUSPENDED'), 'the idle suspend');
    await fetch(
      `${stack.sim.dataPlaneUrl}/actors/${suspended.actor.atespace}/${suspended.actor.name}/counter`,
      {
        method: 'POST',
      },
    );
    const resumed = await waitForView(stack, idle.sandboxId, inState('RUNNING'), 'the traffic resume');
    stack.sim.core.killWorker(resumed.actorView!.podName);
    await waitForView(
      stack,
      idle.sandboxId,
      (v) => v.events.some((e) => e.reason === 'Recovered'),
      'recovery',
    );
    await handleOf(stack, idle.sandboxId).executeUpdate(deleteUpdate);
    scenarios.reconcile = idle.sandboxId;

    for (const [name, sandboxId] of Object.entries(scenarios)) {
      const history = await handleOf(stack, sandboxId).fetchHistory();
      const file = join(__dirname, 'histories', `sandbox-${name}.json`);
      writeFileSync(file, historyToJSON(history) + '\n');
      console.log(`wrote ${file} (${history.events?.length} events)`);
    }
  } finally {
    await stack.teardown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
