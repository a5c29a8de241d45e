// The engine's own speed, for the scale bench's ratios: a workflow that does what a sandbox does
// in Temporal terms (an update-with-start, the create's activities in a row, then, after the
// same idle timeout, the suspend's activities) and then stays open like a sandbox, with nothing
// else (no view, no search attributes, no memo).
import { condition, defineSignal, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '40s' });

/** Returns once the workflow's create activities have run (the sandbox's create → RUNNING). */
export const bareCreate = defineUpdate<void, []>('create');
export const bareFinish = defineSignal('finish');

export interface BareSandboxInput {
  createActivities: number;
  idleTimeoutMs: number;
  suspendActivities: number;
}

export async function bareSandbox(input: BareSandboxInput): Promise<void> {
  let ran = false;
  let finished = false;
  setHandler(bareCreate, () => condition(() => ran));
  setHandler(bareFinish, () => void (finished = true));
  for (let i = 0; i < input.createActivities; i++) await noop();
  ran = true;
  if (await condition(() => finished, input.idleTimeoutMs)) return;
  for (let i = 0; i < input.suspendActivities; i++) await noop();
  await condition(() => finished);
}
