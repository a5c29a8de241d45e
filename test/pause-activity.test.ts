// The pauseActor activity never issues PauseActor on an actor in another transition: against the
// simulator, which refuses a pause of a RESUMING actor as the real atelet does (InvalidArgument
// "snapshot prefix must be non-empty for type CHECKPOINT_TYPE_LOCAL", the actor left RESUMING).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { actorActivities } from '../src/activities/actors';
import { Actor_Status } from '../src/gen/ateapi';
import { AteapiClient } from '../src/substrate/client';
import type { TemplateStore } from '../src/substrate/template-store';
import { RETRYABLE } from '../src/workflows/failure-types';
import type { ActorRef, ActorView } from '../src/workflows/messages';
import { assertStatus, eventually, startSim, type SimHarness } from './helpers/sim';

describe('pauseActor activity', () => {
  let h: SimHarness;
  let ateapi: AteapiClient;
  let n = 0;
  const atespace = 'pause';
  const activities = (client: AteapiClient = ateapi) => actorActivities(client, {} as TemplateStore);
  const pause = (ref: ActorRef, client?: AteapiClient): Promise<ActorView> =>
    new MockActivityEnvironment().run((r: ActorRef) => activities(client).pauseActor(r), ref);
  const fault = (
    rpc: 'ResumeActor' | 'SuspendActor',
    extra: { code?: GrpcStatus; extraLatencyMs?: number },
  ) =>
    h.sim.core.faults.add({
      rpc,
      actor: '',
      code: GrpcStatus.UNKNOWN,
      message: 'mock atelet failure',
      probability: 0,
      count: 1,
      extraLatencyMs: 0,
      leaveTransitional: true,
      ...extra,
    });
  const newActor = async (): Promise<ActorRef> => {
    const ref = { atespace, name: `a${++n}` };
    await ateapi.createActor({
      actorRef: ref,
      actorTemplateNamespace: 'default',
      actorTemplateName: 'sandbox',
    });
    return ref;
  };

  before(async () => {
    h = await startSim();
    ateapi = new AteapiClient({ endpoint: h.sim.address });
    await eventually(() =>
      h.sim.core.templates.list().every((t) => t.status?.phase === 'Ready') ? true : undefined,
    );
    await ateapi.createAtespace(atespace);
  });
  after(async () => {
    ateapi.close();
    await h.close();
  });

  it('pauses a running actor', async () => {
    const ref = await newActor();
    await ateapi.resumeActor(ref);
    const view = await pause(ref);
    assert.equal(view.status, 'PAUSED');
    assert.equal(view.snapshot, 'LOCAL');
  });

  it('a RESUMING actor left by a failed restore is resumed, then paused', async () => {
    const ref = await newActor();
    fault('ResumeActor', {});
    await assert.rejects(ateapi.resumeActor(ref), /mock atelet failure/);
    assert.equal((await ateapi.getActor(ref)).status, Actor_Status.STATUS_RESUMING);
    // What a plain PauseActor gets (the hazard this activity avoids).
    await assertStatus(
      ateapi.pauseActor(ref),
      GrpcStatus.INVALID_ARGUMENT,
      'snapshot prefix must be non-empty for type CHECKPOINT_TYPE_LOCAL',
    );
    const view = await pause(ref);
    assert.equal(view.status, 'PAUSED');
    assert.equal(view.snapshot, 'LOCAL');
    assert.ok(view.snapshotUri.startsWith(`${ref.name}-`));
  });

  it('a RESUMING actor with a resume in flight: retryable (Aborted), then paused', async () => {
    const ref = await newActor();
    fault('ResumeActor', { code: GrpcStatus.OK, extraLatencyMs: 1_000 });
    const inFlight = ateapi.resumeActor(ref);
    await eventually(async () =>
      (await ateapi.getActor(ref)).status === Actor_Status.STATUS_RESUMING ? true : undefined,
    );
    await assert.rejects(pause(ref), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, RETRYABLE);
      assert.equal(err.nonRetryable, false);
      assert.match(err.message, /another operation is in progress/);
      return true;
    });
    await inFlight;
    assert.equal((await pause(ref)).status, 'PAUSED');
  });

  it('a SUSPENDING actor has its suspend completed and is returned stopped', async () => {
    const ref = await newActor();
    await ateapi.resumeActor(ref);
    fault('SuspendActor', { code: GrpcStatus.UNAVAILABLE });
    await assert.rejects(ateapi.suspendActor(ref));
    assert.equal((await ateapi.getActor(ref)).status, Actor_Status.STATUS_SUSPENDING);
    const view = await pause(ref);
    assert.equal(view.status, 'SUSPENDED');
    assert.equal(view.snapshot, 'EXTERNAL');
  });

  it('an actor that turns RESUMING after the read: the InvalidArgument is retryable', async () => {
    const ref = await newActor();
    fault('ResumeActor', {});
    await assert.rejects(ateapi.resumeActor(ref));
    // A client whose read is from before the actor turned RESUMING.
    const stale = Object.create(ateapi) as AteapiClient;
    const running = await ateapi.getActor(ref);
    stale.getActor = () => Promise.resolve({ ...running, status: Actor_Status.STATUS_RUNNING });
    await assert.rejects(pause(ref, stale), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, RETRYABLE);
      assert.equal(err.nonRetryable, false);
      assert.match(err.message, /snapshot prefix must be non-empty/);
      return true;
    });
    assert.equal((await ateapi.getActor(ref)).status, Actor_Status.STATUS_RESUMING);
  });
});
