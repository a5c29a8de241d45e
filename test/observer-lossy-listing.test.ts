// The fleet observer against upstream's lossy ListActors: 5,000 actors on the simulator's default
// 3-shard store, laid out so that every listing skips a whole shard (a page fills exactly at the
// end of the first shard's scan). Sandbox workflows are stood in for by a fake Temporal client
// that lists the sandboxes in visibility and describes them with their published views (as the
// workflows publish them in their memos), records signals, and refuses queries: the observer must
// not need one (each is a replay on a worker whose cache does not hold the workflow). Every pod
// loss must reach its sandbox, and no sandbox may hear that its existing actor is missing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { FleetObserver } from '../src/observer/fleet-observer';
import { toActorView } from '../src/substrate/actor-view';
import { AteapiClient } from '../src/substrate/client';
import { actorKeyOf } from '../src/sim/store';
import { deleteUpdate, type ActorRef, type ActorView } from '../src/workflows/messages';
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
import { eventually, startSim, type SimHarness } from './helpers/sim';

const ATESPACE = 'fleet';
const TOTAL = 5_000;

interface FakeSandbox {
  view: { state: string; actor: ActorRef; actorView?: ActorView };
  signals: (ActorView | null)[];
}

/** A fake sandbox's view as its workflow publishes it (memo `view`). */
const published = (id: string, sandbox: FakeSandbox) =>
  structuredClone({ sandboxId: id.replace(/^sandbox\//, ''), events: [], ...sandbox.view });

/** A Temporal client with one fake sandbox workflow per actor (what the observer uses of it). */
function fakeTemporal(sandboxes: Map<string, FakeSandbox>): Client {
  const handle = (workflowId: string) => {
    const sandbox = () => {
      const found = sandboxes.get(workflowId.replace(/^sandbox\//, ''));
      if (!found) throw new WorkflowNotFoundError('not found', workflowId, undefined);
      return found;
    };
    return {
      describe: () => Promise.resolve().then(() => ({ memo: { view: published(workflowId, sandbox()) } })),
      query: () => Promise.reject(new Error('the observer queried a sandbox: it reads published views')),
      signal: (_signal: unknown, actor: ActorView | null) =>
        Promise.resolve().then(() => {
          const target = sandbox();
          target.signals.push(actor);
          // As the sandbox workflow does: it now knows this version of its actor.
          if (actor) target.view.actorView = actor;
        }),
    };
  };
  const list = async function* () {
    for (const [id, sandbox] of sandboxes)
      yield { workflowId: `sandbox/${id}`, memo: { view: published(id, sandbox) } };
  };
  return {
    workflow: { getHandle: handle, list },
    withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn(),
  } as unknown as Client;
}

async function inBatches<T>(items: readonly T[], size: number, work: (item: T) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(work));
}

describe('fleet observer over a lossy 3-shard ListActors (5,000 actors)', () => {
  let h: SimHarness;
  let ateapi: AteapiClient;
  const sandboxes = new Map<string, FakeSandbox>();
  const byShard: string[][] = [[], [], []];
  let running: string[] = [];

  /** Every actor the listing returns, by name, in the fleet atespace. */
  const listed = async () =>
    new Set((await ateapi.listAllActors()).filter((a) => a.atespace === ATESPACE).map((a) => a.actorId));

  before(async () => {
    h = await startSim({ cluster: clusterWithPools({ blue: 90 }), seed: 11 });
    ateapi = new AteapiClient({ endpoint: h.sim.address });
    await eventually(() =>
      h.sim.core.templates.list().every((t) => t.status?.phase === 'Ready') ? true : undefined,
    );
    await ateapi.createAtespace(ATESPACE);
    const { keyspace } = h.sim.core.store;
    assert.equal(keyspace.shards.length, 3, 'the default store has three masters');
    // Shard 0 (first in address order) gets exactly one page: 1,000 actor keys in all, the
    // golden actors counted. The rest go to the other two.
    const golden = [...h.sim.core.store.allActors()].filter(
      (a) => keyspace.shardOf(actorKeyOf(a.atespace, a.actorId)) === 0,
    ).length;
    const want = [1_000 - golden, 2_000, TOTAL - (1_000 - golden) - 2_000];
    // Shard 0 candidates come in sets of one page each: the page fills at the end of shard 0's
    // scan only when the last key it reaches sits in the table's last bucket, so sets are tried
    // in turn until the listing skips shard 1 (the seed makes the choice the same every run).
    const sets: string[][] = [];
    for (let i = 0; byShard[1].length < want[1] || byShard[2].length < want[2] || sets.length < 12; i++) {
      const name = `s${i}`;
      const shard = keyspace.shardOf(actorKeyOf(ATESPACE, name));
      if (shard > 0 && byShard[shard].length < want[shard]) byShard[shard].push(name);
      if (shard === 0) {
        if (sets.length === 0 || sets[sets.length - 1].length === want[0]) sets.push([]);
        sets[sets.length - 1].push(name);
      }
    }
    const create = (name: string) =>
      ateapi.createActor({
        actorRef: { atespace: ATESPACE, name },
        actorTemplateNamespace: 'default',
        actorTemplateName: 'sandbox',
      });
    await inBatches([...byShard[1], ...byShard[2]], 100, create);
    for (const set of sets) {
      assert.equal(set.length, want[0], 'no layout that skips a shard');
      await inBatches(byShard[0], 100, (name) => ateapi.deleteActor({ atespace: ATESPACE, name }));
      byShard[0] = set;
      await inBatches(set, 100, create);
      if ((await listed()).size < TOTAL) break;
    }
    // 30 running actors in each shard (the skipped one included), the rest suspended.
    running = byShard.flatMap((names) => names.slice(0, 30));
    await inBatches(running, 10, (name) => ateapi.resumeActor({ atespace: ATESPACE, name }));
    for (const actor of (
      await Promise.all(byShard.flat().map((name) => ateapi.getActor({ atespace: ATESPACE, name })))
    ).map(toActorView)) {
      sandboxes.set(actor.ref.name, {
        view: {
          state: actor.status === 'RUNNING' ? 'RUNNING' : 'SUSPENDED',
          actor: actor.ref,
          actorView: actor,
        },
        signals: [],
      });
    }
  });
  after(async () => {
    ateapi?.close();
    await h?.close();
  });

  /** Kills the worker pods of these actors: Substrate resets each to SUSPENDED behind its back. */
  const losePods = async (names: readonly string[]) => {
    for (const name of names) {
      const actor = await ateapi.getActor({ atespace: ATESPACE, name });
      h.sim.core.killWorker(actor.ateomPodName);
    }
  };
  const signalledIds = (fakes: Map<string, FakeSandbox>) =>
    [...fakes].filter(([, s]) => s.signals.length > 0).map(([id]) => id);
  const spurious = (fakes: Map<string, FakeSandbox>, deleted: readonly string[]) =>
    [...fakes].filter(([id, s]) => !deleted.includes(id) && s.signals.includes(null)).map(([id]) => id);

  it('loses no pod loss and reports no existing actor missing, though the listing skips a shard', async () => {
    const seen = await listed();
    assert.equal(
      byShard[1].filter((name) => !seen.has(name)).length,
      byShard[1].length,
      'precondition: the listing skips all of shard 1',
    );
    assert.equal(seen.size, TOTAL - byShard[1].length);

    const observer = new FleetObserver(ateapi, fakeTemporal(sandboxes), undefined, {
      discoveryIntervalMs: 0,
    });
    const first = await observer.pollOnce();
    assert.equal(first.signalled, 0, 'nothing happened behind the workflows’ backs yet');
    assert.equal(first.failed, 0);
    assert.ok(first.lookedUp >= byShard[1].length, `looked up ${first.lookedUp}`);

    const lost = byShard.flatMap((names) => names.slice(0, 10));
    await losePods(lost);
    // Five suspended actors really go (two in the skipped shard; none in shard 0, whose size
    // makes the skip): those sandboxes must hear it.
    const deleted = [...byShard[1].slice(-2), ...byShard[2].slice(-3)];
    for (const name of deleted) await ateapi.deleteActor({ atespace: ATESPACE, name });
    const second = await observer.pollOnce();
    assert.equal(second.failed, 0);
    assert.deepEqual(signalledIds(sandboxes).sort(), [...lost, ...deleted].sort());
    for (const name of lost) {
      assert.deepEqual(
        sandboxes.get(name)!.signals.map((a) => a?.status),
        ['SUSPENDED'],
        `${name}: its pod loss, once`,
      );
    }
    for (const name of deleted) assert.deepEqual(sandboxes.get(name)!.signals, [null], `${name}: gone`);
    assert.deepEqual(spurious(sandboxes, deleted), [], 'no existing actor reported missing');
    assert.equal((await observer.pollOnce()).signalled, 0, 'each observation is signalled once');
    for (const name of deleted) sandboxes.delete(name); // their workflows ended
  });

  it('a fresh observer (another worker took over) finds pod losses in a shard no listing returns', async () => {
    const fakes = new Map(
      [...sandboxes].map(([id, s]) => [id, { view: structuredClone(s.view), signals: [] }]),
    );
    const lost = byShard.flatMap((names) => names.slice(10, 20));
    await losePods(lost);
    const observer = new FleetObserver(ateapi, fakeTemporal(fakes), undefined, { discoveryIntervalMs: 0 });
    const report = await observer.pollOnce();
    assert.equal(report.failed, 0);
    assert.ok(report.actors < fakes.size, 'the listing still skips a shard');
    assert.deepEqual(signalledIds(fakes).sort(), [...lost].sort());
    assert.deepEqual(spurious(fakes, []), []);
  });
});

describe('fleet observer over duplicated, unordered listings', () => {
  it('handles the newest copy of an actor listed twice, in any order', async () => {
    const h = await startSim({ seed: 3 });
    const ateapi = new AteapiClient({ endpoint: h.sim.address });
    try {
      await eventually(() =>
        h.sim.core.templates.list().every((t) => t.status?.phase === 'Ready') ? true : undefined,
      );
      await ateapi.createAtespace(ATESPACE);
      const ref = { atespace: ATESPACE, name: 'dup' };
      await ateapi.createActor({
        actorRef: ref,
        actorTemplateNamespace: 'default',
        actorTemplateName: 'sandbox',
      });
      const older = await ateapi.resumeActor(ref);
      const sandboxes = new Map<string, FakeSandbox>([
        ['dup', { view: { state: 'RUNNING', actor: ref, actorView: toActorView(older) }, signals: [] }],
      ]);
      h.sim.core.killWorker(older.ateomPodName); // SUSPENDED behind the workflow's back
      const newer = await ateapi.getActor(ref);
      // Pages that repeat an actor while it changes, newest first, the golden actors between.
      const soft = Object.create(ateapi) as AteapiClient;
      soft.listAllActors = async () => [newer, ...(await ateapi.listAllActors()).reverse(), older];
      const observer = new FleetObserver(soft, fakeTemporal(sandboxes), undefined, {
        discoveryIntervalMs: 0,
      });
      const report = await observer.pollOnce();
      assert.equal(report.failed, 0);
      assert.deepEqual(
        sandboxes.get('dup')!.signals.map((a) => [a?.status, a?.version]),
        [['SUSPENDED', newer.version]],
      );
      assert.equal((await observer.pollOnce()).signalled, 0);
    } finally {
      ateapi.close();
      await h.close();
    }
  });
});

describe('a sandbox whose actor no listing returns (dev server, real workflows)', () => {
  let stack: SandboxStack;
  before(async () => void (stack = await startSandboxStack({ server: 'dev' })));
  after(async () => stack?.teardown());

  it('recovers from a lost pod, seen by an observer started after the listings began to skip it', async () => {
    const { keyspace } = stack.sim.core.store;
    const shardOf = (atespace: string, name: string) => keyspace.shardOf(actorKeyOf(atespace, name));
    let sandboxId = '';
    for (let i = 0; shardOf('tests', sandboxId) !== 1 || sandboxId === ''; i++) sandboxId = `sb-lossy-${i}`;
    await createSandbox(stack, sandboxInput({ sandboxId }));
    const view = await waitForView(stack, sandboxId, inState('RUNNING'), 'the sandbox to run');

    // Fill shard 0 to exactly one page of actor keys (golden actors included), trying other
    // names until the page ends on the shard's last bucket and every listing skips shard 1.
    await stack.ateapi.createAtespace('filler');
    const fillers: string[] = [];
    for (let i = 0; fillers.length < 15_000; i++) if (shardOf('filler', `f${i}`) === 0) fillers.push(`f${i}`);
    const inShard0 = () =>
      [...stack.sim.core.store.allActors()].filter((a) => shardOf(a.atespace, a.actorId) === 0).length;
    const listed = async () => (await stack.ateapi.listAllActors()).some((a) => a.actorId === sandboxId);
    let created: string[] = [];
    for (let next = 0; await listed();) {
      for (const name of created) await stack.ateapi.deleteActor({ atespace: 'filler', name });
      const set = fillers.slice(next, next + 1_000 - inShard0());
      assert.ok(next + set.length <= fillers.length, 'no layout that skips the shard');
      next += set.length;
      await inBatches(set, 100, (name) =>
        stack.ateapi.createActor({
          actorRef: { atespace: 'filler', name },
          actorTemplateNamespace: 'default',
          actorTemplateName: 'sandbox',
        }),
      );
      created = set;
    }

    // Another worker takes the observer over: it never saw the actor in a listing.
    await stack.stopWorker();
    await stack.startWorker();
    stack.sim.core.killWorker(view.actorView!.podName);
    const recovered = await waitForView(
      stack,
      sandboxId,
      (v) => v.state === 'RUNNING' && v.events.some((e) => e.reason === 'Recovered'),
      'recovery after the pod loss',
      40_000,
    );
    assert.ok(recovered.events.some((e) => e.reason === 'PodLost'));
    assert.ok(!recovered.events.some((e) => e.reason === 'ActorMissing'));
    assert.equal(await listed(), false, 'the listing still skips it');
    await handleOf(stack, sandboxId).executeUpdate(deleteUpdate);
  });
});
