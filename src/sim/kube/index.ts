// The simulator over a real Kubernetes API server instead of its YAML file: WorkerPools and
// SandboxConfigs are read from the API server at start, ActorTemplates and Secrets are mirrored
// continuously (informers), and the golden controller writes each template's `status` back. So
// `kubectl apply -f template.yaml` makes a template the simulator builds and serves. Worker pods,
// nodes, actors and atelets stay simulated. The CRDs of deploy/crds must be installed.
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Secret,
} from '@kubernetes/client-node';
import { logger } from '../../logger';
import { clusterFromObjects } from '../cluster/spec';
import { startSimulator, type Simulator, type SimulatorOptions } from '../index';
import { KubeBackedTemplateStore, ResilientInformer } from './templates';

export { GOLDEN_FIELD_MANAGER, KubeBackedTemplateStore } from './templates';

const GROUP = 'ate.dev';
const VERSION = 'v1alpha1';
const POOL_FIELD_MANAGER = 'ateflow-sim-workerpool-controller';
const POOL_STATUS_EVERY_MS = 1_000;
const applyPatch = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const log = logger.child({ component: 'sim-kube' });

export interface KubeSimulatorOptions extends Omit<
  SimulatorOptions,
  // The cluster and templates come from the API server; golden snapshots are rebuilt per run.
  'cluster' | 'clusterFile' | 'templateStore' | 'persistence'
> {
  /** A kubeconfig file path, or a loaded config; default: the usual lookup ($KUBECONFIG, ~/.kube/config). */
  kubeconfig?: string | KubeConfig;
}

export interface KubeBackedSimulator extends Simulator {
  templates: KubeBackedTemplateStore;
}

interface PoolObject {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: { replicas?: number };
  status?: { replicas?: number };
}

function loadConfig(kubeconfig: KubeSimulatorOptions['kubeconfig']): KubeConfig {
  if (kubeconfig instanceof KubeConfig) return kubeconfig;
  const config = new KubeConfig();
  if (kubeconfig) config.loadFromFile(kubeconfig);
  else config.loadFromDefault();
  return config;
}

/**
 * Starts the simulator with its cluster taken from a Kubernetes API server. WorkerPools added or
 * removed later need a restart; replica changes (`kubectl scale workerpool`) apply at once.
 */
export async function startKubeBackedSimulator(
  options: KubeSimulatorOptions = {},
): Promise<KubeBackedSimulator> {
  const config = loadConfig(options.kubeconfig);
  const objects = config.makeApiClient(CustomObjectsApi);
  const core = config.makeApiClient(CoreV1Api);
  const listPools = () =>
    objects.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'workerpools' });
  const [pools, sandboxConfigs] = await Promise.all([
    listPools() as Promise<{ items: unknown[] }>,
    objects.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'sandboxconfigs' }) as Promise<{
      items: unknown[];
    }>,
  ]).catch((err: unknown) => {
    throw new Error(
      `cannot read WorkerPools and SandboxConfigs from ${config.getCurrentCluster()?.server ?? 'the Kubernetes API'} ` +
        `(are the CRDs of deploy/crds installed?): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  });
  const cluster = clusterFromObjects([
    ...pools.items.map((p) => ({ ...(p as object), kind: 'WorkerPool' })),
    ...sandboxConfigs.items.map((c) => ({ ...(c as object), kind: 'SandboxConfig' })),
  ]);
  if (cluster.pools.length === 0)
    log.warn('no WorkerPools in the Kubernetes API: actors cannot run until one exists');

  let templates: KubeBackedTemplateStore | undefined;
  const sim = await startSimulator({
    ...options,
    cluster,
    templateStore: (random) => (templates = new KubeBackedTemplateStore(random, config)),
  });
  const store = templates!;
  const informers: ResilientInformer<never>[] = [];
  let poolStatusTimer: NodeJS.Timeout | undefined;
  const stop = async () => {
    clearInterval(poolStatusTimer);
    await sim.stop(); // no more golden steps
    await Promise.allSettled([store.stopMirror(), ...informers.map((i) => i.stop())]);
  };

  try {
    // Secrets: env secretKeyRefs (e.g. ateflow's token Secrets) resolve against them.
    const secrets = new ResilientInformer<V1Secret>(
      config,
      '/api/v1/secrets',
      () => core.listSecretForAllNamespaces(),
      'secrets',
    );
    const putSecret = (secret: V1Secret) =>
      sim.core.cluster.putSecret({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: secret.metadata?.name ?? '', namespace: secret.metadata?.namespace ?? 'default' },
        data: secret.data,
      } as never);
    secrets.informer.on('add', putSecret);
    secrets.informer.on('update', putSecret);
    secrets.informer.on('delete', (s) =>
      sim.core.cluster.deleteSecret(s.metadata?.namespace ?? '', s.metadata?.name ?? ''),
    );
    informers.push(secrets as ResilientInformer<never>);
    await secrets.start();

    // WorkerPools: replica changes scale the simulated Deployment; status.replicas follows the pods.
    const poolInformer = new ResilientInformer<PoolObject & { metadata?: object }>(
      config,
      `/apis/${GROUP}/${VERSION}/workerpools`,
      listPools as never,
      'workerpools',
    );
    const onPool = (pool: PoolObject) => {
      const { name = '', namespace = '' } = pool.metadata ?? {};
      const known = sim.core.cluster.findPool(namespace, name);
      if (!known) {
        log.warn(
          { pool: `${namespace}/${name}` },
          'WorkerPool added after start: restart the simulator to use it',
        );
        return;
      }
      const replicas = pool.spec?.replicas ?? known.spec.replicas;
      if (replicas !== known.spec.replicas) sim.core.scalePool(name, replicas, namespace);
    };
    poolInformer.informer.on('add', onPool);
    poolInformer.informer.on('update', onPool);
    informers.push(poolInformer as ResilientInformer<never>);
    await poolInformer.start();
    const written = new Map<string, number>();
    const writePoolStatus = async () => {
      for (const pool of sim.core.cluster.listPools()) {
        const { namespace, name } = pool.metadata;
        const replicas = sim.core.cluster
          .listPods()
          .filter((p) => p.namespace === namespace && p.pool === name && p.phase === 'Running').length;
        if (written.get(`${namespace}/${name}`) === replicas) continue;
        try {
          await objects.patchNamespacedCustomObjectStatus(
            {
              group: GROUP,
              version: VERSION,
              plural: 'workerpools',
              namespace,
              name,
              body: {
                apiVersion: `${GROUP}/${VERSION}`,
                kind: 'WorkerPool',
                metadata: { namespace, name },
                status: { replicas },
              },
              fieldManager: POOL_FIELD_MANAGER,
              force: true,
            },
            applyPatch,
          );
          written.set(`${namespace}/${name}`, replicas);
        } catch (err) {
          log.debug({ err, pool: `${namespace}/${name}` }, 'could not write WorkerPool status');
        }
      }
    };
    poolStatusTimer = setInterval(() => void writePoolStatus(), POOL_STATUS_EVERY_MS);
    poolStatusTimer.unref();

    await store.startMirror();
  } catch (err) {
    await stop();
    throw err;
  }
  return { ...sim, templates: store, stop };
}
