// The simulated cluster `ateflow dev` starts with (override with `ateflow dev --cluster <file>`):
// two worker pools, so that sandboxes can be moved between them, and the demo's pre-provisioned
// ActorTemplate. The same documents `kubectl apply` would take on a real Substrate cluster.
import { parseClusterYaml, type ClusterSpec } from '../sim';

/** Label that selects a pool (driver_config.worker_selector, `ateflow sandbox migrate --selector`). */
export const POOL_LABEL = 'pool';
export const STANDARD_POOL = 'standard';
export const HIGHMEM_POOL = 'highmem';
/** The pre-provisioned template the helpdesk demo names in platform_config. */
export const DEMO_TEMPLATE = 'helpdesk-agent';

const PAUSE_IMAGE =
  'registry.k8s.io/pause@sha256:7031c1b283388d2c2e09b57badb803c05ebed362dc88d84b480cc47f72a21097';
/** The workload image the demo's sandboxes run (digest-pinned, as Substrate requires). */
export const DEMO_IMAGE = `ghcr.io/ateflow/helpdesk-agent@sha256:${'1'.repeat(64)}`;
/**
 * The default image of `ateflow dev` (GetCapabilities.default_image), so that a sandbox created
 * without --from works locally. The simulator runs no images: the name only has to be pinned.
 */
export const DEV_SANDBOX_IMAGE = `ghcr.io/ateflow/sandbox@sha256:${'2'.repeat(64)}`;
/** Where `ateflow dev` runs the OpenShell gateway (OPENSHELL_GATEWAY_ENDPOINT for the CLI). */
export const DEV_GATEWAY_PORT = 7300;

export const DEV_CLUSTER_YAML = `
kind: WorkerPool
metadata: { name: ${STANDARD_POOL}, namespace: default, labels: { ${POOL_LABEL}: ${STANDARD_POOL} } }
spec: { replicas: 4, sandboxClass: gvisor }
---
kind: WorkerPool
metadata: { name: ${HIGHMEM_POOL}, namespace: default, labels: { ${POOL_LABEL}: ${HIGHMEM_POOL} } }
spec: { replicas: 3, sandboxClass: gvisor }
---
# The simulator's default template (used by \`ateflow sandbox create --template sandbox\`).
kind: ActorTemplate
metadata: { name: sandbox, namespace: default }
spec:
  pauseImage: ${PAUSE_IMAGE}
  containers:
    - name: main
      image: ghcr.io/ateflow/sim-workload@sha256:${'0'.repeat(64)}
      readyz: { httpGet: { port: 8080 } }
  snapshotsConfig: { location: gs://ateflow-sim-snapshots/sandbox/ }
---
# The helpdesk agent, pre-provisioned: its golden snapshot is built once at start.
kind: ActorTemplate
metadata: { name: ${DEMO_TEMPLATE}, namespace: default }
spec:
  pauseImage: ${PAUSE_IMAGE}
  containers:
    - name: supervisor
      image: ${DEMO_IMAGE}
      readyz: { httpGet: { port: 80 } }
  snapshotsConfig: { location: gs://ateflow-sim-snapshots/${DEMO_TEMPLATE}/ }
`;

/** Three nodes, pools `standard` (4 workers) and `highmem` (3), templates sandbox and helpdesk-agent. */
export function devCluster(): ClusterSpec {
  return parseClusterYaml(DEV_CLUSTER_YAML);
}
