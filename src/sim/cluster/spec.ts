// A simulated cluster described as Kubernetes objects: from a multi-document YAML file (the
// same documents `kubectl apply` takes) or the built-in default.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import {
  actorTemplateSchema,
  nodeSchema,
  parseObject,
  sandboxConfigSchema,
  secretSchema,
  workerPoolSchema,
  type ActorTemplate,
  type Node,
  type SandboxConfig,
  type Secret,
  type WorkerPool,
} from './resources';

export interface ClusterSpec {
  nodes: Node[];
  pools: WorkerPool[];
  templates: ActorTemplate[];
  sandboxConfigs: SandboxConfig[];
  secrets: Secret[];
}

/** Parses the objects of a cluster; kinds outside the model are rejected, not ignored. */
export function clusterFromObjects(objects: readonly unknown[]): ClusterSpec {
  const spec: ClusterSpec = { nodes: [], pools: [], templates: [], sandboxConfigs: [], secrets: [] };
  for (const raw of objects) {
    if (raw === null || raw === undefined) continue;
    const kind = (raw as { kind?: unknown }).kind;
    switch (kind) {
      case 'ActorTemplate':
        spec.templates.push(parseObject(actorTemplateSchema, kind, raw));
        break;
      case 'WorkerPool':
        spec.pools.push(parseObject(workerPoolSchema, kind, raw));
        break;
      case 'SandboxConfig':
        spec.sandboxConfigs.push(parseObject(sandboxConfigSchema, kind, raw));
        break;
      case 'Node':
        spec.nodes.push(parseObject(nodeSchema, kind, raw));
        break;
      case 'Secret':
        spec.secrets.push(parseObject(secretSchema, kind, raw));
        break;
      default:
        throw new Error(
          `unsupported kind ${JSON.stringify(kind)}: expected ActorTemplate, WorkerPool, SandboxConfig, Node or Secret`,
        );
    }
  }
  return withImplicitDefaults(spec);
}

/** Parses a multi-document YAML cluster description. */
export function parseClusterYaml(text: string): ClusterSpec {
  const docs = parseAllDocuments(text);
  const objects = docs.map((doc) => {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0].message}`);
    return doc.toJS() as unknown;
  });
  return clusterFromObjects(objects);
}

export function loadClusterFile(path: string): ClusterSpec {
  try {
    return parseClusterYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cluster file ${path}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

/**
 * A file that names no nodes gets three; one without SandboxConfigs gets a default per class,
 * so a minimal file (a pool and a template) is enough to boot actors.
 */
function withImplicitDefaults(spec: ClusterSpec): ClusterSpec {
  if (spec.nodes.length === 0) spec.nodes = DEFAULT_NODES();
  if (spec.sandboxConfigs.length === 0) spec.sandboxConfigs = DEFAULT_SANDBOX_CONFIGS();
  return spec;
}

const DEFAULT_NODES = (): Node[] =>
  ['sim-node-1', 'sim-node-2', 'sim-node-3'].map((name) =>
    nodeSchema.parse({ metadata: { name, labels: { 'kubernetes.io/hostname': name } } }),
  );

const DEFAULT_SANDBOX_CONFIGS = (): SandboxConfig[] =>
  (['gvisor', 'microvm'] as const).map((sandboxClass) =>
    sandboxConfigSchema.parse({
      metadata: { name: `${sandboxClass}-default` },
      spec: { sandboxClass, default: true },
    }),
  );

/** Namespace and name of the template in the built-in cluster. */
export const DEFAULT_TEMPLATE = { namespace: 'default', name: 'sandbox' } as const;

/**
 * The built-in cluster: three nodes, one gVisor pool of 8 workers (the upstream demo's size),
 * and one template whose container declares readyz, so its golden snapshot needs no warm-up.
 */
export function defaultCluster(): ClusterSpec {
  return clusterFromObjects([
    {
      kind: 'WorkerPool',
      metadata: { name: 'default', namespace: 'default', labels: { tier: 'standard' } },
      spec: { replicas: 8, sandboxClass: 'gvisor' },
    },
    {
      kind: 'ActorTemplate',
      metadata: { name: DEFAULT_TEMPLATE.name, namespace: DEFAULT_TEMPLATE.namespace },
      spec: {
        pauseImage:
          'registry.k8s.io/pause@sha256:7031c1b283388d2c2e09b57badb803c05ebed362dc88d84b480cc47f72a21097',
        containers: [
          {
            name: 'main',
            image:
              'ghcr.io/ateflow/sim-workload@sha256:0000000000000000000000000000000000000000000000000000000000000000',
            readyz: { httpGet: { port: 8080 } },
          },
        ],
        snapshotsConfig: { location: 'gs://ateflow-sim-snapshots/default/' },
      },
    },
  ]);
}
