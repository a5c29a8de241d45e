// The sandbox's operations and the one table that decides, for each resting state, whether an
// operation runs, is already satisfied, or is refused. The workflow consults it twice: when a
// request is accepted (an idle sandbox refuses at once, nothing is written to history) and again
// when the operation's turn comes (the state may have changed while it waited in the queue).
// Pure and deterministic: unit-tested cell by cell without Temporal (test/sandbox-operations.test.ts).
//
//                 │ RUNNING    SUSPENDED   PAUSED      FAILED      DELETED
//   ──────────────┼─────────────────────────────────────────────────────────
//   start         │ skip       run¹        run¹        run¹ ²      refuse
//   stop          │ run        skip        skip        run ³       refuse
//   checkpoint    │ run        refuse      refuse      refuse      refuse
//   pause         │ run        refuse      refuse      refuse      refuse
//   migrate       │ run        run ⁴       run ⁴       refuse      refuse
//   hold          │ run        run         run         run         refuse
//   release       │ run ⁵      run ⁵       run ⁵       run ⁵       refuse
//   idleSuspend   │ run ⁶      skip        skip        skip        skip
//   delete        │ run        run         run         run         skip (joins)
//
//   ¹ refused while a stop hold is in force (projected over the queue at acceptance)
//   ² recovers: re-provisions when the first provision failed, else settles and resumes the actor
//   ³ settles the actor to SUSPENDED, whatever half-done transition it was left in
//   ⁴ only with a new worker selector (it applies on the next start); refused without one
//   ⁵ skip when no hold is in force
//   ⁶ the workflow re-checks the idle deadline when it runs (a touch may have moved it)
//
// Provisioning is the first operation of every new sandbox and never waits behind others.
// While any operation runs or waits, a new request is accepted and decided when its turn comes.
// Adding an operation: a member of `Operation`, a row in `TABLE`, a case in the workflow's
// `perform` (plus its update definition in messages.ts).
import type { MigrateRequest, SandboxState } from './messages';

export type Operation =
  | { kind: 'provision' }
  | { kind: 'start' }
  | { kind: 'stop' }
  | { kind: 'checkpoint' }
  | { kind: 'pause' }
  | { kind: 'migrate'; request: MigrateRequest }
  | { kind: 'hold'; reason: string }
  | { kind: 'release' }
  /**
   * `deadline`: the idle deadline the timer was armed for when it fired (absent: found past due
   * without a timer); the suspend goes ahead unless a use moved the deadline since.
   */
  | { kind: 'idleSuspend'; deadline?: number }
  | { kind: 'delete' };

export type OperationKind = Operation['kind'];

/** States a sandbox rests in between operations (the others exist only while one runs). */
export type RestingState = Extract<SandboxState, 'RUNNING' | 'SUSPENDED' | 'PAUSED' | 'FAILED' | 'DELETED'>;
export const RESTING_STATES: readonly RestingState[] = [
  'RUNNING',
  'SUSPENDED',
  'PAUSED',
  'FAILED',
  'DELETED',
];
export const isResting = (state: SandboxState): state is RestingState =>
  (RESTING_STATES as readonly string[]).includes(state);

type Cell = 'run' | 'skip' | 'refuse';
type Row = Record<RestingState, Cell>;

const onlyWhileRunning: Row = {
  RUNNING: 'run',
  SUSPENDED: 'refuse',
  PAUSED: 'refuse',
  FAILED: 'refuse',
  DELETED: 'refuse',
};

export const TABLE: Record<Exclude<OperationKind, 'provision'>, Row> = {
  start: { RUNNING: 'skip', SUSPENDED: 'run', PAUSED: 'run', FAILED: 'run', DELETED: 'refuse' },
  stop: { RUNNING: 'run', SUSPENDED: 'skip', PAUSED: 'skip', FAILED: 'run', DELETED: 'refuse' },
  checkpoint: onlyWhileRunning,
  pause: onlyWhileRunning,
  migrate: { RUNNING: 'run', SUSPENDED: 'run', PAUSED: 'run', FAILED: 'refuse', DELETED: 'refuse' },
  hold: { RUNNING: 'run', SUSPENDED: 'run', PAUSED: 'run', FAILED: 'run', DELETED: 'refuse' },
  release: { RUNNING: 'run', SUSPENDED: 'run', PAUSED: 'run', FAILED: 'run', DELETED: 'refuse' },
  idleSuspend: { RUNNING: 'run', SUSPENDED: 'skip', PAUSED: 'skip', FAILED: 'skip', DELETED: 'skip' },
  delete: { RUNNING: 'run', SUSPENDED: 'run', PAUSED: 'run', FAILED: 'run', DELETED: 'skip' },
};

/** What the table needs to know about the sandbox besides its state. */
export interface Facts {
  state: RestingState;
  sandboxId: string;
  /** The stop hold's reason, when one is in force. */
  hold?: string;
}

export type Verdict = { verdict: 'run' } | { verdict: 'skip' } | { verdict: 'refuse'; message: string };

const RUN: Verdict = { verdict: 'run' };
const SKIP: Verdict = { verdict: 'skip' };
const refuse = (message: string): Verdict => ({ verdict: 'refuse', message });

/** The table's verdict for `op` on a sandbox described by `facts`. */
export function decide(op: Operation, facts: Facts): Verdict {
  if (op.kind === 'provision') return facts.state === 'DELETED' ? SKIP : RUN;
  const cell = TABLE[op.kind][facts.state];
  if (cell === 'skip') return SKIP;
  if (cell === 'refuse') return refuse(refusal(op.kind, facts));
  // Exceptions the table's footnotes name.
  if (op.kind === 'start' && facts.hold !== undefined) {
    return refuse(
      `sandbox ${facts.sandboxId} is on hold (${facts.hold || 'no reason given'}); release it first`,
    );
  }
  if (op.kind === 'release' && facts.hold === undefined) return SKIP;
  if (op.kind === 'migrate' && facts.state !== 'RUNNING' && op.request.workerSelector === undefined) {
    return refuse(
      `sandbox ${facts.sandboxId} is ${facts.state}: there is nothing to move; start it first, ` +
        'or give a worker selector for its next start',
    );
  }
  return RUN;
}

function refusal(kind: OperationKind, { state, sandboxId }: Facts): string {
  if (state === 'DELETED') return `sandbox ${sandboxId} is deleted`;
  if (state === 'FAILED')
    return `cannot ${kind} sandbox ${sandboxId}: it FAILED; start it to recover, or delete it`;
  return `cannot ${kind} sandbox ${sandboxId} while it is ${state}; start it first`;
}

/** The hold after the queued operations have run (for decisions at acceptance). */
export function projectedHold(current: string | undefined, queued: readonly Operation[]): string | undefined {
  let hold = current;
  for (const op of queued) {
    if (op.kind === 'hold') hold = op.reason;
    else if (op.kind === 'release') hold = undefined;
  }
  return hold;
}
