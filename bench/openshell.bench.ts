// Through the real OpenShell parts: how long the `openshell` CLI waits for each lifecycle step
// against `ateflow dev`'s stack (real gateway, process-backed supervisors), at simulator latency ×0
// and ×1. Wall time of each CLI call, which returns when the gateway shows the target phase
// (create/start: Ready, i.e. the supervisor connected; stop: Stopped). Prints figures only.
import { locateOpenShell } from '../src/openshell/binaries';
import { runOpenShell } from '../src/openshell/cli';
import type { RunningGateway } from '../src/openshell/gateway';
import { startTestDevStack } from '../test/helpers/dev-stack';
import { figure } from './figures';

const ROUNDS = 3;
const STEPS = ['create', 'exec', 'stop', 'start', 'delete'] as const;

export async function run(): Promise<void> {
  const bins = locateOpenShell();
  if ('skip' in bins) {
    figure(`skipped: ${bins.skip}`);
    return;
  }
  for (const latencyScale of [0, 1]) {
    const dev = await startTestDevStack(latencyScale, { gateway: true });
    try {
      const gateway = dev.stack.gateway as RunningGateway;
      const times: Record<(typeof STEPS)[number], number[]> = {
        create: [],
        exec: [],
        stop: [],
        start: [],
        delete: [],
      };
      for (let round = 0; round < ROUNDS; round++) {
        const name = `bench-${latencyScale}-${round}`;
        const args: Record<(typeof STEPS)[number], string[]> = {
          create: ['sandbox', 'create', '--name', name, '--detach', '--no-tty', '--', 'sleep', 'infinity'],
          exec: ['sandbox', 'exec', '-n', name, '--no-tty', '--', 'true'],
          stop: ['sandbox', 'stop', name],
          start: ['sandbox', 'start', name],
          delete: ['sandbox', 'delete', name],
        };
        for (const step of STEPS) {
          const result = await runOpenShell(bins.cli, gateway.cliEnv, args[step], { timeoutMs: 300_000 });
          if (result.code !== 0) throw new Error(`openshell ${step} failed: ${result.stderr}`);
          times[step].push(result.ms / 1000);
        }
      }
      const line = STEPS.map((step) => {
        const sorted = [...times[step]].sort((a, b) => a - b);
        return `${step} ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} s (max ${sorted[sorted.length - 1].toFixed(2)})`;
      });
      figure(`latency ×${latencyScale}, ${ROUNDS} sandboxes, median: ${line.join(', ')}`);
    } finally {
      await dev.teardown();
    }
  }
}
