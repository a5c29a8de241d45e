// The simulated cluster: YAML cluster files, the ActorTemplate store and its golden
// controller, and the operator controls of the admin API, all over gRPC.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Actor_Status } from '../src/gen/ateapi';
import type { SimActor, SimPool, SimWorker } from '../src/gen/sim_admin';
import { loadClusterFile, parseClusterYaml } from '../src/sim';
import { eligiblePools } from '../src/sim/scheduler';
import { clusterFromObjects } from '../src/sim/cluster/spec';
import { assertStatus, eventually, startSim } from './helpers/sim';

const FIXTURE = join(__dirname, 'fixtures', 'sim-cluster.yaml');

const template = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'ate.dev/v1alpha1',
  kind: 'ActorTemplate',
  metadata: { name, namespace: 'default', labels: { team: 'x' } },
  spec: {
    pauseImage: 'pause@sha256:1',
    containers: [{ name: 'main', image: 'img@sha256:1' }],
    snapshotsConfig: { location: 'gs://b/' },
    ...extra,
  },
});

describe('cluster files', () => {
  it('parses CRD-shaped documents with defaults, nodes and secrets', () => {
    const spec = loadClusterFile(FIXTURE);
    assert.deepEqual(
      spec.nodes.map((n) => n.metadata.name),
      ['node-a', 'node-kvm'],
    );
    assert.equal(spec.pools.length, 2);
    assert.equal(spec.pools[0].spec.sandboxClass, 'gvisor', 'sandboxClass defaults to gvisor');
    assert.equal(spec.templates[0].spec.snapshotsConfig.onPause, 'Full');
    assert.equal(spec.sandboxConfigs.length, 2, 'default SandboxConfigs are implied');
    assert.equal(spec.secrets[0].stringData?.token, 'abc');
  });

  it('rejects unknown kinds and invalid objects with the field that is wrong', () => {
    assert.throws(
      () => parseClusterYaml('kind: Deployment\nmetadata: {name: x}\n'),
      /unsupported kind "Deployment"/,
    );
    assert.throws(
      () =>
        parseClusterYaml(
          'kind: ActorTemplate\nmetadata: {name: t}\nspec: {pauseImage: "no-digest", snapshotsConfig: {location: x}}\n',
        ),
      /ActorTemplate.ate.dev "t" is invalid: spec.pauseImage: must be pinned by digest/,
    );
    assert.throws(
      () =>
        parseClusterYaml(
          'kind: ActorTemplate\nmetadata: {name: t}\nspec: {pauseImage: "p@sha256:1", snapshotsConfig: {location: x, onPause: Data, onCommit: Full}}\n',
        ),
      /onCommit must be a subset of onPause/,
    );
  });

  it('schedules microvm pools only onto microvm nodes and serves the file over gRPC', async () => {
    const h = await startSim({ clusterFile: FIXTURE });
    try {
      const { workers } = await h.api.call('ListWorkers', {});
      const byPool = (pool: string) => workers.filter((w) => w.workerPool === pool);
      assert.equal(byPool('general').length, 2);
      assert.ok(byPool('general').every((w) => w.nodeName === 'node-a'));
      assert.deepEqual(
        byPool('vms').map((w) => w.nodeName),
        ['node-kvm'],
      );
      assert.equal(h.sim.core.templates.get('team-a', 'agent')?.status?.phase, 'Ready');
    } finally {
      await h.close();
    }
  });

  it('TestEligibleWorkerPools: class gate AND template selector AND actor selector, independently', () => {
    const spec = clusterFromObjects([
      {
        kind: 'WorkerPool',
        metadata: { name: 'a', labels: { tier: 'a', zone: 'z1' } },
        spec: { replicas: 0 },
      },
      {
        kind: 'WorkerPool',
        metadata: { name: 'b', labels: { tier: 'b', zone: 'z1' } },
        spec: { replicas: 0 },
      },
      {
        kind: 'WorkerPool',
        metadata: { name: 'vm', labels: { tier: 'a' } },
        spec: { replicas: 0, sandboxClass: 'microvm' },
      },
      template('t'),
    ]);
    const t = spec.templates[0];
    const names = (pools: { metadata: { name: string } }[]) => pools.map((p) => p.metadata.name).sort();
    assert.deepEqual(names(eligiblePools(spec.pools, t, undefined)), ['a', 'b']);
    assert.deepEqual(names(eligiblePools(spec.pools, t, { matchLabels: { tier: 'b' } })), ['b']);
    const withSelector = { ...t, spec: { ...t.spec, workerSelector: { matchLabels: { zone: 'z1' } } } };
    assert.deepEqual(names(eligiblePools(spec.pools, withSelector, { matchLabels: { tier: 'a' } })), ['a']);
    const expr = {
      ...t,
      spec: {
        ...t.spec,
        workerSelector: { matchExpressions: [{ key: 'tier', operator: 'NotIn' as const, values: ['a'] }] },
      },
    };
    assert.deepEqual(names(eligiblePools(spec.pools, expr, undefined)), ['b']);
    assert.deepEqual(eligiblePools(spec.pools, t, { matchLabels: { tier: 'zzz' } }), []);
    const vm = { ...t, spec: { ...t.spec, sandboxClass: 'microvm' as const } };
    assert.deepEqual(names(eligiblePools(spec.pools, vm, undefined)), ['vm']);
  });
});

describe('ActorTemplate store (admin API)', () => {
  it('creates, shows golden progress, updates labels, rejects spec changes, lists and deletes', async () => {
    // Scale 0.1: the 20 s warm-up (no readyz) takes 2 s, a window a loaded machine cannot miss.
    const h = await startSim({ latencyScale: 0.1 });
    try {
      const applied = await h.admin.call<{ templateJson: string; created: boolean }>('applyActorTemplate', {
        templateJson: JSON.stringify(template('slow')),
      });
      assert.equal(applied.created, true);
      const get = async () =>
        JSON.parse(
          (
            await h.admin.call<{ templateJson: string }>('getActorTemplate', {
              namespace: 'default',
              name: 'slow',
            })
          ).templateJson,
        ) as {
          status: { phase?: string; goldenSnapshot?: string; goldenActorID?: string };
          metadata: { labels: object };
        };
      const phases = new Set<string>();
      const ready = await eventually(async () => {
        const t = await get();
        phases.add(t.status.phase ?? '');
        return t.status.phase === 'Ready' ? t : undefined;
      }, 10_000);
      assert.ok(phases.has('WaitGoldenActor'), `saw ${[...phases].join(', ')}`);
      assert.match(ready.status.goldenSnapshot ?? '', new RegExp(`^gs://b/${ready.status.goldenActorID}/`));
      const golden = await h.api.call('GetActor', {
        actorRef: { atespace: 'ate-golden', name: ready.status.goldenActorID ?? '' },
      });
      assert.equal(golden.actor?.status, Actor_Status.STATUS_SUSPENDED);

      const relabelled = template('slow');
      relabelled.metadata.labels = { team: 'y' };
      const updated = await h.admin.call<{ templateJson: string; created: boolean }>('applyActorTemplate', {
        templateJson: JSON.stringify(relabelled),
      });
      assert.equal(updated.created, false);
      assert.deepEqual((await get()).metadata.labels, { team: 'y' });
      assert.equal((await get()).status.phase, 'Ready', 'status survives an update');

      await assertStatus(
        h.admin.call('applyActorTemplate', {
          templateJson: JSON.stringify(template('slow', { snapshotsConfig: { location: 'gs://other/' } })),
        }),
        GrpcStatus.INVALID_ARGUMENT,
        'ActorTemplate.ate.dev "slow" is invalid: spec: Invalid value: "object": Spec is immutable',
      );
      await assertStatus(
        h.admin.call('applyActorTemplate', { templateJson: '{not json' }),
        GrpcStatus.INVALID_ARGUMENT,
        /^template_json is not valid JSON/,
      );
      const { templatesJson } = await h.admin.call<{ templatesJson: string[] }>('listActorTemplates', {});
      assert.equal(templatesJson.length, 2);
      await h.admin.call('deleteActorTemplate', { namespace: 'default', name: 'slow' });
      await assertStatus(
        h.admin.call('getActorTemplate', { namespace: 'default', name: 'slow' }),
        GrpcStatus.NOT_FOUND,
        'actortemplates.ate.dev "slow" not found',
      );
      await assertStatus(
        h.admin.call('deleteActorTemplate', { namespace: 'default', name: 'slow' }),
        GrpcStatus.NOT_FOUND,
      );
    } finally {
      await h.close();
    }
  });

  it('resumes before Ready cold-boot; the golden actor holds a worker while it warms up', async () => {
    // Scale 0.1: the golden actor warms up for 2 s, a window a loaded machine cannot miss.
    const h = await startSim({ latencyScale: 0.1 });
    try {
      await h.admin.call('applyActorTemplate', { templateJson: JSON.stringify(template('warm')) });
      const goldenId = await eventually(() => {
        const t = h.sim.core.templates.get('default', 'warm');
        return t?.status?.phase === 'WaitGoldenActor' ? t.status.goldenActorID : undefined;
      });
      const { workers } = await h.api.call('ListWorkers', {});
      assert.ok(workers.some((w) => w.actorId === goldenId && w.actorAtespace === 'ate-golden'));
      await h.api.call('CreateAtespace', { name: 'ws' });
      const ref = { atespace: 'ws', name: 'early' };
      await h.api.call('CreateActor', {
        actorRef: ref,
        actorTemplateNamespace: 'default',
        actorTemplateName: 'warm',
      });
      await h.api.call('ResumeActor', { actorRef: ref });
      const pod = h.sim.core.store.getActor('ws', 'early')!.ateomPodName;
      const workload = h.sim.core.atelets.workloadOn(h.sim.core.cluster.findPod('default', pod)!);
      assert.equal(workload?.startedFrom, 'cold-boot');
    } finally {
      await h.close();
    }
  });
});

describe('operator controls (admin API)', () => {
  it('lists pools, nodes, workers and actors with workload state', async () => {
    const h = await startSim();
    try {
      await h.api.call('CreateAtespace', { name: 'ws' });
      const ref = { atespace: 'ws', name: 'a1' };
      await h.api.call('CreateActor', {
        actorRef: ref,
        actorTemplateNamespace: 'default',
        actorTemplateName: 'sandbox',
      });
      const running = (await h.api.call('ResumeActor', { actorRef: ref })).actor!;
      const { pools } = await h.admin.call<{ pools: SimPool[] }>('listPools');
      assert.deepEqual(
        pools.map((p) => [p.name, p.desiredReplicas, p.readyReplicas, p.freeWorkers]),
        [['default', 8, 8, 7]],
      );
      const { nodes } = await h.admin.call<{ nodes: { name: string; ready: boolean; pods: number }[] }>(
        'listNodes',
      );
      assert.equal(
        nodes.reduce((n, x) => n + x.pods, 0),
        8,
      );
      const { workers } = await h.admin.call<{ workers: SimWorker[] }>('listWorkers');
      const bound = workers.find((w) => w.pod === running.ateomPodName)!;
      assert.equal(bound.actorName, 'a1');
      assert.equal(bound.actorStatus, 'STATUS_RUNNING');
      assert.equal(
        (JSON.parse(bound.workloadJson) as { startedFrom: string }).startedFrom.startsWith('gs://'),
        true,
      );
      const { actors } = await h.admin.call<{ actors: SimActor[] }>('listActors', { atespace: 'ws' });
      assert.deepEqual(
        actors.map((a) => [a.name, a.status, a.workloadSource]),
        [['a1', 'STATUS_RUNNING', 'live']],
      );
    } finally {
      await h.close();
    }
  });

  it('kill, evict and remove workers; add workers and scale pools; kill a node', async () => {
    const h = await startSim();
    try {
      const list = async () => (await h.admin.call<{ workers: SimWorker[] }>('listWorkers')).workers;
      const first = (await list())[0];
      const killed = await h.admin.call<{ worker: SimWorker }>('killWorker', { pod: first.pod });
      assert.equal(killed.worker.pod, first.pod);
      let now = await list();
      assert.equal(now.length, 8, 'the Deployment replaced the pod');
      assert.ok(!now.some((w) => w.pod === first.pod));

      await h.admin.call('evictWorker', { pod: now[0].pod });
      await h.admin.call('removeWorker', { pod: now[1].pod });
      const scaled = await h.admin.call<{ pool: SimPool }>('addWorkers', { pool: 'default', count: 3 });
      assert.equal(scaled.pool.desiredReplicas, 10);
      const down = await h.admin.call<{ pool: SimPool }>('scalePool', { pool: 'default', replicas: 2 });
      assert.equal(down.pool.desiredReplicas, 2);
      now = await eventually(async () => {
        const w = (await list()).filter((x) => x.phase === 'Running');
        return w.length === 2 ? w : undefined;
      });
      const { workers: registered } = await h.api.call('ListWorkers', {});
      assert.equal(registered.length, 2);

      const { pods } = await h.admin.call<{ pods: string[] }>('killNode', { node: now[0].node });
      assert.ok(pods.includes(now[0].pod));
      const { nodes } = await h.admin.call<{ nodes: { name: string; ready: boolean }[] }>('listNodes');
      assert.equal(nodes.find((n) => n.name === now[0].node)?.ready, false);
      assert.ok(
        (await list()).every((w) => w.node !== now[0].node),
        'nothing is scheduled on a dead node',
      );

      await assertStatus(
        h.admin.call('killWorker', { pod: 'nope' }),
        GrpcStatus.NOT_FOUND,
        'pod nope not found',
      );
      await assertStatus(h.admin.call('scalePool', { pool: 'nope', replicas: 1 }), GrpcStatus.NOT_FOUND);
      await assertStatus(
        h.admin.call('killNode', { node: 'nope' }),
        GrpcStatus.NOT_FOUND,
        'node nope not found',
      );
      await assertStatus(
        h.admin.call('addWorkers', { pool: 'default', count: 0 }),
        GrpcStatus.INVALID_ARGUMENT,
      );
    } finally {
      await h.close();
    }
  });

  it('injects faults by RPC, actor, count and probability, and clears them', async () => {
    const h = await startSim();
    try {
      await assertStatus(
        h.admin.call('injectFault', { fault: { rpc: 'Nope', code: 14 } }),
        GrpcStatus.INVALID_ARGUMENT,
        /unknown rpc/,
      );
      await assertStatus(
        h.admin.call('injectFault', { fault: { rpc: 'GetActor', code: 14, leaveTransitional: true } }),
        GrpcStatus.INVALID_ARGUMENT,
        /leave_transitional applies only/,
      );
      const { fault } = await h.admin.call<{ fault: { id: string } }>('injectFault', {
        fault: { rpc: 'ListAtespaces', code: GrpcStatus.UNAVAILABLE, message: 'redis down', count: 2 },
      });
      await assertStatus(h.api.call('ListAtespaces', {}), GrpcStatus.UNAVAILABLE, 'redis down');
      await assertStatus(h.api.call('ListAtespaces', {}), GrpcStatus.UNAVAILABLE, 'redis down');
      await h.api.call('ListAtespaces', {});
      assert.ok(fault.id);

      await h.admin.call('injectFault', { fault: { rpc: '*', actor: 'victim', code: GrpcStatus.INTERNAL } });
      await assertStatus(
        h.api.call('GetActor', { actorRef: { atespace: 'ws', name: 'victim' } }),
        GrpcStatus.INTERNAL,
        'injected fault',
      );
      await assertStatus(
        h.api.call('GetActor', { actorRef: { atespace: 'ws', name: 'other' } }),
        GrpcStatus.NOT_FOUND,
      );
      const { faults } = await h.admin.call<{ faults: { hits: number }[] }>('listFaults');
      assert.deepEqual(
        faults.map((f) => f.hits),
        [1],
      );

      await h.admin.call('injectFault', {
        fault: { rpc: 'ListWorkers', code: GrpcStatus.UNAVAILABLE, probability: 0.5 },
      });
      let failed = 0;
      for (let i = 0; i < 40; i++) await h.api.call('ListWorkers', {}).catch(() => failed++);
      assert.ok(failed > 5 && failed < 35, `failed ${failed} of 40`);
      const { cleared } = await h.admin.call<{ cleared: number }>('clearFaults');
      assert.equal(cleared, 2);
      await h.api.call('ListWorkers', {});
    } finally {
      await h.close();
    }
  });
});
