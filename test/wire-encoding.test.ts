// Our protos must put every field where upstream does: encode known messages and check the bytes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Actor,
  Actor_Status,
  CreateActorRequest,
  ListActorsRequest,
  ResumeActorRequest,
} from '../src/gen/ateapi';
import {
  CreateSandboxRequest,
  GetCapabilitiesResponse,
  WatchSandboxesEvent,
} from '../src/gen/compute_driver';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const utf8 = (text: string) => Buffer.from(text).toString('hex');

describe('ateapi wire format', () => {
  it('encodes CreateActorRequest.actor_ref as a message at field 1', () => {
    const bytes = CreateActorRequest.encode({
      actorRef: { atespace: 'ws', name: 'a1' },
      actorTemplateNamespace: 'ns',
      actorTemplateName: 't',
      workerSelector: { matchLabels: { k: 'v' } },
    }).finish();
    // field 1, wire type 2 (0x0a), length 8: ActorRef{atespace=1:"ws", name=2:"a1"}
    const actorRef = '0a08' + '0a02' + utf8('ws') + '1202' + utf8('a1');
    assert.equal(
      hex(bytes),
      actorRef +
        '1202' +
        utf8('ns') + // field 2: actor_template_namespace
        '1a01' +
        utf8('t') + // field 3: actor_template_name
        '2208' + // field 4: worker_selector (8 bytes)
        '0a06' + // Selector.match_labels = 1, one map entry (6 bytes): key = 1, value = 2
        '0a01' +
        utf8('k') +
        '1201' +
        utf8('v'),
    );
  });

  it('round-trips an Actor with the enum and snapshot oneof at their field numbers', () => {
    const actor: Actor = Actor.fromPartial({
      actorId: 'a1',
      version: 7,
      status: Actor_Status.STATUS_PAUSED,
      atespace: 'ws',
      latestSnapshotInfo: { type: 1, local: { snapshotPrefix: 'p', nodeVmsWithLocalSnapshots: ['n1'] } },
    });
    const bytes = Actor.encode(actor).finish();
    assert.equal(hex(bytes.subarray(0, 4)), '0a02' + utf8('a1')); // actor_id = 1
    assert.ok(hex(bytes).includes('1007')); // version = 2 (varint 7)
    assert.ok(hex(bytes).includes('2806')); // status = 5 (PAUSED = 6)
    assert.ok(hex(bytes).includes('7a02' + utf8('ws'))); // atespace = 15
    assert.ok(hex(bytes).includes('62')); // latest_snapshot_info = 12 (0x62)
    assert.deepEqual(Actor.decode(bytes), actor);
  });

  it('places ResumeActorRequest.boot at field 2 and ListActorsRequest paging at 1-3', () => {
    assert.equal(
      hex(ResumeActorRequest.encode({ actorRef: { atespace: 'a', name: 'b' }, boot: true }).finish()),
      '0a06' + '0a01' + utf8('a') + '1201' + utf8('b') + '1001',
    );
    assert.equal(
      hex(ListActorsRequest.encode({ pageSize: 5, pageToken: 't', atespace: 'x' }).finish()),
      '0805' + '1201' + utf8('t') + '1a01' + utf8('x'),
    );
  });
});

describe('ComputeDriver wire format', () => {
  it('keeps gateway_manages_lifecycle at field 6 after the reserved 4 and 5', () => {
    const bytes = GetCapabilitiesResponse.encode({
      driverName: 'ateflow',
      driverVersion: '1',
      defaultImage: 'i',
      gatewayManagesLifecycle: true,
      supportsSandboxAuthentication: false,
      driverReportsRuntimeReadiness: false,
    }).finish();
    assert.equal(hex(bytes), '0a07' + utf8('ateflow') + '1201' + utf8('1') + '1a01' + utf8('i') + '3001');
  });

  it('carries the sandbox token at DriverSandboxSpec field 11 and platform_config as a Struct', () => {
    const request = CreateSandboxRequest.fromPartial({
      sandbox: {
        id: 'id1',
        spec: {
          sandboxToken: 'secret',
          template: { image: 'img', platformConfig: { substrate_actor_template: 'tpl' } },
        },
      },
    });
    const bytes = CreateSandboxRequest.encode(request).finish();
    assert.ok(hex(bytes).includes('5a06' + utf8('secret'))); // field 11, wire type 2
    assert.deepEqual(CreateSandboxRequest.decode(bytes), request);
  });

  it('encodes the WatchSandboxesEvent oneof arms at fields 1, 2 and 3', () => {
    const deleted = WatchSandboxesEvent.encode({ deleted: { sandboxId: 'x' } }).finish();
    assert.equal(hex(deleted), '1203' + '0a01' + utf8('x'));
    const platform = WatchSandboxesEvent.encode({ platformEvent: { sandboxId: 'x' } }).finish();
    assert.equal(hex(platform.subarray(0, 1)), '1a');
  });
});
