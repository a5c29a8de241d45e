// Reading a sandbox's published view (the workflow's memo `view`, src/workflows/view.ts) out of a
// visibility listing or a describe: no query, so no worker and no replay. Shared by the facade and
// the fleet observer.
import type { SandboxView } from '../workflows/messages';
import { fromPublished, type PublishedView } from '../workflows/view';

/** The sandbox workflow's type (src/workflows/sandbox.ts), for visibility queries. */
export const SANDBOX_WORKFLOW_TYPE = 'sandboxWorkflow';

/** A published view as far as readers rely on it (memo contents are ours, but check anyway). */
const isPublishedView = (value: unknown): value is PublishedView =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as PublishedView).sandboxId === 'string' &&
  typeof (value as PublishedView).state === 'string' &&
  Array.isArray((value as PublishedView).events);

/**
 * The view in a workflow's memo; undefined when it publishes none (started before the
 * published-view patch, or its view was too large to publish): read it with the `view` query.
 */
export function publishedViewOf(memo: Record<string, unknown> | undefined): SandboxView | undefined {
  const published = memo?.view;
  return isPublishedView(published) ? fromPublished(published) : undefined;
}
