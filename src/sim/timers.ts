// Background work the simulator schedules (pod starts, terminations, resyncs, controller
// requeues). A delay of 0 runs the work at once, which keeps latency scale 0 deterministic;
// stop() cancels everything still pending.
export class Timers {
  private readonly pending = new Set<NodeJS.Timeout>();
  private stopped = false;

  after(ms: number, work: () => void): void {
    if (this.stopped) return;
    if (ms <= 0) {
      work();
      return;
    }
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      work();
    }, ms);
    this.pending.add(timer);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }
}
