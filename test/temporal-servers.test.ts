// Proof that both offline Temporal servers start from our binaries and behave as the suite needs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startDevServer, startTimeSkippingServer, workflowBundle } from './helpers/temporal';
import { sleepADay, upsertState, finish } from './fixtures/proof-workflows';

const workflowsPath = require.resolve('./fixtures/proof-workflows');

async function withWorker<T>(
  env: TestWorkflowEnvironment,
  fn: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const taskQueue = `proof-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace,
    taskQueue,
    workflowBundle: await workflowBundle(workflowsPath),
  });
  return worker.runUntil(fn(taskQueue));
}

describe('time-skipping server', () => {
  let env: TestWorkflowEnvironment;
  before(async () => void (env = await startTimeSkippingServer()));
  after(async () => env?.teardown());

  it('completes a workflow that sleeps a day without waiting a day', async (t) => {
    await withWorker(env, async (taskQueue) => {
      const started = performance.now();
      const workflowElapsedMs = await env.client.workflow.execute(sleepADay, {
        taskQueue,
        workflowId: randomUUID(),
      });
      const realElapsedMs = performance.now() - started;
      t.diagnostic(`a day of workflow time took ${realElapsedMs.toFixed(0)} ms of real time`);
      assert.ok(workflowElapsedMs >= 24 * 3600_000, `workflow clock advanced only ${workflowElapsedMs} ms`);
      // Far below a day: the timer was skipped, not slept. (Speed itself is measured in bench/.)
      assert.ok(realElapsedMs < 60_000, `real time ${realElapsedMs} ms`);
    });
  });
});

describe('dev server', () => {
  let env: TestWorkflowEnvironment;
  before(async () => void (env = await startDevServer()));
  after(async () => env?.teardown());

  it('finds a workflow by a custom search attribute it upserted', async () => {
    await withWorker(env, async (taskQueue) => {
      const state = `PROOF_${randomUUID().slice(0, 8)}`;
      const handle = await env.client.workflow.start(upsertState, {
        taskQueue,
        workflowId: `proof/${state}`,
        args: [state],
      });
      // Visibility is eventually consistent: poll briefly.
      let found: string[] = [];
      for (let attempt = 0; attempt < 100 && found.length === 0; attempt++) {
        found = [];
        for await (const wf of env.client.workflow.list({ query: `SandboxState = "${state}"` })) {
          found.push(wf.workflowId);
        }
        if (found.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(found, [handle.workflowId]);
      await handle.signal(finish);
      await handle.result();
    });
  });
});
