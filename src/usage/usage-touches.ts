// Moves each sandbox's idle clock when the OpenShell gateway sees it used (gateway-usage.ts):
// follows every sandbox the facade sees running, and turns its uses into Touch signals, at most
// one per sandbox per interval (the first use at once, then one at the end of a busy interval,
// which is never earlier than the use it stands for), so a sandbox in constant use costs one
// history event per interval and an idle one none. While a relay (an exec, an `ssh` session, a
// port-forward tunnel) is open, every interval counts as used: a long session keeps the sandbox
// awake until it ends, at the same cost. The interval is a quarter of the sandbox's idle timeout,
// between 1 s and 30 s: touches always come well before the deadline.
import { logger } from '../logger';
import type { SandboxEventSource } from '../driver/event-source';
import type { SandboxWorkflows } from '../driver/sandbox-workflows';
import type { SandboxView } from '../workflows/messages';
import { GatewayUsageWatcher, type GatewayUsageOptions } from './gateway-usage';

/** States in which use can reach the sandbox through the gateway. */
const followed = new Set<SandboxView['state']>(['RUNNING', 'RESUMING', 'MIGRATING']);

export type UsageTouchesOptions = Pick<GatewayUsageOptions, 'url' | 'bearerToken' | 'maxSessionMs'>;

const USED = 'exec/SSH/port-forward through the gateway';
const OPEN = 'an exec/SSH/port-forward session open through the gateway';

const touchInterval = (idleTimeoutMs: number) => Math.min(30_000, Math.max(1_000, idleTimeoutMs / 4));

export class UsageTouches {
  private readonly watcher: GatewayUsageWatcher;
  private readonly windows = new Map<string, { timer: NodeJS.Timeout; usedAgain: boolean }>();
  private readonly intervals = new Map<string, number>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly events: SandboxEventSource,
    private readonly sandboxes: Pick<SandboxWorkflows, 'touch'>,
    options: UsageTouchesOptions,
  ) {
    this.watcher = new GatewayUsageWatcher({
      ...options,
      onUse: (sandboxId) => this.used(sandboxId),
      onError: (sandboxId, err) =>
        logger.debug({ sandboxId, err: err.message }, 'gateway usage stream failed'),
    });
  }

  async start(): Promise<void> {
    const subscription = await this.events.subscribe({
      onChange: (change) => {
        if (change.kind === 'sandbox') this.follow(change.view);
        else if (change.kind === 'deleted') this.forget(change.sandboxId);
      },
      onError: (err) => logger.warn({ err: err.message }, 'usage: sandbox event source lost'),
    });
    this.unsubscribe = subscription.unsubscribe;
    for (const view of subscription.snapshot) this.follow(view);
  }

  /** Stops following; resolves once no touch is in flight (the Temporal connection may close). */
  async close(): Promise<void> {
    this.unsubscribe?.();
    for (const window of this.windows.values()) clearTimeout(window.timer);
    this.windows.clear();
    this.watcher.close();
    await Promise.all([...this.touching]);
  }

  private follow(view: SandboxView): void {
    if (!followed.has(view.state) || view.idleTimeoutMs === 0) return this.forget(view.sandboxId);
    this.intervals.set(view.sandboxId, touchInterval(view.idleTimeoutMs));
    this.watcher.watch(view.sandboxId);
  }

  private forget(sandboxId: string): void {
    this.watcher.unwatch(sandboxId);
    this.intervals.delete(sandboxId);
  }

  private used(sandboxId: string, source = USED): void {
    const window = this.windows.get(sandboxId);
    if (window) {
      window.usedAgain = true;
      return;
    }
    this.touch(sandboxId, source);
    const intervalMs = this.intervals.get(sandboxId) ?? touchInterval(0);
    const open = { usedAgain: false, timer: setTimeout(() => this.closeWindow(sandboxId), intervalMs) };
    open.timer.unref();
    this.windows.set(sandboxId, open);
  }

  private closeWindow(sandboxId: string): void {
    const window = this.windows.get(sandboxId);
    this.windows.delete(sandboxId);
    if (window?.usedAgain) this.used(sandboxId);
    else if (window && this.intervals.has(sandboxId) && this.watcher.openRelays(sandboxId) > 0)
      this.used(sandboxId, OPEN);
  }

  private readonly touching = new Set<Promise<void>>();
  private touch(sandboxId: string, source: string): void {
    const touched = this.sandboxes
      .touch(sandboxId, source)
      .catch((err: Error) => logger.debug({ sandboxId, err: err.message }, 'usage: touch failed'))
      .finally(() => this.touching.delete(touched));
    this.touching.add(touched);
  }
}
