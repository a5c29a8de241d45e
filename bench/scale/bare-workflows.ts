// The engine's own speed, for the scale bench's ratios: a workflow that does what a sandbox's
// create does in Temporal terms (an update-with-start, then the same number of activities in a
// row) and then stays open like a sandbox, with nothing else (no view, no search attributes).
import { condition, defineSignal, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '40s' });

/** Returns once the workflow's activities have run (the sandbox's create → RUNNING). */
export const bareCreate = defineUpdate<void, []>('create');
export const bareFinish = defineSignal('finish');

export async function bareSandbox(activities: number): Promise<void> {
  let ran = false;
  let finished = false;
  setHandler(bareCreate, () => condition(() => ran));
  setHandler(bareFinish, () => void (finished = true));
  for (let i = 0; i < activities; i++) await noop();
  ran = true;
  await condition(() => finished);
}
