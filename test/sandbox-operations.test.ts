// The operation table, every cell, without Temporal: what the sandbox workflow does with each
// request in each resting state (src/workflows/operations.ts draws the same table).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  decide,
  projectedHold,
  RESTING_STATES,
  TABLE,
  type Operation,
  type RestingState,
} from '../src/workflows/operations';

const ops: Record<keyof typeof TABLE, Operation> = {
  start: { kind: 'start' },
  stop: { kind: 'stop' },
  checkpoint: { kind: 'checkpoint' },
  pause: { kind: 'pause' },
  migrate: { kind: 'migrate', request: { reason: 'test' } },
  hold: { kind: 'hold', reason: 'quarantine' },
  release: { kind: 'release' },
  idleSuspend: { kind: 'idleSuspend' },
  delete: { kind: 'delete' },
};

// The verdicts for these requests without a hold (migrate has no new selector): the header's
// table with its footnotes applied.
const expected: Record<keyof typeof TABLE, Record<RestingState, string>> = {
  start: { RUNNING: 'skip', SUSPENDED: 'run', PAUSED: 'run', FAILED: 'run', DELETED: 'refuse' },
  stop: { RUNNING: 'run', SUSPENDED: 'skip', PAUSED: 'skip', FAILED: 'run', DELETED: 'refuse' },
  checkpoint: { RUNNING: 'run', SUSPENDED: 'refuse', PAUSED: 'refuse', FAILED: 'refuse', DELETED: 'refuse' },
  pause: { RUNNING: 'run', SUSPENDED: 'refuse', PAUSED: 'refuse', FAILED: 'refuse', DELETED: 'refuse' },
  migrate: { RUNNING: 'run', SUSPENDED: 'refuse', PAUSED: 'refuse', FAILED: 'refuse', DELETED: 'refuse' },
  hold: { RUNNING: 'run', SUSPENDED: 'run', PAUSED: 'run', FAILED: 'run', DELETED: 'refuse' },
  release: { RUNNING: 'skip', SUSPENDED: 'skip', PAUSED: 'skip', FAILED: 'skip', DELETED: 'refuse' },
  idleSuspend: { RUNNING: 'run', SUSPENDED: 'skip', PAUSED: 'skip', FAILED: 'skip', DELETED: 'skip' },
  delete: { RUNNING: 'run', SUSPENDED: 'run', PAUSED: 'run', FAILED: 'run', DELETED: 'skip' },
};

const facts = (state: RestingState, hold?: string) => ({ state, sandboxId: 'sb-1', hold });

describe('operation table', () => {
  for (const kind of Object.keys(ops) as (keyof typeof TABLE)[]) {
    for (const state of RESTING_STATES) {
      it(`${kind} on ${state} (no hold) → ${expected[kind][state]}`, () => {
        const verdict = decide(ops[kind], facts(state));
        assert.equal(verdict.verdict, expected[kind][state]);
        if (verdict.verdict === 'refuse') {
          assert.match(verdict.message, /sb-1/);
          assert.ok(verdict.message.length < 200);
        }
      });
    }
  }

  it('a hold refuses start in every state that would run it, and names the reason', () => {
    for (const state of ['SUSPENDED', 'PAUSED', 'FAILED'] as const) {
      const verdict = decide({ kind: 'start' }, facts(state, 'quarantine'));
      assert.deepEqual(verdict, {
        verdict: 'refuse',
        message: 'sandbox sb-1 is on hold (quarantine); release it first',
      });
    }
    assert.equal(decide({ kind: 'start' }, facts('RUNNING', 'quarantine')).verdict, 'skip');
  });

  it('release runs only while a hold is in force', () => {
    for (const state of ['RUNNING', 'SUSPENDED', 'PAUSED', 'FAILED'] as const) {
      assert.equal(decide({ kind: 'release' }, facts(state, 'x')).verdict, 'run');
    }
  });

  it('migrate of a stopped sandbox runs only with a new selector', () => {
    const withSelector: Operation = { kind: 'migrate', request: { workerSelector: { pool: 'highmem' } } };
    assert.equal(decide(withSelector, facts('SUSPENDED')).verdict, 'run');
    assert.equal(decide(withSelector, facts('PAUSED')).verdict, 'run');
    assert.equal(decide(withSelector, facts('FAILED')).verdict, 'refuse');
    const refused = decide(ops.migrate, facts('SUSPENDED'));
    assert.equal(refused.verdict, 'refuse');
    assert.match(refused.verdict === 'refuse' ? refused.message : '', /nothing to move/);
  });

  it('refusals say what to do', () => {
    const onFailed = decide(ops.checkpoint, facts('FAILED'));
    assert.match(onFailed.verdict === 'refuse' ? onFailed.message : '', /start it to recover, or delete it/);
    const onStopped = decide(ops.pause, facts('SUSPENDED'));
    assert.match(onStopped.verdict === 'refuse' ? onStopped.message : '', /start it first/);
  });

  it('provision runs unless the sandbox is deleted', () => {
    for (const state of RESTING_STATES) {
      assert.equal(decide({ kind: 'provision' }, facts(state)).verdict, state === 'DELETED' ? 'skip' : 'run');
    }
  });

  it('projects a hold over the queue', () => {
    const hold: Operation = { kind: 'hold', reason: 'q' };
    assert.equal(projectedHold(undefined, [{ kind: 'stop' }, hold]), 'q');
    assert.equal(projectedHold('q', [{ kind: 'release' }]), undefined);
    assert.equal(projectedHold(undefined, [hold, { kind: 'release' }, { kind: 'start' }]), undefined);
    assert.equal(projectedHold('old', []), 'old');
  });
});
