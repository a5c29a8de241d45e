// Operator-injected failures for ateapi.Control calls. A rule hits calls of one RPC (or all)
// and optionally one actor name, always or with a probability, a limited number of times.
// It fails the call up front, or — for lifecycle RPCs with leaveTransitional — inside the
// atelet step, which leaves the actor RESUMING/SUSPENDING/PAUSING as a real atelet error does.
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Random } from './random';

export const LIFECYCLE_RPCS = ['ResumeActor', 'SuspendActor', 'PauseActor'] as const;

export const CONTROL_RPCS = [
  'GetActor',
  'CreateActor',
  'UpdateActor',
  'SuspendActor',
  'PauseActor',
  'ResumeActor',
  'DeleteActor',
  'ListWorkers',
  'ListActors',
  'CreateAtespace',
  'GetAtespace',
  'ListAtespaces',
  'DeleteAtespace',
  'DebugClear',
] as const;
export type ControlRpc = (typeof CONTROL_RPCS)[number];

export interface FaultRule {
  id: string;
  /** A Control method name or '*'. */
  rpc: string;
  /** Actor name filter; '' matches any call. */
  actor: string;
  /** gRPC code; OK only adds latency. */
  code: GrpcStatus;
  message: string;
  /** In (0, 1]; 0 means always. */
  probability: number;
  /** Hits left; 0 means unlimited. */
  count: number;
  extraLatencyMs: number;
  leaveTransitional: boolean;
  hits: number;
}

/** Where in a call a fault is applied. */
export type FaultStage = 'request' | 'atelet';

export class FaultInjector {
  private readonly rules: FaultRule[] = [];
  private nextId = 1;

  constructor(private readonly random: Random) {}

  /** Validates and adds a rule; throws an Error whose message says what is wrong. */
  add(input: Omit<FaultRule, 'id' | 'hits'>): FaultRule {
    if (input.rpc !== '*' && !(CONTROL_RPCS as readonly string[]).includes(input.rpc)) {
      throw new Error(`unknown rpc ${JSON.stringify(input.rpc)}: use an ateapi.Control method name or "*"`);
    }
    const code: number = input.code;
    if (!Number.isInteger(code) || code < 0 || code > 16) {
      throw new Error(`unknown gRPC code ${code}`);
    }
    if (!(input.probability >= 0 && input.probability <= 1))
      throw new Error('probability must be within [0, 1]');
    if (input.count < 0 || input.extraLatencyMs < 0)
      throw new Error('count and extra latency cannot be negative');
    if (
      input.leaveTransitional &&
      input.rpc !== '*' &&
      !(LIFECYCLE_RPCS as readonly string[]).includes(input.rpc)
    ) {
      throw new Error('leave_transitional applies only to ResumeActor, SuspendActor and PauseActor');
    }
    if (input.code === GrpcStatus.OK && input.extraLatencyMs === 0) {
      throw new Error('a fault needs a non-OK code or extra latency');
    }
    const rule: FaultRule = {
      ...input,
      message: input.message || 'injected fault',
      id: `f${this.nextId++}`,
      hits: 0,
    };
    this.rules.push(rule);
    return rule;
  }

  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /** Removes one rule by id, or all when id is empty; returns how many went. */
  clear(id = ''): number {
    const before = this.rules.length;
    for (let i = this.rules.length - 1; i >= 0; i--)
      if (id === '' || this.rules[i].id === id) this.rules.splice(i, 1);
    return before - this.rules.length;
  }

  /** The first rule that hits this call at this stage, consuming one of its count. */
  take(rpc: string, actor: string, stage: FaultStage): FaultRule | undefined {
    const isLifecycle = (LIFECYCLE_RPCS as readonly string[]).includes(rpc);
    for (const rule of this.rules) {
      if (rule.rpc !== '*' && rule.rpc !== rpc) continue;
      if (rule.actor !== '' && rule.actor !== actor) continue;
      const ruleStage: FaultStage = rule.leaveTransitional && isLifecycle ? 'atelet' : 'request';
      if (ruleStage !== stage) continue;
      if (rule.probability > 0 && this.random.next() >= rule.probability) continue;
      rule.hits++;
      if (rule.count > 0 && --rule.count === 0) this.rules.splice(this.rules.indexOf(rule), 1);
      return { ...rule };
    }
    return undefined;
  }
}
