// ateflow.v1 Operations over the facade's socket: hold/release against StartSandbox, checkpoint,
// migrate, idle timeout, touch, history from the workflow history, lifecycle event watch, drain.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Metadata, status, type ClientReadableStream } from '@grpc/grpc-js';
import { unary, within } from '../src/grpc/unary';
import type { DrainProgress, HistoryResponse, Sandbox, SandboxEvent } from '../src/gen/ateflow';
import { assertStatus } from './helpers/sim';
import {
  gateway,
  gatewaySandbox,
  snapshotOf,
  startFacadeStack,
  WatchRecorder,
  type FacadeStack,
} from './helpers/stack';

const collect = <T>(stream: ClientReadableStream<T>) =>
  new Promise<T[]>((done, fail) => {
    const items: T[] = [];
    stream.on('data', (item: T) => items.push(item));
    stream.on('end', () => done(items));
    stream.on('error', fail);
  });

describe('ateflow operations API', () => {
  let f: FacadeStack;
  let ops: FacadeStack['client']['ops'];
  const id = randomUUID();
  const call = <T>(method: 'getSandbox' | 'checkpoint' | 'release' | 'touch' | 'history', sandboxId = id) =>
    unary<T>((cb) =>
      (ops[method] as (r: object, m: Metadata, o: object, c: typeof cb) => void)(
        { sandboxId },
        new Metadata(),
        within(30_000),
        cb,
      ),
    );

  before(async () => {
    f = await startFacadeStack();
    ops = f.client.ops;
    const watch = new WatchRecorder(f.client);
    await gateway(f.client).create(gatewaySandbox(id));
    await watch.waitFor(
      snapshotOf(id, (c) => c.includes('Ready=True/ActorRunning')),
      'running',
    );
    watch.close();
  });
  after(async () => f?.teardown());

  it('reports the sandbox in its own terms', async () => {
    const sandbox = await call<Sandbox>('getSandbox');
    assert.equal(sandbox.state, 'RUNNING');
    assert.equal(sandbox.actor, id);
    assert.notEqual(sandbox.workerPod, '');
    await assertStatus(call('getSandbox', randomUUID()), status.NOT_FOUND, /not found/);
  });

  it('holds a sandbox: stopped, StartSandbox refused until release', async () => {
    const held = await unary<Sandbox>((cb) =>
      ops.hold({ sandboxId: id, reason: 'quarantine' }, new Metadata(), within(30_000), cb),
    );
    assert.equal(held.state, 'SUSPENDED');
    assert.equal(held.hold?.reason, 'quarantine');
    await assertStatus(
      gateway(f.client).start(id),
      status.FAILED_PRECONDITION,
      /on hold \(quarantine\); release it first/,
    );
    await call<Sandbox>('release');
    await gateway(f.client).start(id);
    assert.equal((await call<Sandbox>('getSandbox')).state, 'RUNNING');
  });

  it('checkpoints and keeps running; sets the idle timeout; touches', async () => {
    const checkpointed = await call<Sandbox>('checkpoint');
    assert.equal(checkpointed.state, 'RUNNING');
    const timed = await unary<Sandbox>((cb) =>
      ops.setIdleTimeout({ sandboxId: id, idleTimeoutMs: 3_600_000 }, new Metadata(), within(30_000), cb),
    );
    assert.equal(timed.idleTimeoutMs, 3_600_000);
    assert.ok(timed.idleDeadlineMs > Date.now());
    await call('touch');
  });

  it('migrates, streaming lifecycle events to a watcher', async () => {
    const events: SandboxEvent[] = [];
    const stream = ops.watchEvents({ sandboxId: id });
    stream.on('data', (e: SandboxEvent) => events.push(e));
    stream.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 300)); // subscribed before the migration starts
    const before = await call<Sandbox>('getSandbox');
    const moved = await unary<Sandbox>((cb) =>
      ops.migrate(
        { sandboxId: id, workerSelector: {}, replaceSelector: false, reason: 'test' },
        new Metadata(),
        within(30_000),
        cb,
      ),
    );
    assert.equal(moved.state, 'RUNNING');
    assert.notEqual(moved.workerPod, before.workerPod);
    const deadline = Date.now() + 20_000;
    while (!events.some((e) => e.reason === 'Migrated') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    stream.cancel();
    assert.ok(
      events.some((e) => e.reason === 'Migrated'),
      events.map((e) => e.reason).join(','),
    );
    assert.ok(events.every((e) => e.sandboxId === id));
  });

  it('refuses a migrate or drain selector that names no known pool, before anything is recorded', async () => {
    const before = await call<Sandbox>('getSandbox');
    const { events: recorded } = await call<HistoryResponse>('history');
    await assertStatus(
      unary<Sandbox>((cb) =>
        ops.migrate(
          { sandboxId: id, workerSelector: { pool: 'nonexistent' }, replaceSelector: false, reason: 'test' },
          new Metadata(),
          within(30_000),
          cb,
        ),
      ),
      status.FAILED_PRECONDITION,
      /no worker pool nonexistent \(worker selector pool=nonexistent\); the pools are: default\. Nothing was changed/,
    );
    await assertStatus(
      collect(
        ops.drain({
          node: 'sim-node-1',
          workerSelector: { pool: 'nonexistent' },
          reason: '',
          parallelism: 0,
        }),
      ),
      status.FAILED_PRECONDITION,
      /drain node sim-node-1: no worker pool nonexistent .*the pools are: default/,
    );
    const after = await call<Sandbox>('getSandbox');
    assert.equal(after.state, 'RUNNING');
    assert.equal(after.workerPod, before.workerPod);
    assert.deepEqual(after.workerSelector, before.workerSelector);
    assert.equal((await call<HistoryResponse>('history')).events.length, recorded.length, 'nothing recorded');
  });

  it('returns the full history, in order', async () => {
    const { events } = await call<HistoryResponse>('history');
    const seqs = events.map((e) => e.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
    );
    const reasons = events.map((e) => e.reason);
    for (const reason of ['Migrated']) assert.ok(reasons.includes(reason), reasons.join(','));
    assert.ok(events.length >= 5, `${events.length} events`);
  });

  it('drains a worker pool: every sandbox on it is migrated', async () => {
    const pool = (await call<Sandbox>('getSandbox')).workerPool;
    const progress = await collect<DrainProgress>(
      ops.drain({ workerPool: pool, workerSelector: {}, reason: 'test drain', parallelism: 2 }),
    );
    const mine = progress.find((p) => p.sandboxId === id);
    assert.ok(mine, 'the sandbox was on the drained pool');
    assert.equal(mine.total, progress.length);
    assert.notEqual(mine.toPod, mine.fromPod);
    await assertStatus(
      collect(ops.drain({ workerSelector: {}, reason: '', parallelism: 0 })),
      status.INVALID_ARGUMENT,
      /worker_pool or a node/,
    );
  });

  it('ends a one-sandbox event stream when the sandbox is deleted', async () => {
    const stream = ops.watchEvents({ sandboxId: id });
    const ended = new Promise<string>((done) => {
      stream.on('end', () => done('end'));
      stream.on('error', (err: Error) => done(`error: ${err.message}`));
    });
    stream.on('data', () => undefined);
    await new Promise((r) => setTimeout(r, 300)); // subscribed before the delete
    assert.equal(await gateway(f.client).delete(id), true);
    const outcome = await Promise.race([
      ended,
      new Promise((r) => setTimeout(() => r('still open'), 20_000)),
    ]);
    assert.equal(outcome, 'end');
  });
});
