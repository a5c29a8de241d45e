// Determinism guard: every recorded history in test/histories/ must replay against the current
// workflow code without a nondeterminism error (no server needed). Three generations are kept:
// `sandbox-<scenario>.json`, recorded before the operation table (they replay through the frozen
// code in src/workflows/legacy/), `sandbox-<scenario>-v2.json`, recorded with it and with a
// marker per patch, and `-v3.json`, created at code generation 3 (src/workflows/patches.ts:
// its patches built in, no markers). `npm run record-histories` writes the current generation's
// files only.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { CODE_GENERATION, OPERATION_TABLE_PATCH } from '../src/workflows/patches';
import { workflowBundle } from './helpers/temporal';

const dir = join(__dirname, 'histories');

interface JsonEvent {
  eventType: string;
  workflowExecutionStartedEventAttributes?: { input?: { payloads?: { data?: string }[] } };
  markerRecordedEventAttributes?: { details?: { 'patch-data'?: { payloads?: { data?: string }[] } } };
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
}
type JsonHistory = { events: JsonEvent[] };

const read = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as JsonHistory;

/** The patch ids a history recorded (its `patched()` markers). */
function patchesOf(history: JsonHistory): string[] {
  return history.events
    .filter((event) => event.eventType === 'EVENT_TYPE_MARKER_RECORDED')
    .flatMap((event) => event.markerRecordedEventAttributes?.details?.['patch-data']?.payloads ?? [])
    .map(
      (payload) => JSON.parse(Buffer.from(payload.data ?? '', 'base64').toString('utf8')) as { id?: string },
    )
    .map((data) => data.id ?? '');
}

/** The code generation a history's sandbox was created at (SandboxInput.generation), if any. */
function generationOf(history: JsonHistory): number | undefined {
  const data = history.events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
  const input = JSON.parse(Buffer.from(data ?? '', 'base64').toString('utf8') || '{}') as {
    generation?: number;
  };
  return input.generation;
}

describe('replay of recorded sandbox histories', () => {
  const files = readdirSync(dir).filter((file) => file.endsWith('.json'));
  let bundle: WorkflowBundleWithSourceMap;
  before(async () => void (bundle = await workflowBundle(require.resolve('../src/workflows'))));

  const replay = (history: JsonHistory, name: string) =>
    Worker.runReplayHistory({ workflowBundle: bundle }, historyFromJSON(history), name);

  it('has histories of every generation: before the operation table, with patch markers, and built in', async () => {
    const legacy = files.filter(
      (file) =>
        !patchesOf(read(file)).includes(OPERATION_TABLE_PATCH) && generationOf(read(file)) === undefined,
    );
    const marked = files.filter((file) => patchesOf(read(file)).includes(OPERATION_TABLE_PATCH));
    const current = files.filter((file) => generationOf(read(file)) === CODE_GENERATION);
    assert.ok(legacy.length >= 2, `histories recorded before the operation table: ${legacy.join(', ')}`);
    assert.ok(marked.length >= 2, `histories recorded with patch markers: ${marked.join(', ')}`);
    assert.ok(
      current.length >= 2,
      `histories recorded at generation ${CODE_GENERATION}: ${current.join(', ')}`,
    );
    assert.ok(
      current.every((file) => new RegExp(`-v${CODE_GENERATION}(-[\\w-]+)?\\.json$`).test(file)),
      `generation ${CODE_GENERATION} writes -v${CODE_GENERATION} files`,
    );
    // What the generation is for: a sandbox created at it records no marker for a built-in patch.
    for (const file of current)
      assert.deepEqual(patchesOf(read(file)), [], `${file} records no patch markers`);
  });

  for (const file of files) {
    it(`replays ${file}`, async () => {
      await replay(read(file), file);
    });
  }

  // The guard itself: a history that the code would not produce (two activities in the other
  // order, as after reordering them in the workflow) must fail to replay, in every generation.
  for (const file of [
    'sandbox-lifecycle.json',
    'sandbox-lifecycle-v2.json',
    `sandbox-lifecycle-v${CODE_GENERATION}.json`,
  ]) {
    it(`fails to replay ${file} with two activities swapped`, async () => {
      const history = read(file);
      const scheduled = history.events
        .map((event) => event.activityTaskScheduledEventAttributes?.activityType)
        .filter((type) => type?.name !== undefined);
      const [first, second] = [scheduled[0]!, scheduled.find((type) => type!.name !== scheduled[0]!.name)!];
      [first.name, second.name] = [second.name, first.name];
      await assert.rejects(replay(history, `${file} (swapped)`), /nondetermin|determinism/i);
    });
  }
});
