// The Temporal SDK's logs through ateflow's logger (src/logger.ts temporalLogger): the adapter on
// its own, and a real worker whose activity fails and is retried. This file installs its own
// Runtime logger, so it does not use test/helpers/temporal.ts (which installs a quiet one).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { Activities } from '../src/activities';
import { temporalLogger } from '../src/logger';
import { DEFAULT_TEMPLATE } from '../src/sim';
import { temporalTestServerPath } from '../src/temporal/binaries';
import { addSearchAttributes } from '../src/temporal/search-attributes';
import { RETRYABLE } from '../src/workflows/failure-types';
import { sandboxWorkflowId, type SandboxInput } from '../src/workflows/messages';
import { sandboxWorkflow } from '../src/workflows/sandbox';

/** A pino logger whose lines are kept (parsed) in `lines`. */
function capture(level: pino.Level) {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { base: pino({ level }, stream), lines, raw };
}

/** The meta the SDK's activity worker logs a failure with (worker/src/activity.ts). */
const activityFailure = (attempt: number) => ({
  sdkComponent: 'activity',
  isLocal: false,
  attempt,
  namespace: 'default',
  taskToken: 'Q2lRMk1qQTRZbVl6T1M',
  activityId: '3',
  activityType: 'resumeActor',
  taskQueue: 'sandboxes',
  workflowId: 'sandbox/sb-1',
  workflowRunId: '01a2',
  workflowType: 'sandboxWorkflow',
  durationMs: 12,
  error: ApplicationFailure.retryable('resume actor sb-1: UNAVAILABLE: atelet unreachable', RETRYABLE),
});

describe('temporalLogger: the SDK through pino', () => {
  it('logs an activity failure as one line with the attempt and the reason, no stack', () => {
    const { base, lines, raw } = capture('info');
    temporalLogger(base).warn('Activity failed', activityFailure(3));
    assert.equal(raw.length, 1);
    assert.ok(!raw[0].includes('\\n    at '), `no stack: ${raw[0]}`);
    const [line] = lines;
    assert.equal(
      line.msg,
      'activity resumeActor failed (attempt 3): resume actor sb-1: UNAVAILABLE: atelet unreachable [Retryable]',
    );
    assert.equal(line.level, 40);
    assert.equal(line.attempt, 3);
    assert.equal(line.activityType, 'resumeActor');
    assert.equal(line.workflowId, 'sandbox/sb-1');
    assert.equal(line.sdk, 'activity');
    assert.equal(line.error, 'resume actor sb-1: UNAVAILABLE: atelet unreachable [Retryable]');
    assert.equal(line.component, 'temporal');
    assert.equal(line.taskToken, undefined, 'bookkeeping only at debug');
    assert.equal(line.err, undefined);
  });

  it('adds the stack and the SDK bookkeeping at debug level', () => {
    const { base, lines } = capture('debug');
    temporalLogger(base).warn('Activity failed', activityFailure(1));
    const err = lines[0].err as { stack?: string; type?: string };
    assert.match(err.stack ?? '', /\n\s+at /);
    assert.equal(lines[0].taskToken, 'Q2lRMk1qQTRZbVl6T1M');
  });

  it("follows the base logger's level when a line is logged", () => {
    const { base, lines } = capture('info');
    const sdk = temporalLogger(base);
    sdk.info('Workflow started', { sdkComponent: 'workflow' });
    base.level = 'warn'; // as `ateflow dev` does
    sdk.info('Workflow completed', { sdkComponent: 'workflow' });
    sdk.debug('Activity started', { sdkComponent: 'activity' });
    sdk.error('Workflow task failed', { error: new Error('boom\nsecond line') });
    assert.deepEqual(
      lines.map((line) => line.msg),
      ['Workflow started', 'Workflow task failed: boom'],
    );
  });
});

describe('temporalLogger installed in the Runtime (time-skipping server, real worker)', () => {
  const { base, lines } = capture('info');
  let env: TestWorkflowEnvironment;
  before(async () => {
    Runtime.install({
      logger: temporalLogger(base),
      telemetryOptions: { logging: { forward: {}, filter: { core: 'WARN', other: 'ERROR' } } },
    });
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: temporalTestServerPath() } },
    });
    await addSearchAttributes(env.connection, env.namespace ?? 'default');
  });
  after(async () => env?.teardown());

  it('logs each failed attempt of a retried activity as one line', async () => {
    let attempts = 0;
    const activities: Partial<Activities> = {
      // Fails twice as Substrate being unreachable would, then the test is done.
      createActor: () => {
        attempts++;
        return Promise.reject(
          attempts <= 2
            ? ApplicationFailure.retryable(
                `create actor logging: UNAVAILABLE: injected ${attempts}`,
                RETRYABLE,
              )
            : ApplicationFailure.nonRetryable('stop here', 'Permanent'),
        );
      },
    };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'logging',
      workflowBundle: await bundleWorkflowCode({
        workflowsPath: require.resolve('../src/workflows'),
        logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
      }),
      activities,
    });
    const input: SandboxInput = {
      sandboxId: 'logging',
      sandboxName: 'logging',
      workspace: 'default',
      actor: { atespace: 'tests', name: 'logging' },
      template: { kind: 'existing', ref: { ...DEFAULT_TEMPLATE } },
      workerSelector: {},
      idleTimeoutMs: 0,
      labels: {},
    };
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(sandboxWorkflow, {
        workflowId: sandboxWorkflowId(input.sandboxId),
        taskQueue: 'logging',
        args: [input],
      });
      const deadline = Date.now() + 20_000;
      while (attempts < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      await handle.terminate('logging test done');
      await new Promise((resolve) => setTimeout(resolve, 300)); // forwarded logs are buffered 100 ms
    });
    const failures = lines.filter((line) => String(line.msg).startsWith('activity createActor failed'));
    assert.deepEqual(
      failures.map((line) => [line.attempt, line.msg]),
      [
        [
          1,
          'activity createActor failed (attempt 1): create actor logging: UNAVAILABLE: injected 1 [Retryable]',
        ],
        [
          2,
          'activity createActor failed (attempt 2): create actor logging: UNAVAILABLE: injected 2 [Retryable]',
        ],
        [3, 'activity createActor failed (attempt 3): stop here [Permanent, not retried]'],
      ],
    );
    assert.ok(
      failures.every((line) => line.level === 40 && line.err === undefined && line.taskToken === undefined),
    );
    assert.ok(
      lines.some((line) => line.sdk === 'workflow' && line.msg === 'creating the sandbox'),
      'workflow log.info lines come through too',
    );
  });
});
