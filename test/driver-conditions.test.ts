// What the gateway derives from our DriverSandbox (reference §3): only Ready/Suspended, transient
// reasons for everything that is not a real failure, deleting=true while tearing down.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { toDriverSandbox, toPlatformEvent } from '../src/driver/driver-sandbox';
import type { SandboxState, SandboxView } from '../src/workflows/messages';

const TRANSIENT = [
  'reconcilererror',
  'dependenciesnotready',
  'supervisornotconnected',
  'starting',
  'containerstarting',
  'containercreated',
  'healthcheckstarting',
  'inspectfailed',
];

function view(state: SandboxState, extra: Partial<SandboxView> = {}): SandboxView {
  return {
    sandboxId: 'sb-1',
    sandboxName: 'Bright Otter',
    workspace: 'Team_A',
    state,
    detail: `detail of ${state}`,
    waitingForCapacity: false,
    actor: { atespace: 'openshell', name: 'sb-1' },
    template: { namespace: 'openshell-sandboxes', name: 'oshl-sb-1' },
    templateOwned: true,
    labels: {},
    workerSelector: {},
    idleTimeoutMs: 0,
    lastActiveAtMs: 0,
    idleDeadlineMs: 0,
    createdAtMs: 1_700_000_000_000,
    events: [],
    ...extra,
  };
}

/** The gateway's derive_phase (reference §3.1, including the pre-#2933 Suspended-first order). */
function derivePhase(sandbox: ReturnType<typeof toDriverSandbox>): string {
  const s = sandbox.status!;
  if (s.deleting) return 'Deleting';
  if (s.conditions.some((c) => c.type.toLowerCase() === 'suspended' && c.status === 'True')) return 'Stopped';
  const ready = s.conditions.find((c) => c.type === 'Ready');
  if (!ready) return 'Provisioning';
  if (ready.status === 'True') return 'Ready';
  if (ready.status === 'False')
    return TRANSIENT.includes(ready.reason.toLowerCase()) ? 'Provisioning' : 'Error';
  return 'Provisioning';
}

describe('DriverSandbox conditions', () => {
  const expected: [SandboxState, string][] = [
    ['PROVISIONING', 'Provisioning'],
    ['RESUMING', 'Provisioning'],
    ['MIGRATING', 'Provisioning'],
    ['RUNNING', 'Ready'],
    ['SUSPENDING', 'Provisioning'],
    ['SUSPENDED', 'Stopped'],
    ['PAUSED', 'Stopped'],
    ['DELETING', 'Deleting'],
    ['FAILED', 'Error'],
  ];
  for (const [state, phase] of expected) {
    it(`${state} derives the gateway phase ${phase}`, () => {
      const sandbox = toDriverSandbox(view(state));
      assert.equal(derivePhase(sandbox), phase);
      for (const c of sandbox.status!.conditions) assert.ok(['Ready', 'Suspended'].includes(c.type), c.type);
      // Never Ready=True next to Suspended=True (the gateways before and after #2933 disagree).
      const types = sandbox.status!.conditions.map((c) => `${c.type}=${c.status}`);
      assert.ok(!(types.includes('Ready=True') && types.includes('Suspended=True')));
    });
  }

  it('echoes id, name and workspace exactly; instance id is the actor name', () => {
    const sandbox = toDriverSandbox(view('RUNNING'));
    assert.equal(sandbox.id, 'sb-1');
    assert.equal(sandbox.name, 'Bright Otter');
    assert.equal(sandbox.workspace, 'Team_A');
    assert.equal(sandbox.status!.instanceId, 'sb-1');
  });

  it('puts our detail in the message of transient conditions', () => {
    const [ready] = toDriverSandbox(view('RESUMING', { detail: 'restoring 1.2 GB' })).status!.conditions;
    assert.deepEqual(
      [ready.type, ready.status, ready.reason, ready.message],
      ['Ready', 'False', 'Starting', 'restoring 1.2 GB'],
    );
    const waiting = toDriverSandbox(view('RESUMING', { waitingForCapacity: true })).status!.conditions[0];
    assert.equal(waiting.reason, 'DependenciesNotReady');
  });

  it('reports a stop in progress as Suspended=False/PodTerminating, not Suspended=True', () => {
    const conditions = toDriverSandbox(view('SUSPENDING')).status!.conditions;
    assert.ok(
      conditions.some((c) => c.type === 'Suspended' && c.status === 'False' && c.reason === 'PodTerminating'),
    );
    assert.ok(!conditions.some((c) => c.type === 'Suspended' && c.status === 'True'));
  });

  it('explains a hold in the stopped message', () => {
    const conditions = toDriverSandbox(view('SUSPENDED', { hold: { reason: 'quarantine', sinceMs: 1 } }))
      .status!.conditions;
    assert.match(conditions[0].message, /held \(quarantine\): release the hold before starting/);
  });

  it('never lets a failure reason look transient, and says what to do', () => {
    const failed = toDriverSandbox(
      view('FAILED', {
        failure: { reason: 'Starting', message: 'template never became Ready', recovery: 'delete' },
      }),
    );
    const [ready] = failed.status!.conditions;
    assert.equal(ready.reason, 'SandboxFailed');
    assert.match(ready.message, /template never became Ready \(history: ateflow sandbox history /);
    const own = toDriverSandbox(
      view('FAILED', { failure: { reason: 'RestoreFailed', message: 'x', recovery: 'delete' } }),
    );
    assert.equal(own.status!.conditions[0].reason, 'RestoreFailed');
  });

  it('shows a FAILED sandbox that start recovers as stopped, never as the terminal Error', () => {
    const failed = toDriverSandbox(
      view('FAILED', { failure: { reason: 'StopFailed', message: 'stop failed: boom', recovery: 'start' } }),
    );
    const byType = Object.fromEntries(failed.status!.conditions.map((c) => [c.type, c]));
    assert.equal(byType.Suspended?.status, 'True');
    assert.equal(byType.Ready?.status, 'False');
    assert.equal(byType.Ready?.reason, 'DependenciesNotReady'); // transient: the gateway keeps it Stopped
    assert.match(byType.Ready.message, /stop failed: boom/);
  });

  it('turns lifecycle events into ateflow platform events with their progress metadata', () => {
    const event = toPlatformEvent({
      seq: 3,
      timestampMs: 42,
      type: 'Normal',
      reason: 'Resuming',
      message: 'restoring memory snapshot',
      metadata: { 'openshell.progress.active_step': 'starting_sandbox' },
    });
    assert.equal(event.source, 'ateflow');
    assert.equal(event.reason, 'Resuming');
    assert.equal(event.metadata['openshell.progress.active_step'], 'starting_sandbox');
  });
});
