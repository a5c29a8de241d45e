// Determinism guard: every recorded history in test/histories/ must replay against the current
// workflow code without a nondeterminism error (no server needed). Two generations are kept:
// `sandbox-<scenario>.json`, recorded before the operation table (they replay through the frozen
// code in src/workflows/legacy/), and `sandbox-<scenario>-v2.json`, recorded with it
// (`npm run record-histories` writes the current generation's files only).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { OPERATION_TABLE_PATCH } from '../src/workflows/sandbox';
import { workflowBundle } from './helpers/temporal';

const dir = join(__dirname, 'histories');

interface JsonEvent {
  eventType: string;
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

describe('replay of recorded sandbox histories', () => {
  const files = readdirSync(dir).filter((file) => file.endsWith('.json'));
  let bundle: WorkflowBundleWithSourceMap;
  before(async () => void (bundle = await workflowBundle(require.resolve('../src/workflows'))));

  const replay = (history: JsonHistory, name: string) =>
    Worker.runReplayHistory({ workflowBundle: bundle }, historyFromJSON(history), name);

  it('has histories of both generations: before the operation table and with it', () => {
    const legacy = files.filter((file) => !patchesOf(read(file)).includes(OPERATION_TABLE_PATCH));
    const current = files.filter((file) => patchesOf(read(file)).includes(OPERATION_TABLE_PATCH));
    assert.ok(legacy.length >= 2, `histories recorded before the operation table: ${legacy.join(', ')}`);
    assert.ok(current.length >= 2, `histories recorded with the operation table: ${current.join(', ')}`);
    assert.ok(
      current.every((file) => /-v\d+(-[\w-]+)?\.json$/.test(file)),
      'the current generation writes -v<n> files',
    );
  });

  for (const file of files) {
    it(`replays ${file}`, async () => {
      await replay(read(file), file);
    });
  }

  // The guard itself: a history that the code would not produce (two activities in the other
  // order, as after reordering them in the workflow) must fail to replay, in both generations.
  for (const file of ['sandbox-lifecycle.json', 'sandbox-lifecycle-v2.json']) {
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
