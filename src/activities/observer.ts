// The fleet observer's long-running activity: sweeps Substrate on an interval and heartbeats, so a
// crashed worker hands the observer to another worker within the heartbeat timeout.
import { Context, heartbeat, sleep } from '@temporalio/activity';
import type { FleetObserver } from '../observer/fleet-observer';

export function observerActivities(observer: FleetObserver) {
  return {
    /** Sweeps every `intervalMs` until `runForMs` has passed, then returns (the workflow loops). */
    async observeFleet(intervalMs: number, runForMs: number): Promise<void> {
      const until = Date.now() + runForMs;
      const { log, cancellationSignal } = Context.current();
      while (Date.now() < until && !cancellationSignal.aborted) {
        try {
          const report = await observer.pollOnce();
          if (report.signalled > 0 || report.failed > 0)
            log.info('fleet observer signalled sandboxes', { ...report });
          heartbeat(report);
        } catch (err) {
          if (cancellationSignal.aborted) return; // the worker is shutting down: nothing to report
          // Substrate or Temporal briefly unreachable: keep the observer alive and try again.
          log.warn('fleet observer sweep failed', { error: (err as Error).message });
          heartbeat();
        }
        await sleep(intervalMs);
      }
    },
  };
}
