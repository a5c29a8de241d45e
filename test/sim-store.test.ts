// Unit checks of the simulator's store, locks, error mapping and k8s-style validation
// (upstream ateredis_test and the validation messages not reachable through one RPC).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Actor, Actor_Status } from '../src/gen/ateapi';
import { PersistenceConflict, stepFailure, toStatus } from '../src/sim/errors';
import { ActorLocks, LOCK_TTL_MS } from '../src/sim/locks';
import { Store } from '../src/sim/store';
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

  it('paginates without duplicates on a stable data set', () => {
    const store = new Store();
    for (let i = 0; i < 25; i++) store.createActor(actor(`a${i}`, i % 2 ? 'odd' : 'even'));
    const seen: string[] = [];
    let cursor = 0;
    do {
      const page = store.listActors('', cursor, 4);
      seen.push(...page.actors.map((a) => `${a.atespace}/${a.actorId}`));
      cursor = page.next;
    } while (cursor !== 0);
    assert.equal(seen.length, 25);
    assert.equal(new Set(seen).size, 25);
    assert.equal(store.listActors('odd', 0, 1000).actors.length, 12);
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
    assert.match(
      qualifiedNameErrors('a/b/c')[0],
      /^a qualified name must consist of .* with an optional DNS subdomain prefix and '\/' \(e\.g\. 'example\.com\/MyName'\)$/,
    );
    assert.equal(qualifiedNameErrors('k'.repeat(64))[0], 'name part must be no more than 63 characters');
    assert.equal(labelValueErrors('v'.repeat(64))[0], 'must be no more than 63 characters');
    assert.deepEqual(labelValueErrors(''), []);
  });

  it('quotes like Go %q', () => {
    assert.equal(goQuote('bad key!'), '"bad key!"');
    assert.equal(goQuote('a"b\\c\n\u0001ü'), '"a\\"b\\\\c\\n\\x01ü"');
  });
});
