// The sandbox workflow end to end on the dev server: real worker, real activities, the simulator
// over gRPC and its data plane, the fleet observer reconciling what Substrate does on its own.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Actor_Status } from '../src/gen/ateapi';
import { FleetObserver } from '../src/observer/fleet-observer';
import type { AteapiClient } from '../src/substrate/client';
import {
  checkpointUpdate,
  deleteUpdate,
  holdUpdate,
  migrateUpdate,
  pauseUpdate,
  releaseUpdate,
  startUpdate,
  stopUpdate,
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

describe('sandbox lifecycle (dev server, simulator)', () => {
  let stack: SandboxStack;
  before(async () => void (stack = await startSandboxStack({ server: 'dev' })));
  after(async () => stack?.teardown());

  async function runningSandbox(): Promise<SandboxView> {
    const input = sandboxInput();
    await createSandbox(stack, input);
    return waitForView(stack, input.sandboxId, inState('RUNNING'), 'the sandbox to run');
  }

  /** Talks to the actor's workload through the simulator's data plane (resumes it if stopped). */
  async function workload(view: SandboxView, path: string, init?: RequestInit): Promise<unknown> {
    const url = `${stack.sim.dataPlaneUrl}/actors/${view.actor.atespace}/${view.actor.name}${path}`;
    const response = await fetch(url, {
      ...init,
      headers: { 'content-type': 'application/json', ...(init?.headers ?? {}) },
    });
    assert.ok(
      response.ok,
      `${init?.method ?? 'GET'} ${path}: HTTP ${response.status} ${await response.clone().text()}`,
    );
    return response.json();
  }
  const remember = (view: SandboxView, key: string, value: string) =>
    workload(view, `/memory/${key}`, { method: 'PUT', body: JSON.stringify(value) });
  const recall = (view: SandboxView) => workload(view, '/memory') as Promise<Record<string, string>>;

  it('reconciles every other sandbox when one cannot be reached in a sweep', async () => {
    const unreachable = await runningSandbox();
    const victim = await runningSandbox();
    // A Temporal client whose reads of one sandbox (describe, query) always fail (as a stuck call times out).
    const client = stack.env.client;
    const failing = Object.create(client.workflow) as typeof client.workflow;
    failing.getHandle = ((workflowId: string, ...rest: unknown[]) => {
      const handle = client.workflow.getHandle(workflowId, ...(rest as []));
      if (workflowId !== `sandbox/${unreachable.sandboxId}`) return handle;
      const timedOut = () => Promise.reject(new Error('read timed out'));
      return { ...handle, describe: timedOut, query: timedOut };
    }) as typeof client.workflow.getHandle;
    const flaky = Object.assign(Object.create(client) as typeof client, { workflow: failing });
    const errors: string[] = [];
    const observer = new FleetObserver(stack.ateapi, flaky, (id) => errors.push(id));
    await observer.pollOnce();
    // Both actors are suspended behind their workflows' backs (as a pod loss does). Before, the
    // failed read threw out of the sweep whatever the list order; now the sweep returns with
    // both handled and the failure counted.
    await stack.ateapi.suspendActor(unreachable.actor);
    await stack.ateapi.suspendActor(victim.actor);
    const report = await observer.pollOnce();
    assert.ok(report.failed >= 1 && errors.includes(unreachable.sandboxId), JSON.stringify(report));
    assert.ok(report.changed >= 2, JSON.stringify(report));
    const recovered = await waitForView(
      stack,
      victim.sandboxId,
      (view) => view.events.some((event) => event.reason === 'Recovered') && view.state === 'RUNNING',
      'recovery of the reachable sandbox',
    );
    assert.ok(recovered.events.some((event) => event.reason === 'PodLost'));
    for (const view of [unreachable, victim]) {
      await waitForView(stack, view.sandboxId, (v) => v.state === 'RUNNING', 'recovery');
      await handleOf(stack, view.sandboxId).executeUpdate(deleteUpdate); // free the workers
    }
  });

  it('creates idempotently: a repeated create returns the same sandbox and makes one actor', async () => {
    const input = sandboxInput();
    const first = await createSandbox(stack, input);
    const second = await createSandbox(stack, input);
    assert.equal(first.sandboxId, second.sandboxId);
    assert.equal(first.createdAtMs, second.createdAtMs);
    const view = await waitForView(stack, input.sandboxId, inState('RUNNING'), 'the sandbox to run');
    const actors = await stack.ateapi.listAllActors(input.actor.atespace);
    assert.equal(actors.filter((actor) => actor.actorId === input.actor.name).length, 1);
    assert.equal(view.actorView?.status, 'RUNNING');
    assert.ok(view.actorView?.podName, 'no worker pod recorded');
    assert.deepEqual(
      view.events.map((event) => event.reason),
      ['Provisioning', 'Starting', 'Running'],
    );
  });

  it('stop returns only after the snapshot is committed, and start restores the memory', async () => {
    const view = await runningSandbox();
    await remember(view, 'issue', 'database timeout');
    const stopped = await handleOf(stack, view.sandboxId).executeUpdate(stopUpdate);
    assert.equal(stopped.state, 'SUSPENDED');
    assert.equal(stopped.actorView?.snapshot, 'EXTERNAL');
    const actor = await stack.ateapi.getActor(view.actor);
    assert.equal(actor.status, Actor_Status.STATUS_SUSPENDED);
    assert.ok(actor.latestSnapshotInfo?.external?.snapshotUriPrefix, 'no snapshot recorded in Substrate');

    const again = await handleOf(stack, view.sandboxId).executeUpdate(stopUpdate); // idempotent
    assert.equal(again.state, 'SUSPENDED');

    const started = await handleOf(stack, view.sandboxId).executeUpdate(startUpdate);
    assert.equal(started.state, 'RUNNING');
    assert.deepEqual(await recall(started), { issue: 'database timeout' });
  });

  it('follows a resume that Substrate does on incoming traffic', async () => {
    const view = await runningSandbox();
    await remember(view, 'k', 'v');
    await handleOf(stack, view.sandboxId).executeUpdate(stopUpdate);
    assert.deepEqual(await recall(view), { k: 'v' }); // the data plane resumes the actor
    const resumed = await waitForView(stack, view.sandboxId, inState('RUNNING'), 'the workflow to notice');
    assert.ok(resumed.events.some((event) => event.reason === 'ResumedOnTraffic'));
  });

  it('keeps a held sandbox stopped: start is refused and traffic is put back to sleep', async () => {
    const view = await runningSandbox();
    const handle = handleOf(stack, view.sandboxId);
    const held = await handle.executeUpdate(holdUpdate, { args: [{ reason: 'quarantine' }] });
    assert.equal(held.state, 'SUSPENDED');
    await assert.rejects(handle.executeUpdate(startUpdate), (err: Error) =>
      /on hold \(quarantine\); release it first/.test(String((err.cause as Error | undefined)?.message)),
    );

    await recall(view); // traffic: Substrate's router resumes the actor
    const asleep = await waitForView(
      stack,
      view.sandboxId,
      (v) => v.state === 'SUSPENDED' && v.events.some((event) => event.reason === 'ResumedOnTraffic'),
      'the hold to be enforced again',
    );
    assert.match(asleep.events[asleep.events.length - 1].message, /stop hold in force/);
    assert.equal((await stack.ateapi.getActor(view.actor)).status, Actor_Status.STATUS_SUSPENDED);

    await handle.executeUpdate(releaseUpdate);
    assert.equal((await handle.executeUpdate(startUpdate)).state, 'RUNNING');
  });

  it('recovers from a lost worker pod on another worker from the last snapshot; neighbours untouched', async () => {
    const victim = await runningSandbox();
    const neighbour = await runningSandbox();
    const neighbourActorBefore = await stack.ateapi.getActor(neighbour.actor);
    await remember(victim, 'note', 'checkpointed');
    const checkpointed = await handleOf(stack, victim.sandboxId).executeUpdate(checkpointUpdate);
    assert.equal(checkpointed.state, 'RUNNING');
    await remember(victim, 'note', 'lost with the pod');
    const lostPod = checkpointed.actorView!.podName;

    stack.sim.core.killWorker(lostPod);
    const recovered = await waitForView(
      stack,
      victim.sandboxId,
      (view) => view.events.some((event) => event.reason === 'Recovered') && view.state === 'RUNNING',
      'recovery after the pod loss',
    );
    assert.ok(recovered.events.some((event) => event.reason === 'PodLost'));
    assert.notEqual(recovered.actorView?.podName, lostPod);
    assert.deepEqual(await recall(recovered), { note: 'checkpointed' });

    const neighbourActorAfter = await stack.ateapi.getActor(neighbour.actor);
    assert.equal(neighbourActorAfter.version, neighbourActorBefore.version);
    assert.equal(neighbourActorAfter.ateomPodName, neighbourActorBefore.ateomPodName);
    const neighbourView = await waitForView(stack, neighbour.sandboxId, () => true, 'a view');
    assert.equal(neighbourView.state, 'RUNNING');
    assert.ok(!neighbourView.events.some((event) => event.reason === 'PodLost'));
  });

  it('does not take an actor missing from one ListActors sweep for a deleted one', async () => {
    const view = await runningSandbox();
    // Upstream ListActors pages are soft: an actor can be missed while data changes. The
    // simulator does that only under concurrent deletes, so this client drops it on purpose.
    const softPages = Object.create(stack.ateapi) as AteapiClient;
    let hide = false;
    softPages.listAllActors = async (atespace?: string) =>
      (await stack.ateapi.listAllActors(atespace)).filter(
        (actor) => !hide || actor.actorId !== view.actor.name,
      );
    const observer = new FleetObserver(softPages, stack.env.client);
    await observer.pollOnce();
    hide = true;
    const report = await observer.pollOnce();
    assert.equal(report.signalled, 0);
    const after = await waitForView(stack, view.sandboxId, () => true, 'a view');
    assert.equal(after.state, 'RUNNING');
    assert.ok(!after.events.some((event) => event.reason === 'ActorMissing'));
  });

  it('pauses, and deletes a paused sandbox (resume, suspend, delete)', async () => {
    const view = await runningSandbox();
    const paused = await handleOf(stack, view.sandboxId).executeUpdate(pauseUpdate);
    assert.equal(paused.state, 'PAUSED');
    assert.equal(paused.actorView?.snapshot, 'LOCAL');
    const result = await handleOf(stack, view.sandboxId).executeUpdate(deleteUpdate);
    assert.equal(result.deleted, true);
    assert.equal(result.view.state, 'DELETED');
    await assert.rejects(stack.ateapi.getActor(view.actor), /not found/);
    assert.equal((await handleOf(stack, view.sandboxId).result()).state, 'DELETED');
  });

  it('deletes a running sandbox and reports deleted=false when nothing was left', async () => {
    const view = await runningSandbox();
    const result = await handleOf(stack, view.sandboxId).executeUpdate(deleteUpdate);
    assert.equal(result.deleted, true);
    await assert.rejects(stack.ateapi.getActor(view.actor), /not found/);
    const repeated = await handleOf(stack, view.sandboxId)
      .executeUpdate(deleteUpdate)
      .catch((err: Error) => err);
    // A completed workflow takes no more updates: the facade maps that to "already gone".
    assert.ok(repeated instanceof Error);
  });
});

describe('migration (dev server, two worker pools)', () => {
  // Substrate places an actor on a uniformly random free worker, so a migration can land on the
  // worker it left; the workflow retries up to three times (then records MigrationStayed). Six
  // workers make staying put unlikely, and the simulator's fixed seed makes this run repeatable.
  let stack: SandboxStack;
  const cluster = clusterWithPools({ blue: 6, green: 3 });
  before(async () => void (stack = await startSandboxStack({ server: 'dev', sim: { cluster } })));
  after(async () => stack?.teardown());

  it('moves a running sandbox to another worker, and into another pool by selector, keeping its memory', async () => {
    const input = sandboxInput({ workerSelector: { pool: 'blue' } });
    await createSandbox(stack, input);
    const view = await waitForView(stack, input.sandboxId, inState('RUNNING'), 'the sandbox to run');
    assert.equal(view.actorView?.workerPool, 'blue');
    const url = `${stack.sim.dataPlaneUrl}/actors/${view.actor.atespace}/${view.actor.name}/memory/k`;
    assert.ok((await fetch(url, { method: 'PUT', body: '"kept"' })).ok);

    const moved = await handleOf(stack, view.sandboxId).executeUpdate(migrateUpdate, {
      args: [{ reason: 'test' }],
    });
    assert.equal(moved.state, 'RUNNING');
    assert.notEqual(moved.actorView?.podName, view.actorView?.podName);
    assert.equal(moved.actorView?.workerPool, 'blue');
    assert.ok(moved.events.some((event) => event.reason === 'Migrated'));

    const green = await handleOf(stack, view.sandboxId).executeUpdate(migrateUpdate, {
      args: [{ workerSelector: { pool: 'green' } }],
    });
    assert.equal(green.actorView?.workerPool, 'green');
    assert.deepEqual(green.workerSelector, { pool: 'green' });
    assert.deepEqual(await (await fetch(url)).json(), { key: 'k', value: 'kept' });
  });
});
