// Bad input never crashes the simulator: random bytes on every method, and random
// (structured) requests that must each get a gRPC status — with the server still answering.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client, credentials, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { ControlService } from '../src/gen/ateapi';
import { CONTROL_RPCS } from '../src/sim/faults';
import { Random } from '../src/sim/random';
import { startSim, type SimHarness } from './helpers/sim';

const identity = (b: Buffer) => b;

describe('malformed and random requests', () => {
  let h: SimHarness;
  let raw: Client;
  before(async () => {
    h = await startSim();
    raw = new Client(h.sim.address, credentials.createInsecure());
    await h.api.call('CreateAtespace', { name: 'ws' });
  });
  after(async () => {
    raw.close();
    await h.close();
  });

  const rawCall = (path: string, body: Buffer) =>
    new Promise<GrpcStatus>((resolve) => {
      raw.makeUnaryRequest(path, identity, identity, body, (err: ServiceError | null) =>
        resolve(err ? err.code : GrpcStatus.OK),
      );
    });

  it('survives random bytes on every method', async () => {
    const random = new Random(7);
    for (const method of Object.values(ControlService)) {
      for (let i = 0; i < 15; i++) {
        const code = await rawCall(method.path, randomBytes(random.int(64)));
        assert.notEqual(code, GrpcStatus.UNAVAILABLE, `${method.path} still answers`);
      }
    }
    await h.api.call('ListAtespaces', {});
  });

  it('answers random structured requests with a status, never a crash', async () => {
    const random = new Random(11);
    const strings = [
      '',
      'a',
      'id1',
      'ws',
      'ID1',
      'a_b',
      'a'.repeat(64),
      'a'.repeat(300),
      'ü',
      '\u0000',
      'x/y',
      '-a-',
      'ate-golden',
    ];
    const text = () =>
      random.next() < 0.8 ? random.pick(strings)! : randomBytes(random.int(20)).toString('latin1');
    const selector = () =>
      random.next() < 0.5
        ? undefined
        : { matchLabels: Object.fromEntries(Array.from({ length: random.int(13) }, () => [text(), text()])) };
    const allowed = new Set([
      GrpcStatus.OK,
      GrpcStatus.INVALID_ARGUMENT,
      GrpcStatus.NOT_FOUND,
      GrpcStatus.FAILED_PRECONDITION,
      GrpcStatus.ALREADY_EXISTS,
      GrpcStatus.ABORTED,
      GrpcStatus.INTERNAL,
    ]);
    const seen = new Map<GrpcStatus, number>();
    for (let i = 0; i < 600; i++) {
      const rpc = random.pick(CONTROL_RPCS.filter((r) => r !== 'DebugClear'))!;
      const request = {
        actorRef: random.next() < 0.9 ? { atespace: text(), name: text() } : undefined,
        actorTemplateNamespace: random.pick(['', 'default', 'x'])!,
        actorTemplateName: random.pick(['', 'sandbox', 'nope'])!,
        workerSelector: selector(),
        boot: random.next() < 0.5,
        pageSize: random.pick([-5, 0, 1, 2, 1000, 1001, 2 ** 31 - 1])!,
        pageToken: random.pick(['', 'garbage', Buffer.from('{"cursor":1}').toString('base64')])!,
        atespace: text(),
        name: text(),
      };
      let code = GrpcStatus.OK;
      try {
        await h.api.call(rpc, request);
      } catch (err) {
        code = (err as ServiceError).code;
        if (code === GrpcStatus.INTERNAL) {
          assert.match(
            (err as ServiceError).details,
            /^internal server error: /,
            `${rpc} ${JSON.stringify(request)}`,
          );
        }
      }
      assert.ok(allowed.has(code), `${rpc} answered ${GrpcStatus[code]}`);
      seen.set(code, (seen.get(code) ?? 0) + 1);
    }
    assert.ok((seen.get(GrpcStatus.INVALID_ARGUMENT) ?? 0) > 0);
    await h.api.call('ListAtespaces', {});
  });
});
