// Singleton workflow (id `ateflow/fleet-observer`) that keeps the fleet observer activity running
// on some worker. Workers start it on boot; USE_EXISTING makes that idempotent.
import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';

export const FLEET_OBSERVER_WORKFLOW_ID = 'ateflow/fleet-observer';

export async function fleetObserverWorkflow(intervalMs: number): Promise<void> {
  const runForMs = 10 * 60_000;
  const { observeFleet } = proxyActivities<Activities>({
    startToCloseTimeout: runForMs + 60_000,
    heartbeatTimeout: Math.max(10_000, intervalMs * 5),
    retry: { initialInterval: '1s', maximumInterval: '10s' },
  });
  while (!workflowInfo().continueAsNewSuggested) {
    await observeFleet(intervalMs, runForMs);
  }
  await continueAsNew<typeof fleetObserverWorkflow>(intervalMs);
}
