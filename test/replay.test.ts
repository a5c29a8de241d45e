// Determinism guard: every recorded history in test/histories/ must replay against the current
// workflow code without a nondeterminism error (no server needed).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from './helpers/temporal';

const dir = join(__dirname, 'histories');

describe('replay of recorded sandbox histories', () => {
  const files = readdirSync(dir).filter((file) => file.endsWith('.json'));

  it('has recorded histories to replay', () => {
    assert.ok(files.length > 0, 'no histories in test/histories (npm run record-histories)');
  });

  for (const file of files) {
    it(`replays ${file}`, async () => {
      const history = historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));
      await Worker.runReplayHistory(
        { workflowBundle: await workflowBundle(require.resolve('../src/workflows')) },
        history,
        file,
      );
    });
  }
});
