// Unit checks of the simulator's store, locks, error mapping and k8s-style validation
// (upstream ateredis_test and the validation messages not reachable through one RPC).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Actor, Actor_Status } from '../src/gen/ateapi';
import { PersistenceConflict, stepFailure, toStatus } from '../src/sim/errors';
import { ActorLocks, LOCK_TTL_MS } from '../src/sim/locks';
import { Keyspace } from '../src/sim/keyspace';
import { listActorsPage } from '../src/sim/list-actors';
import { actorKeyOf, Store } from '../src/sim/store';
import { goQuote, labelValueErrors, qualifiedNameErrors } from '../src/sim/validation';

const actor = (name: string, atespace = 'ws') =>
  Actor.fromPartial({
    actorId: name,
    atespace,
    actorTemplateNamespace: 'ns',
    actorTemplateName: 't',
    status: Actor_Status.STATUS_SUSPENDED,
  });

describe('store', () => {
  it('creates with version 1 (SETNX) and detects optimistic conflicts', () => {
    const store = new Store();
    const created = store.createActor(actor('a'))!;
    assert.equal(created.version, 1);
    assert.equal(store.createActor(actor('a')), undefined);
    const updated = store.updateActor({ ...created, status: Actor_Status.STATUS_RESUMING });
    assert.equal(updated.version, 2);
    assert.throws(
      () => store.updateActor({ ...created, status: Actor_Status.STATUS_RUNNING }),
      PersistenceConflict,
    );
    assert.throws(
      () => store.updateActor({ ...updated, actorTemplateName: 'other' }),
      /actor template is immutable/,
    );
    assert.throws(() => store.updateActor(actor('missing')), /actor does not exist/);
  });

  it('deletes only SUSPENDED actors and scopes atespace emptiness', () => {
    const store = new Store();
    store.createAtespace('ws');
    store.createAtespace('other');
    const a = store.createActor(actor('a'))!;
    store.updateActor({ ...a, status: Actor_Status.STATUS_RUNNING });
    assert.deepEqual(store.deleteActor('ws', 'a'), {
      deleted: false,
      reason: 'not-suspended',
      status: 'STATUS_RUNNING',
    });
    assert.equal(store.deleteAtespace('ws'), 'not-empty');
    assert.equal(store.deleteAtespace('other'), 'deleted');
    assert.deepEqual(store.deleteActor('ws', 'nope'), { deleted: false, reason: 'missing' });
  });

  /** Every page of a listing through upstream's algorithm, over `store`. */
  async function listAll(store: Store, atespace: string, pageSize: number, roundTrip = async () => {}) {
    const source = { keyspace: store.keyspace, fetch: (k: string) => store.getActorByKey(k), roundTrip };
    const pages: string[][] = [];
    let token = '';
    do {
      const page = await listActorsPage(source, atespace, pageSize, token);
      pages.push(page.actors.map((a) => `${a.atespace}/${a.actorId}`));
      token = page.nextPageToken;
    } while (token !== '');
    return pages;
  }

  it('paginates without duplicates on a stable data set (miniredis, as upstream ateredis_test)', async () => {
    const store = new Store(); // one shard, sorted exact SCAN
    for (let i = 0; i < 25; i++) store.createActor(actor(`a${i}`, i % 2 ? 'odd' : 'even'));
    const pages = await listAll(store, '', 4);
    const seen = pages.flat();
    assert.ok(pages.every((page) => page.length <= 4));
    assert.equal(seen.length, 25);
    assert.equal(new Set(seen).size, 25);
    assert.equal((await listAll(store, 'odd', 1000)).flat().length, 12);
  });

  it('one Valkey shard: complete and without duplicates, but pages may exceed page_size', async () => {
    const store = new Store(new Keyspace({ shards: 1, scan: 'valkey', seed: 1 }));
    for (let i = 0; i < 300; i++) store.createActor(actor(`a${i}`, i % 2 ? 'odd' : 'even'));
    for (const size of [1, 3, 7, 1000]) {
      const seen = (await listAll(store, '', size)).flat();
      assert.equal(seen.length, 300, `page size ${size}`);
      assert.equal(new Set(seen).size, 300, `page size ${size}`);
    }
    const pages = await listAll(store, '', 3);
    assert.ok(
      pages.some((page) => page.length > 3),
      'SCAN returns whole buckets',
    );
  });

  it('a page that fills on the SCAN finishing a shard skips the next shard (upstream bug)', async () => {
    // The first shard in address order holds exactly as many actors as a page: the page fills on
    // the SCAN that ends the shard (when its last bucket holds an actor), and upstream's token
    // then names the shard after the next one. Names are chosen by shard so the layout is fixed.
    const store = new Store(new Keyspace({ shards: 3, scan: 'valkey', seed: 3 }));
    const byShard: string[][] = [[], [], []];
    for (let i = 0; byShard.some((names) => names.length < 12); i++) {
      const shard = store.keyspace.shardOf(actorKeyOf('ws', `a${i}`));
      if (byShard[shard].length < 12) byShard[shard].push(`a${i}`);
    }
    let lost: string[] = [];
    for (let size = 1; size <= 12 && lost.length === 0; size++) {
      const trial = new Store(new Keyspace({ shards: 3, scan: 'valkey', seed: 3 }));
      for (const name of [...byShard[0].slice(0, size), ...byShard[1], ...byShard[2]])
        trial.createActor(actor(name));
      const seen = new Set((await listAll(trial, 'ws', size)).flat());
      lost = [...byShard[1], ...byShard[2]].filter((name) => !seen.has(`ws/${name}`));
    }
    const sorted = (names: string[]) => [...names].sort().join();
    assert.ok(
      [byShard[1], byShard[2]].some((names) => sorted(names) === sorted(lost)),
      `exactly one whole shard after a full page is missing: ${lost.join()}`,
    );
  });

  it('a key deleted between SCAN and GET is skipped; the page keeps filling, never empty with a token', async () => {
    const store = new Store(new Keyspace({ shards: 3, scan: 'valkey', seed: 5 }));
    for (let i = 0; i < 40; i++) store.createActor(actor(`a${i}`));
    let deleted = 0;
    // Every other store round trip, the first actor still stored is deleted before the GETs.
    const pages = await listAll(store, 'ws', 5, async () => {
      const victim = [...store.allActors()][0];
      if (victim && deleted++ % 2 === 0) store.deleteActor(victim.atespace, victim.actorId);
    });
    assert.ok(deleted > 0);
    assert.ok(
      pages.slice(0, -1).every((page) => page.length > 0),
      'upstream keeps scanning until the page has page_size actors or the last shard is done',
    );
  });

  it('worker writes are optimistic and the ip is immutable', () => {
    const store = new Store();
    const worker = {
      workerNamespace: 'ns',
      workerPool: 'p',
      workerPod: 'w',
      actorNamespace: '',
      actorTemplate: '',
      actorId: '',
      ip: '10.0.0.1',
      version: 7,
      workerPodUid: 'u',
      nodeName: 'n',
      actorAtespace: '',
    };
    assert.equal(store.createWorker(worker), true);
    assert.equal(store.listWorkers()[0].version, 1);
    assert.throws(() => store.updateWorker({ ...worker, version: 1, ip: '10.0.0.2' }), /ip is immutable/);
    assert.throws(() => store.updateWorker({ ...worker, version: 3 }), PersistenceConflict);
  });
});

describe('locks', () => {
  it('cannot be taken twice, expires with its TTL, releases only with its token', () => {
    const locks = new ActorLocks();
    const token = locks.acquire('a', 0)!;
    assert.equal(locks.acquire('a', 1), undefined);
    locks.release('a', 'someone-else');
    assert.equal(locks.acquire('a', 2), undefined);
    assert.ok(locks.acquire('a', LOCK_TTL_MS + 1), 'expired');
    locks.release('a', token);
  });
});

describe('error normalisation', () => {
  it('maps conflicts to Aborted and plain errors to Internal with the step', () => {
    assert.deepEqual(toStatus(stepFailure('MarkSuspending', new PersistenceConflict('actor a'))), {
      code: GrpcStatus.ABORTED,
      details: 'concurrent update conflict, please retry',
    });
    assert.deepEqual(toStatus(stepFailure('AssignWorker', new Error('boom'))), {
      code: GrpcStatus.INTERNAL,
      details: 'internal server error: workflow failed at step AssignWorker: boom',
    });
  });
});

describe('k8s validation messages', () => {
  it('label keys with prefixes, empty parts and too many slashes', () => {
    assert.deepEqual(qualifiedNameErrors('ate.dev/tier'), []);
    assert.deepEqual(qualifiedNameErrors('/x'), ['prefix part must be non-empty']);
    assert.match(
      qualifiedNameErrors('Bad_Prefix/x')[0],
      /^prefix part a lowercase RFC 1123 subdomain must consist of/,
    );
    assert.deepEqual(qualifiedNameErrors('a/')[0], 'name part must be non-empty');
    // apimachinery v0.36.1 as vendored upstream (pkg/api/validate/content/kube.go, errors.go).
    assert.match(
      qualifiedNameErrors('a/b/c')[0],
      /^a valid label key must consist of .* with an optional DNS subdomain prefix and '\/' \(e\.g\. 'example\.com\/MyName'\)$/,
    );
    assert.equal(qualifiedNameErrors('k'.repeat(64))[0], 'name part must be no more than 63 bytes');
    assert.equal(labelValueErrors('v'.repeat(64))[0], 'must be no more than 63 bytes');
    // Lengths are Go's len(): bytes, not characters.
    assert.equal(labelValueErrors('é'.repeat(32))[0], 'must be no more than 63 bytes');
    assert.deepEqual(labelValueErrors(''), []);
  });

  it('quotes like Go %q', () => {
    assert.equal(goQuote('bad key!'), '"bad key!"');
    assert.equal(goQuote('a"b\\c\n\u0001ü'), '"a\\"b\\\\c\\n\\x01ü"');
  });
});
