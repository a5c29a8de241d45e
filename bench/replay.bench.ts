// What a workflow cache eviction costs: when an evicted sandbox gets its next task (a start, a
// stop, the idle timer), its worker replays the history since its last continue-as-new. This
// replays recorded sandbox histories (test/histories/, current generation) through one replay
// worker many times and prints the time per replay, next to each history's size.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../test/helpers/temporal';
import { figure } from './figures';

const ROUNDS = Number(process.env.BENCH_REPLAYS ?? 200);
const HISTORIES = ['sandbox-lifecycle-v2.json', 'sandbox-reconcile-v2.json', 'sandbox-overlap-v2.json'];

export async function run(): Promise<void> {
  const bundle = await workflowBundle(require.resolve('../src/workflows'));
  figure(`replays per history: ${ROUNDS}, one replay worker (workflow code bundled once)`);
  for (const file of HISTORIES) {
    const json = JSON.parse(readFileSync(join(__dirname, '..', 'test', 'histories', file), 'utf8')) as {
      events: unknown[];
    };
    const history = historyFromJSON(json);
    const histories = Array.from({ length: ROUNDS }, (_, i) => ({ workflowId: `replay-${i}`, history }));
    const started = performance.now();
    let failed = 0;
    for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, histories)) {
      if (result.error) failed++;
    }
    const perReplay = (performance.now() - started) / ROUNDS;
    figure(
      `${file.padEnd(28)} ${String(json.events.length).padStart(4)} events: ${perReplay.toFixed(2)} ms per replay` +
        (failed ? ` (${failed} failed)` : ''),
    );
  }
}
