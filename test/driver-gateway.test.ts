// The facade driven over its Unix socket the way the OpenShell gateway drives it (reference §2):
// startup handshake, create then watch to running, stop/start, delete then Deleted, reconnecting
// watchers, facade restart, validation passthrough. Real dev server, worker and simulator; every
// assertion is on gateway-visible fields.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { assertStatus } from './helpers/sim';
import { Client, Connection } from '@temporalio/client';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectFacade } from '../src/driver/client';
import type { WatchSandboxesEvent } from '../src/gen/compute_driver';
import { viewQuery } from '../src/workflows/messages';
import { fromPublished, PUBLISHED_EVENTS, type PublishedView } from '../src/workflows/view';
import {
  conditionsOf,
  gateway,
  gatewaySandbox,
  snapshotOf,
  startFacade,
  startFacadeStack,
  startRelay,
  testSettings,
  WatchRecorder,
  type FacadeStack,
} from './helpers/stack';

const READY = (c: string[]) => c.includes('Ready=True/ActorRunning');
const STOPPED = (c: string[]) => c.some((x) => x.startsWith('Suspended=True/'));

describe('ComputeDriver over the Unix socket', () => {
  let f: FacadeStack;
  let gw: ReturnType<typeof gateway>;
  let watch: WatchRecorder;
  const id = randomUUID();

  before(async () => {
    f = await startFacadeStack();
    gw = gateway(f.client);
  });
  after(async () => {
    watch?.close();
    await f?.teardown();
  });

  it('answers the startup handshake', async () => {
    const caps = await gw.capabilities();
    assert.equal(caps.driverName, 'ateflow');
    assert.notEqual(caps.defaultImage, '');
    assert.equal(caps.gatewayManagesLifecycle, false);
    assert.deepEqual((await gw.listeners()).requirements, []);
    watch = new WatchRecorder(f.client);
  });

  it('passes validation errors through verbatim and creates nothing', async () => {
    const bad = gatewaySandbox(randomUUID(), { image: 'ubuntu:24.04' });
    await assertStatus(
      gw.validate(bad),
      status.FAILED_PRECONDITION,
      /"ubuntu:24.04" is not pinned by digest/,
    );
    await assertStatus(gw.create(bad), status.FAILED_PRECONDITION, /not pinned by digest/);
    await assertStatus(
      gw.validate(gatewaySandbox(randomUUID(), { driverConfig: { gpus: 1 } })),
      status.INVALID_ARGUMENT,
      'driver_config key "gpus" is not supported; ateflow understands idle_timeout, keep_alive and worker_selector',
    );
    await assertStatus(gw.get(bad.id), status.NOT_FOUND);
  });

  it('creates, returns at once, and reports progress until Ready=True', async () => {
    const sandbox = gatewaySandbox(id, { token: 'jwt-secret', workspace: 'Team_A' });
    await gw.validate(sandbox);
    await gw.create(sandbox);
    const first = await gw.get(id);
    assert.equal(first.id, id);
    assert.equal(first.name, sandbox.name);
    assert.equal(first.workspace, 'Team_A');
    const ready = await watch.waitFor(snapshotOf(id, READY), 'Ready=True');
    assert.equal(ready.sandbox!.sandbox!.status!.instanceId, id);
    const isProgress = (e: WatchSandboxesEvent) =>
      e.platformEvent?.sandboxId === id &&
      Object.keys(e.platformEvent.event!.metadata).some((k) => k.startsWith('openshell.progress.'));
    // A sandbox first seen in a watch's initial snapshot gets its events on the next poll.
    await watch.waitFor(isProgress, 'platform events with openshell.progress.* metadata during create');
    const progress = watch.events.filter(isProgress);
    assert.ok(progress.every((e) => e.platformEvent!.event!.source === 'ateflow'));
  });

  it("publishes a running sandbox's whole view in its memo, under the server's 2 KB warning size", async () => {
    const handle = f.stack.env.client.workflow.getHandle(`sandbox/${id}`);
    const described = await handle.describe();
    const bytes = described.raw.workflowExecutionInfo?.memo?.fields?.view?.data?.length ?? 0;
    assert.ok(bytes > 0 && bytes < 2048, `published view is ${bytes} bytes`);
    const published = fromPublished(described.memo!.view as PublishedView);
    const queried = await handle.query(viewQuery);
    assert.equal(published.actorView?.status, 'RUNNING');
    assert.deepEqual({ ...published, events: [] }, { ...queried, events: [] });
    assert.deepEqual(published.events, queried.events.slice(-PUBLISHED_EVENTS));
  });

  it('treats a repeated create as the same sandbox', async () => {
    await gw.create(gatewaySandbox(id, { token: 'jwt-secret', workspace: 'Team_A' }));
    assert.deepEqual(conditionsOf(await gw.get(id)), ['Ready=True/ActorRunning']);
    await assertStatus(
      gw.create(gatewaySandbox(id, { name: 'someone-else', workspace: 'Team_A' })),
      status.ALREADY_EXISTS,
    );
  });

  it('returns from StopSandbox only once the snapshot is committed', async () => {
    const from = watch.events.length;
    await gw.stop(id);
    assert.ok(
      STOPPED(conditionsOf(await gw.get(id))),
      'GetSandbox right after StopSandbox shows Suspended=True',
    );
    const actor = await f.stack.ateapi.getActor({ atespace: 'openshell', name: id });
    assert.ok(actor.latestSnapshotInfo, 'the actor has a committed snapshot');
    await watch.waitFor(snapshotOf(id, STOPPED), 'Suspended=True on the watch', 10_000, from);
    await gw.stop(id); // the gateway repeats stops on recovery: harmless
  });

  it('keeps suspended sandboxes in get and list', async () => {
    const listed = (await gw.list()).find((s) => s.id === id);
    assert.ok(listed, 'ListSandboxes includes the suspended sandbox');
    assert.ok(STOPPED(conditionsOf(listed)));
    assert.ok(!conditionsOf(listed).includes('Ready=True/ActorRunning'));
  });

  it('starts again (idempotently) and clears Suspended', async () => {
    await gw.start(id);
    await gw.start(id);
    const conditions = conditionsOf(await gw.get(id));
    assert.ok(READY(conditions) && !STOPPED(conditions), conditions.join(' '));
  });

  it('gives a reconnecting watcher a full snapshot', async () => {
    const other = randomUUID();
    await gw.create(gatewaySandbox(other));
    await watch.waitFor(snapshotOf(other, READY), 'second sandbox running');
    const reconnect = new WatchRecorder(f.client);
    try {
      await reconnect.waitFor(snapshotOf(id, READY), 'snapshot of the first sandbox', 20_000);
      await reconnect.waitFor(snapshotOf(other, READY), 'snapshot of the second sandbox', 20_000);
    } finally {
      reconnect.close();
    }
  });

  it('survives a facade restart: streams end, a new one resyncs', async () => {
    await f.restartFacade();
    const end = await watch.waitForEnd(5_000);
    assert.ok(end === 'eof' || end.code === status.UNAVAILABLE, `stream ended with ${String(end)}`);
    watch = new WatchRecorder(f.client);
    await watch.waitFor(snapshotOf(id, READY), 'snapshot after restart', 30_000);
    assert.ok(READY(conditionsOf(await gw.get(id))));
  });

  it('deletes from any state: deleted=true, then Deleted on the watch, then NOT_FOUND', async () => {
    await gw.stop(id);
    assert.equal(await gw.delete(id), true);
    await watch.waitFor((e) => e.deleted?.sandboxId === id, 'Deleted event');
    await assertStatus(gw.get(id), status.NOT_FOUND);
    assert.ok(!(await gw.list()).some((s) => s.id === id));
    assert.equal(await gw.delete(id), false, 'a second delete finds nothing');
    const deletions = watch.events.filter((e) => e.deleted).map((e) => e.deleted!.sandboxId);
    assert.deepEqual(deletions, [id], 'Deleted only for the sandbox that is gone');
  });

  it('reads sandboxes with no worker running: views are published, not queried', async () => {
    const other = (await gw.list())[0].id;
    await f.stack.stopWorker();
    try {
      // With the gateway's watch open the reads come from the facade's cache ...
      assert.ok(READY(conditionsOf(await gw.get(other))));
      assert.ok((await gw.list()).some((s) => s.id === other));
      // ... and without one, from Temporal's record of each workflow (describe, visibility).
      watch.close();
      await f.restartFacade();
      assert.ok(READY(conditionsOf(await gw.get(other))));
      assert.ok((await gw.list()).some((s) => s.id === other));
      await assertStatus(gw.get(randomUUID()), status.NOT_FOUND);
    } finally {
      await f.stack.startWorker();
    }
  });

  it('maps a missing worker to UNAVAILABLE with a message that says so', async () => {
    const other = (await gw.list())[0].id;
    await f.restartFacade({ callTimeoutMs: 1_500, readTimeoutMs: 1_500 });
    await f.stack.stopWorker();
    try {
      await assertStatus(gw.stop(other), status.UNAVAILABLE, /no ateflow worker answered on task queue/);
    } finally {
      await f.stack.startWorker();
    }
  });

  it('ends every watch stream with UNAVAILABLE when Temporal is lost', async () => {
    // A second facade reaches Temporal through a relay that we cut.
    const relay = await startRelay(f.stack.env.address);
    const connection = await Connection.connect({ address: relay.address });
    const dir = mkdtempSync(join(tmpdir(), 'ateflow-lost-'));
    const settings = { ...testSettings(dir), readTimeoutMs: 1_000, watchLossMs: 1_500 };
    const lonely = await startFacade(f.stack, settings, new Client({ connection }), relay.address);
    const client = connectFacade(settings.socketPath);
    const lost = new WatchRecorder(client);
    try {
      await lost.waitFor((e) => e.sandbox !== undefined, 'initial snapshot', 30_000);
      await relay.cut();
      const end = await lost.waitForEnd(10_000);
      assert.notEqual(end, 'eof');
      if (end !== 'eof') {
        assert.equal(end.code, status.UNAVAILABLE);
        assert.match(end.details, /lost its event source: Temporal at 127.0.0.1:\d+ has not answered/);
      }
    } finally {
      client.close();
      await lonely.close();
      await connection.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
