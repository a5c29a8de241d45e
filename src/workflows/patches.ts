// Workflow code changes made with Temporal patches, and the code generation new sandboxes start at.
//
// Each `patched()` call in a new workflow records a marker and upserts TemporalChangeVersion (a
// visibility write) — at every create, for every patch ever made: 3 markers and 3 visibility
// writes per create with today's patches. A sandbox created at generation N (SandboxInput.generation,
// in its history from the start) runs every patch built into generations ≤ N without a call, so it
// records none of them; workflows started before (no generation) and patches newer than their
// generation still go through `patched()`, so every recorded history replays as it ran.
import { patched } from '@temporalio/workflow';

/** Workflows started before the operation table replay with their own code (legacy/README.md). */
export const OPERATION_TABLE_PATCH = 'operation-table';
/**
 * Requests delivered with the workflow's first task queue behind provisioning (before, they ran
 * ahead of it and failed). Recorded only by workflows that got such requests.
 */
export const PROVISION_FIRST_PATCH = 'provision-first';
/** A delete that fails answers its callers with the failure (before, they waited for another). */
export const DELETE_FAILURE_PATCH = 'delete-answers-failure';
/**
 * The view published in the memo (`view`) with every change, and the hold as a search attribute:
 * the facade reads sandboxes from visibility and describe instead of querying (and replaying) them.
 */
export const PUBLISHED_VIEW_PATCH = 'published-view';
/** createActor makes sure of the atespace itself: one activity (and workflow task) less per create. */
export const ONE_CREATE_ACTIVITY_PATCH = 'one-create-activity';

/**
 * The patches built into each code generation (numbered like the recorded histories: -v2 files
 * were recorded before generations, with markers). A patch made later is in no generation (so
 * `patched()` decides it) until a new generation takes it in.
 */
const BUILT_IN: Readonly<Record<number, readonly string[]>> = {
  3: [
    OPERATION_TABLE_PATCH,
    PROVISION_FIRST_PATCH,
    DELETE_FAILURE_PATCH,
    PUBLISHED_VIEW_PATCH,
    ONE_CREATE_ACTIVITY_PATCH,
  ],
};

/** The generation the facade creates sandboxes at. */
export const CODE_GENERATION = 3;

/** Whether this workflow runs the code of `patch` (deterministic: the generation is in its input). */
export function hasPatch(generation: number | undefined, patch: string): boolean {
  const upTo = Math.min(generation ?? 0, CODE_GENERATION);
  for (const [built, patches] of Object.entries(BUILT_IN)) {
    if (Number(built) <= upTo && patches.includes(patch)) return true;
  }
  return patched(patch);
}
