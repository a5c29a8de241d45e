// The watch poller when visibility reports a change late. A real server does that only under
// load (seen at 10,000 sandboxes on a busy dev server: a record that showed up after the poll's
// 2 s lookback had moved past it), and not on demand, so visibility is stood in for here by a
// fake whose records become visible a set time after their SandboxChangedAt, with Node's mock
// clock; the poller itself is the real one.
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { SandboxEventSource, type SandboxChange } from '../src/driver/event-source';
import type { SandboxExecution, SandboxWorkflows, ViewsResult } from '../src/driver/sandbox-workflows';
import type { SandboxState, SandboxView } from '../src/workflows/messages';

const POLL_MS = 250;

/** What visibility will report for one sandbox, from `visibleAtMs` on. */
interface VisibleRecord {
  execution: SandboxExecution;
  visibleAtMs: number;
}

/** A stand-in for the facade's Temporal reads, backed by records that become visible late. */
class LateVisibility {
  private readonly records = new Map<string, VisibleRecord[]>();

  /** The sandbox changed at `changedAtMs`; visibility shows it `lagMs` later. */
  change(sandboxId: string, state: SandboxState, changedAtMs: number, lagMs = 0, deleted = false): void {
    const view = {
      sandboxId,
      sandboxName: sandboxId,
      state,
      detail: state,
      events: [],
    } as unknown as SandboxView;
    const execution = { sandboxId, running: !deleted, deleted, changedAtMs, view };
    const history = this.records.get(sandboxId) ?? [];
    history.push({ execution, visibleAtMs: changedAtMs + lagMs });
    this.records.set(sandboxId, history);
  }

  /** Each sandbox's latest record that is visible now. */
  private visible(): SandboxExecution[] {
    const now = Date.now();
    return [...this.records.values()].flatMap((history) => {
      const shown = history.filter((record) => record.visibleAtMs <= now);
      return shown.length > 0 ? [shown[shown.length - 1].execution] : [];
    });
  }

  readonly reads: SandboxWorkflows = {
    running: async () => this.visible().filter((e) => e.running),
    countRunning: async () => this.visible().filter((e) => e.running).length,
    changedSince: async (sinceMs: number) => this.visible().filter((e) => e.changedAtMs >= sinceMs),
    viewsOf: async (executions: SandboxExecution[]): Promise<ViewsResult> => ({
      views: executions.map((e) => e.view!),
      failed: new Map(),
    }),
    views: async (): Promise<ViewsResult> => ({ views: [], failed: new Map() }),
    describe: async (id: string) => this.visible().find((e) => e.sandboxId === id),
    writtenWithin: () => false,
  } as unknown as SandboxWorkflows;
}

/** Moves the mock clock on in poll-sized steps, letting each poll's promises settle. */
async function advance(ms: number): Promise<void> {
  for (let passed = 0; passed < ms; passed += 50) {
    mock.timers.tick(50);
    for (let i = 0; i < 20; i++) await Promise.resolve();
  }
}

describe('watch poller with visibility that reports changes late', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('applies a change that showed up after the lookback within one resync, and announces a deletion once', async () => {
    const visibility = new LateVisibility();
    const t0 = Date.now();
    visibility.change('a', 'PROVISIONING', t0);
    const source = new SandboxEventSource(visibility.reads, {
      pollMs: POLL_MS,
      lossMs: 60_000,
      temporalAddress: 'fake',
    });
    const changes: SandboxChange[] = [];
    const subscribing = source.subscribe({ onChange: (c) => changes.push(c), onError: assert.fail });
    for (let i = 0; i < 20; i++) await Promise.resolve();
    const { snapshot, unsubscribe } = await subscribing;
    assert.deepEqual(
      snapshot.map((v) => v.state),
      ['PROVISIONING'],
    );

    // RUNNING at t0 + 1 s, visible only 5 s later: every poll's 2 s lookback has passed it by.
    visibility.change('a', 'RUNNING', t0 + 1_000, 5_000);
    await advance(10_000);
    const states = () => changes.flatMap((c) => (c.kind === 'sandbox' ? [c.view.state] : []));
    assert.deepEqual(states(), [], 'no poll window held the late record');
    assert.equal(source.cached('a')?.state, 'PROVISIONING');

    // The resync (every 30 s) re-reads a longer window and applies it.
    await advance(21_000);
    assert.deepEqual(states(), ['RUNNING']);
    assert.equal(source.cached('a')?.state, 'RUNNING');

    // Deleted, visible at once; later resyncs read the same closed record again.
    visibility.change('a', 'DELETED', Date.now(), 0, true);
    await advance(70_000);
    assert.deepEqual(
      changes.filter((c) => c.kind === 'deleted').map((c) => c.kind === 'deleted' && c.sandboxId),
      ['a'],
      'Deleted announced once',
    );
    unsubscribe();
  });
});
