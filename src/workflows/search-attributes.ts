// Search attributes shown in the Temporal Web UI and used by visibility queries.
// Imported by workflow code, so this module must stay free of Node APIs.
import { defineSearchAttributeKey } from '@temporalio/common';

export const SandboxState = defineSearchAttributeKey('SandboxState', 'KEYWORD');
export const SandboxWorkspace = defineSearchAttributeKey('SandboxWorkspace', 'KEYWORD');
export const SandboxWorker = defineSearchAttributeKey('SandboxWorker', 'KEYWORD');
export const SandboxTemplate = defineSearchAttributeKey('SandboxTemplate', 'KEYWORD');
export const SandboxLastActive = defineSearchAttributeKey('SandboxLastActive', 'DATETIME');
/** The sandbox's OpenShell name: the Web UI's list shows sandboxes by name with it. */
export const SandboxName = defineSearchAttributeKey('SandboxName', 'KEYWORD');
/** The stop hold's reason while one is in force (empty otherwise): held sandboxes at a glance. */
export const SandboxHold = defineSearchAttributeKey('SandboxHold', 'KEYWORD');
/** Moves with every lifecycle event: the facade's watch polls visibility for recent changes. */
export const SandboxChangedAt = defineSearchAttributeKey('SandboxChangedAt', 'DATETIME');

/**
 * A free-text value as a keyword: Temporal refuses a search attribute over 2 KB and fails the
 * workflow task, so names and reasons are cut (the facade bounds them already; this guards
 * workflows started some other way).
 */
export const keyword = (text: string) => (text.length > 256 ? `${text.slice(0, 255)}…` : text);

/** Every custom attribute ateflow writes; servers must have them registered before use. */
export const sandboxSearchAttributes = [
  SandboxState,
  SandboxWorkspace,
  SandboxWorker,
  SandboxTemplate,
  SandboxLastActive,
  SandboxChangedAt,
  SandboxHold,
  SandboxName,
];
