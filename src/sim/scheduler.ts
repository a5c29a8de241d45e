// Which worker a resuming actor lands on (upstream AssignWorker's choice). A pool is
// eligible when its sandbox class equals the template's and both the template's
// LabelSelector and the actor's match_labels select the pool's labels — each on its own.
import type { Selector } from '../gen/ateapi';
import type { ActorTemplate, WorkerPool } from './cluster/resources';
import { labelSelectorMatches } from './cluster/resources';
import type { Random } from './random';
import type { StoredWorker } from './store';

export function eligiblePools(
  pools: readonly WorkerPool[],
  template: ActorTemplate,
  actorSelector: Selector | undefined,
): WorkerPool[] {
  return pools.filter((pool) => {
    const labels = pool.metadata.labels ?? {};
    return (
      pool.spec.sandboxClass === template.spec.sandboxClass &&
      labelSelectorMatches(template.spec.workerSelector, labels) &&
      Object.entries(actorSelector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v)
    );
  });
}

export const poolKey = (namespace: string, name: string) => `${namespace}/${name}`;

/** A uniformly random free worker in an eligible pool, on one of `pinnedNodes` if any. */
export function pickFreeWorker(
  workers: readonly StoredWorker[],
  eligible: ReadonlySet<string>,
  pinnedNodes: readonly string[],
  random: Random,
): StoredWorker | undefined {
  const free = workers.filter(
    (w) =>
      w.actorId === '' &&
      eligible.has(poolKey(w.workerNamespace, w.workerPool)) &&
      (pinnedNodes.length === 0 || pinnedNodes.includes(w.nodeName)),
  );
  return random.pick(free);
}
