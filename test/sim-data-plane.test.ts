// The workload model and the HTTP data plane: state captured by snapshots, lost with a pod,
// and actors resumed by incoming traffic like Substrate's router does.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Actor_Status } from '../src/gen/ateapi';
import { assertStatus, eventually, startSim, type SimHarness } from './helpers/sim';

interface Reply {
  status: number;
  body: unknown;
  pod?: string;
}

/** One HTTP request to the data plane, optionally with a Host header for atenet-style routing. */
function http(base: string, method: string, path: string, body?: unknown, host?: string): Promise<Reply> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, headers: { 'content-type': 'application/json', ...(host ? { host } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
            pod: res.headers['x-sim-worker-pod'] as string | undefined,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('workload and data plane', () => {
  let h: SimHarness;
  let n = 0;
  const fresh = async () => {
    const ref = { atespace: 'ws', name: `actor-${++n}` };
    await h.api.call('CreateActor', {
      actorRef: ref,
      actorTemplateNamespace: 'default',
      actorTemplateName: 'sandbox',
    });
    return ref;
  };
  const at = (ref: { atespace: string; name: string }, path: string) =>
    `/actors/${ref.atespace}/${ref.name}${path}`;
  const status = async (ref: { atespace: string; name: string }) =>
    (await h.api.call('GetActor', { actorRef: ref })).actor!.status;

  before(async () => {
    h = await startSim();
    await h.api.call('CreateAtespace', { name: 'ws' });
  });
  after(async () => h.close());

  for (const stop of ['PauseActor', 'SuspendActor'] as const) {
    it(`upstream demo e2e with ${stop}: counter 1, stop, resume, counter 2, then delete`, async () => {
      const ref = await fresh();
      await h.api.call('ResumeActor', { actorRef: ref });
      assert.deepEqual((await http(h.sim.dataPlaneUrl, 'POST', at(ref, '/counter'))).body, { counter: 1 });
      await h.api.call(stop, { actorRef: ref });
      await h.api.call('ResumeActor', { actorRef: ref });
      assert.deepEqual((await http(h.sim.dataPlaneUrl, 'POST', at(ref, '/counter'))).body, { counter: 2 });
      await h.api.call('SuspendActor', { actorRef: ref });
      await h.api.call('DeleteActor', { actorRef: ref });
      await assertStatus(h.api.call('GetActor', { actorRef: ref }), GrpcStatus.NOT_FOUND);
    });
  }

  it('memory and chat history survive suspend/resume; a dead pod loses what came after the snapshot', async () => {
    const ref = await fresh();
    const base = h.sim.dataPlaneUrl;
    assert.equal((await http(base, 'PUT', at(ref, '/memory/goal'), { text: 'ship it' })).status, 200);
    assert.equal(
      (await http(base, 'POST', at(ref, '/messages'), { role: 'user', content: 'm1' })).status,
      201,
    );
    await h.api.call('SuspendActor', { actorRef: ref });
    const resumed = (await h.api.call('ResumeActor', { actorRef: ref })).actor!;
    await http(base, 'POST', at(ref, '/messages'), { content: 'm2' });
    const messages = (await http(base, 'GET', at(ref, '/messages'))).body as { content: string }[];
    assert.deepEqual(
      messages.map((m) => m.content),
      ['m1', 'm2'],
    );

    h.sim.core.killWorker(resumed.ateomPodName);
    assert.equal(await status(ref), Actor_Status.STATUS_SUSPENDED);
    const after = await http(base, 'GET', at(ref, '/messages'));
    assert.deepEqual(
      (after.body as { content: string }[]).map((m) => m.content),
      ['m1'],
      'm2 was never snapshotted',
    );
    assert.notEqual(after.pod, resumed.ateomPodName);
    assert.deepEqual((await http(base, 'GET', at(ref, '/memory/goal'))).body, {
      key: 'goal',
      value: { text: 'ship it' },
    });
  });

  it('resumes a suspended actor on traffic, once for concurrent requests (single-flight)', async () => {
    const ref = await fresh();
    const before = (await h.api.call('GetActor', { actorRef: ref })).actor!;
    const host = `${ref.name}.${ref.atespace}.actors.resources.substrate.ate.dev`;
    const replies = await Promise.all(
      Array.from({ length: 5 }, () => http(h.sim.dataPlaneUrl, 'POST', '/counter', undefined, host)),
    );
    assert.deepEqual(
      replies.map((r) => r.status),
      [200, 200, 200, 200, 200],
    );
    assert.deepEqual(replies.map((r) => (r.body as { counter: number }).counter).sort(), [1, 2, 3, 4, 5]);
    const actor = (await h.api.call('GetActor', { actorRef: ref })).actor!;
    assert.equal(actor.status, Actor_Status.STATUS_RUNNING);
    assert.equal(actor.version, before.version + 2, 'exactly one resume');
    const short = await http(
      h.sim.dataPlaneUrl,
      'GET',
      '/counter',
      undefined,
      `${ref.name}.actors.resources.substrate.ate.dev`,
    );
    assert.deepEqual(short.body, { counter: 5 }, 'a host without the atespace works when the name is unique');
  });

  it('retries Aborted while another operation holds the lock', async () => {
    const ref = await fresh();
    await h.api.call('ResumeActor', { actorRef: ref });
    h.sim.core.faults.add({
      rpc: 'PauseActor',
      actor: ref.name,
      code: GrpcStatus.OK,
      message: '',
      probability: 0,
      count: 1,
      extraLatencyMs: 2_000,
      leaveTransitional: true,
    });
    const pausing = h.api.call('PauseActor', { actorRef: ref });
    await eventually(async () => ((await status(ref)) === Actor_Status.STATUS_PAUSING ? true : undefined));
    const reply = await http(h.sim.dataPlaneUrl, 'GET', at(ref, '/counter'));
    assert.equal(reply.status, 200);
    assert.equal((await pausing).actor?.status, Actor_Status.STATUS_PAUSED);
    assert.equal(await status(ref), Actor_Status.STATUS_RUNNING, 'traffic resumed it after the pause');
  });

  it('maps resume errors and bad requests to HTTP like the router', async () => {
    const base = h.sim.dataPlaneUrl;
    assert.equal((await http(base, 'GET', '/actors/ws/missing/')).status, 404);
    assert.equal((await http(base, 'GET', '/elsewhere')).status, 404);
    const ref = await fresh();
    assert.equal((await http(base, 'PUT', at(ref, '/memory/k'), undefined)).status, 400);
    assert.equal((await http(base, 'DELETE', at(ref, '/messages'))).status, 405);
    h.sim.core.scalePool('default', 0);
    const other = await fresh();
    const full = await http(base, 'GET', at(other, '/'));
    assert.equal(full.status, 503);
    assert.deepEqual(full.body, { error: 'no free workers available' });
  });
});
