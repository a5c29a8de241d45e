// ateflow's ActorTemplate code against a real Kubernetes API server (etcd + kube-apiserver built
// by scripts/kube-apiserver.sh, our CRDs from deploy/crds): server-side apply and field managers,
// the immutable-spec rule, waiting for Ready through a watch that loses its connection, owned vs
// foreign deletes, RBAC-forbidden answers, and the simulator driven by the API server's objects.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type KubeConfig,
} from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { PERMANENT } from '../src/workflows/failure-types';
import { templateActivities } from '../src/activities/templates';
import { sealToken } from '../src/sealing';
import { startKubeBackedSimulator, GOLDEN_FIELD_MANAGER } from '../src/sim/kube';
import { FIELD_MANAGER, KubernetesTemplateStore } from '../src/substrate/kubernetes-templates';
import { ownerOf, tokenSecretRef, TOKEN_SECRET_KEY } from '../src/substrate/synthesize-template';
import { OWNER_ANNOTATION, TemplateRejectedError, type ActorTemplate } from '../src/substrate/template-store';
import type { SynthesizedTemplateSpec, TemplateRef } from '../src/workflows/messages';
import { kubeSkipReason, startKube, type KubeCluster } from './helpers/kube';
import { skippable } from './helpers/skip';

const { after, before, describe, it } = skippable(kubeSkipReason());
const NS = 'ateflow-kube-test';
const crd = { group: 'ate.dev', version: 'v1alpha1', plural: 'actortemplates' } as const;
const applyPatch = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const synthesis = {
  pauseImage: `registry.k8s.io/pause@${digest('1')}`,
  snapshotLocation: 'gs://kube-test-snapshots/',
  gatewayEndpoint: 'http://gateway.test:8080',
  supervisorPath: '/opt/openshell/bin/openshell-sandbox',
};

describe('ActorTemplates through a real kube-apiserver', () => {
  let kube: KubeCluster;
  let admin: KubeConfig;
  let objects: CustomObjectsApi;
  let store: KubernetesTemplateStore;
  const sealingKey = randomBytes(32);
  let counter = 0;

  const newRef = (): TemplateRef => ({ namespace: NS, name: `oshl-${process.pid}-${++counter}` });
  const sandboxSpec = (image = `ghcr.io/ateflow/sandbox@${digest('a')}`): SynthesizedTemplateSpec => ({
    image,
    environment: { GREETING: 'hello' },
    command: ['/bin/sh', '-c', 'sleep infinity'],
    tty: false,
    logLevel: 'info',
    sealedToken: sealToken('secret-token', sealingKey),
  });
  const activitiesFor = (templates: KubernetesTemplateStore) =>
    templateActivities({ templates, sealingKey, synthesis, heartbeatMs: 200 });
  const readRaw = async (ref: TemplateRef) =>
    (await objects.getNamespacedCustomObject({ ...crd, ...ref })) as ActorTemplate & {
      metadata: {
        resourceVersion: string;
        managedFields?: { manager: string; operation: string; subresource?: string }[];
      };
    };
  /** Writes status.phase as a controller would (status subresource, its own field manager). */
  const setPhase = (ref: TemplateRef, phase: string) =>
    objects.patchNamespacedCustomObjectStatus(
      {
        ...crd,
        ...ref,
        body: { apiVersion: 'ate.dev/v1alpha1', kind: 'ActorTemplate', metadata: ref, status: { phase } },
        fieldManager: 'test-controller',
        force: true,
      },
      applyPatch,
    );
  type Activities = ReturnType<typeof activitiesFor>;
  /** Runs an activity in a mock activity context, collecting its heartbeats. */
  const runActivity = <K extends keyof Activities>(
    acts: Activities,
    name: K,
    ...args: Parameters<Activities[K]>
  ) => {
    const env = new MockActivityEnvironment();
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => heartbeats.push(details));
    const run = acts[name] as (...a: Parameters<Activities[K]>) => ReturnType<Activities[K]>;
    const result = env.run((...a: Parameters<Activities[K]>) => run(...a), ...args);
    result.catch(() => {}); // observed by the test when it matters; never an unhandled rejection
    return { env, heartbeats, result };
  };
  /** applySandboxTemplate for a test sandbox, to completion. */
  const applyTemplate = (acts: Activities, ref: TemplateRef, sandboxId: string, sandboxName: string) =>
    runActivity(acts, 'applySandboxTemplate', ref, { sandboxId, sandboxName }, sandboxSpec()).result;
  const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await delay(20);
    }
  };
  const dedupe = (values: unknown[]) => values.filter((v, i) => i === 0 || v !== values[i - 1]);
  const isPermanent = (pattern: RegExp) => (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.nonRetryable, true);
    assert.equal(err.type, PERMANENT);
    assert.match(err.message, pattern);
    return true;
  };

  before(async () => {
    kube = await startKube();
    admin = kube.kubeConfig('admin');
    objects = admin.makeApiClient(CustomObjectsApi);
    store = new KubernetesTemplateStore(admin);
    await kube.createNamespace(NS);
  });

  after(async () => {
    await kube?.stop();
  });

  it('installs our CRDs, whose schema and CEL rules reject invalid templates', async () => {
    const ref = newRef();
    const base: ActorTemplate = {
      apiVersion: 'ate.dev/v1alpha1',
      kind: 'ActorTemplate',
      metadata: { ...ref },
      spec: {
        pauseImage: synthesis.pauseImage,
        containers: [{ name: 'main', image: 'ghcr.io/ateflow/unpinned:latest' }],
        snapshotsConfig: { location: 'gs://x/' },
      },
    };
    await assert.rejects(store.apply(base), (err: unknown) => {
      assert.ok(err instanceof TemplateRejectedError);
      assert.equal(err.status, 422);
      assert.match(err.message, /apply ActorTemplate .* answered 422: .*spec\.containers\[0\]\.image/);
      return true;
    });
    const subset = {
      ...base,
      spec: {
        ...base.spec,
        containers: [{ name: 'main', image: `ghcr.io/ateflow/sandbox@${digest('b')}` }],
        snapshotsConfig: { location: 'gs://x/', onPause: 'Data' as const, onCommit: 'Full' as const },
      },
    };
    await assert.rejects(store.apply(subset), /422: .*onCommit must be a subset of onPause/);
    assert.equal(await store.get(ref), null);
  });

  it('applySandboxTemplate creates the template and its token Secret with the owner annotation, field manager ateflow', async () => {
    const ref = newRef();
    const acts = activitiesFor(store);
    const identity = { sandboxId: 'sb-create', sandboxName: 'create' };
    await runActivity(acts, 'applySandboxTemplate', ref, identity, sandboxSpec()).result;

    const template = await readRaw(ref);
    assert.equal(template.metadata.annotations?.[OWNER_ANNOTATION], ownerOf('sb-create'));
    assert.equal(template.spec.sandboxClass, 'gvisor', 'CRD default applied by the server');
    assert.equal(template.spec.snapshotsConfig.onPause, 'Full');
    const managers = template.metadata.managedFields ?? [];
    assert.ok(
      managers.some((m) => m.manager === FIELD_MANAGER && m.operation === 'Apply'),
      JSON.stringify(managers),
    );
    const tokenEnv = template.spec.containers[0].env?.find((e) => e.name === 'OPENSHELL_SANDBOX_TOKEN');
    assert.deepEqual(tokenEnv?.valueFrom?.secretKeyRef, {
      name: tokenSecretRef(ref, 'secret-token').name,
      key: TOKEN_SECRET_KEY,
    });

    const secret = await admin
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret(tokenSecretRef(ref, 'secret-token'));
    assert.equal(Buffer.from(secret.data?.[TOKEN_SECRET_KEY] ?? '', 'base64').toString(), 'secret-token');
    assert.equal(secret.metadata?.annotations?.[OWNER_ANNOTATION], ownerOf('sb-create'));
  });

  it('re-applying the same template is a no-op (resourceVersion unchanged)', async () => {
    const ref = newRef();
    const acts = activitiesFor(store);
    const identity = { sandboxId: 'sb-idem', sandboxName: 'idem' };
    const spec = sandboxSpec();
    await runActivity(acts, 'applySandboxTemplate', ref, identity, spec).result;
    const first = await readRaw(ref);
    await runActivity(acts, 'applySandboxTemplate', ref, identity, spec).result;
    await runActivity(acts, 'applySandboxTemplate', ref, identity, spec).result;
    const again = await readRaw(ref);
    assert.equal(again.metadata.resourceVersion, first.metadata.resourceVersion);
  });

  it('an attempted spec change is rejected by the server (Spec is immutable), as a non-retryable failure', async () => {
    const ref = newRef();
    const acts = activitiesFor(store);
    const identity = { sandboxId: 'sb-immutable', sandboxName: 'immutable' };
    await runActivity(acts, 'applySandboxTemplate', ref, identity, sandboxSpec()).result;
    const before = await readRaw(ref);
    const changed = sandboxSpec(`ghcr.io/ateflow/sandbox@${digest('c')}`);
    await assert.rejects(
      runActivity(acts, 'applySandboxTemplate', ref, identity, changed).result,
      isPermanent(/422: .*Spec is immutable/),
    );
    assert.equal((await readRaw(ref)).spec.containers[0].image, before.spec.containers[0].image);
  });

  it('field managers: a foreign apply of the owner annotation conflicts (409); ateflow re-applies by force', async () => {
    const ref = newRef();
    const acts = activitiesFor(store);
    const identity = { sandboxId: 'sb-conflict', sandboxName: 'conflict' };
    await runActivity(acts, 'applySandboxTemplate', ref, identity, sandboxSpec()).result;
    const foreign = {
      apiVersion: 'ate.dev/v1alpha1',
      kind: 'ActorTemplate',
      metadata: { ...ref, annotations: { [OWNER_ANNOTATION]: ownerOf('someone-else') } },
    };
    await assert.rejects(
      objects.patchNamespacedCustomObject(
        { ...crd, ...ref, body: foreign, fieldManager: 'someone-else' },
        applyPatch,
      ),
      (err: unknown) => (err as { code?: number }).code === 409,
    );
    await objects.patchNamespacedCustomObject(
      { ...crd, ...ref, body: foreign, fieldManager: 'someone-else', force: true },
      applyPatch,
    );
    assert.equal((await readRaw(ref)).metadata.annotations?.[OWNER_ANNOTATION], ownerOf('someone-else'));
    await runActivity(acts, 'applySandboxTemplate', ref, identity, sandboxSpec()).result;
    assert.equal((await readRaw(ref)).metadata.annotations?.[OWNER_ANNOTATION], ownerOf('sb-conflict'));
  });

  it('waitTemplateReady survives dropped watch connections and reports every phase as progress', async () => {
    const proxied = new KubernetesTemplateStore(kube.kubeConfig('admin', { viaProxy: true }));
    const acts = activitiesFor(proxied);
    const ref = newRef();
    await applyTemplate(acts, ref, 'sb-watch', 'watch');
    const connectionsBefore = kube.proxy.accepted;
    const { heartbeats, result } = runActivity(acts, 'waitTemplateReady', ref);
    let done = false;
    void result.then(
      () => (done = true),
      () => (done = true),
    );
    await until('the wait to start', () => heartbeats.length > 0);
    await delay(300); // the watch request is open

    await setPhase(ref, 'ResumeGoldenActor');
    await until('ResumeGoldenActor', () => heartbeats.includes('ResumeGoldenActor'));
    assert.ok(kube.proxy.dropAll() > 0, 'the watch connection was open');
    await setPhase(ref, 'WaitGoldenActor'); // while the watch is down
    await until('WaitGoldenActor after a reconnect', () => heartbeats.includes('WaitGoldenActor'));
    assert.ok(kube.proxy.dropAll() > 0);
    await delay(300);
    assert.equal(done, false, 'still waiting: the template is not Ready');
    await delay(500); // heartbeats continue between phase changes (heartbeatMs 200)
    await setPhase(ref, 'Ready');
    await result;

    assert.deepEqual(dedupe(heartbeats), ['Pending', 'ResumeGoldenActor', 'WaitGoldenActor', 'Ready']);
    assert.ok(heartbeats.filter((h) => h === 'WaitGoldenActor').length >= 2, 'periodic heartbeats');
    assert.ok(kube.proxy.accepted >= connectionsBefore + 2, 'reconnected after each drop');
  });

  it('waitTemplateReady fails clearly when the template is deleted while waiting, or is absent', async () => {
    const acts = activitiesFor(store);
    const ref = newRef();
    await applyTemplate(acts, ref, 'sb-gone', 'gone');
    const { heartbeats, result } = runActivity(acts, 'waitTemplateReady', ref);
    await until('the wait to start', () => heartbeats.length > 0);
    await delay(200);
    assert.equal(await store.delete(ref), true);
    await assert.rejects(result, isPermanent(/ActorTemplate .* not found/));
    await assert.rejects(runActivity(acts, 'waitTemplateReady', newRef()).result, isPermanent(/not found/));
  });

  it('waitTemplateReady fails on Failed, and stops when the activity is cancelled', async () => {
    const acts = activitiesFor(store);
    const ref = newRef();
    await applyTemplate(acts, ref, 'sb-fail', 'fail');
    await setPhase(ref, 'Failed');
    await assert.rejects(runActivity(acts, 'waitTemplateReady', ref).result, isPermanent(/failed/));

    const pending = newRef();
    await applyTemplate(acts, pending, 'sb-cancel', 'c');
    const { env, heartbeats, result } = runActivity(acts, 'waitTemplateReady', pending);
    await until('the wait to start', () => heartbeats.length > 0);
    env.cancel('CANCELLED');
    await assert.rejects(result, (err: unknown) => (err as Error).name === 'CancelledFailure');
  });

  it('deleteOwnedTemplate deletes owned templates and their Secret, leaves foreign ones, reports absent ones, checks the version it deletes', async () => {
    const acts = activitiesFor(store);
    const owned = newRef();
    const foreign = newRef();
    await applyTemplate(acts, owned, 'sb-own', 'own');
    await applyTemplate(acts, foreign, 'sb-other', 'o');

    assert.equal(await runActivity(acts, 'deleteOwnedTemplate', foreign, 'sb-own').result, 'not-owned');
    assert.ok(await store.get(foreign), 'the foreign template is kept');
    assert.equal(
      await runActivity(acts, 'deleteOwnedTemplate', owned, 'sb-own', tokenSecretRef(owned, 'secret-token'))
        .result,
      'deleted',
    );
    await until('the owned template to be gone', async () => (await store.get(owned)) === null);
    await assert.rejects(
      admin.makeApiClient(CoreV1Api).readNamespacedSecret(tokenSecretRef(owned, 'secret-token')),
      (err: unknown) => (err as { code?: number }).code === 404,
    );
    assert.equal(await runActivity(acts, 'deleteOwnedTemplate', owned, 'sb-own').result, 'absent');

    // The ownership check and the delete are one version: a template changed in between is kept.
    const stale = (await store.get(foreign))!.metadata.resourceVersion;
    await setPhase(foreign, 'ResumeGoldenActor'); // any write bumps the resourceVersion
    await assert.rejects(store.delete(foreign, { resourceVersion: stale }), /answered 409: .*precondition/i);
    assert.ok(await store.get(foreign));
  });

  it('forbidden answers (RBAC) are clear, non-retryable failures', async () => {
    const ref = newRef();
    await runActivity(
      activitiesFor(store),
      'applySandboxTemplate',
      ref,
      { sandboxId: 'sb-rbac', sandboxName: 'r' },
      sandboxSpec(),
    ).result;

    // reader: may get, list and watch ate.dev objects, but not write them or Secrets.
    const reader = new KubernetesTemplateStore(kube.kubeConfig('reader'));
    assert.equal((await reader.get(ref))?.metadata.name, ref.name);
    await assert.rejects(
      runActivity(
        activitiesFor(reader),
        'applySandboxTemplate',
        newRef(),
        { sandboxId: 'sb-r', sandboxName: 'r' },
        sandboxSpec(),
      ).result,
      isPermanent(/answered 403: secrets ".*" is forbidden: User "reader" cannot patch resource "secrets"/),
    );
    await assert.rejects(
      reader.apply((await store.get(ref))!),
      /answered 403: .*User "reader" cannot patch resource "actortemplates" in API group "ate.dev"/,
    );
    await assert.rejects(
      runActivity(activitiesFor(reader), 'deleteOwnedTemplate', ref, 'sb-rbac').result,
      isPermanent(/403: .*cannot delete resource "actortemplates"/),
    );

    // nobody: no grants at all.
    const nobody = new KubernetesTemplateStore(kube.kubeConfig('nobody'));
    await assert.rejects(nobody.get(ref), (err: unknown) => {
      assert.ok(err instanceof TemplateRejectedError);
      assert.equal(err.status, 403);
      assert.match(
        err.message,
        /get ActorTemplate .*: Kubernetes API answered 403: .*User "nobody" cannot get resource/,
      );
      return true;
    });
    await assert.rejects(
      runActivity(activitiesFor(nobody), 'waitTemplateReady', ref).result,
      isPermanent(/403/),
    );
    assert.ok(await store.get(ref), 'nothing was deleted');

    // Reading and watching is all waiting needs: the reader follows the template to Ready.
    await setPhase(ref, 'Ready');
    await runActivity(activitiesFor(reader), 'waitTemplateReady', ref).result;
  });

  it('the simulator takes templates, pools and scaling from the API server and writes golden and pool status back', async () => {
    // A WorkerPool and a template as a user would `kubectl apply` them.
    await objects.patchNamespacedCustomObject(
      {
        group: 'ate.dev',
        version: 'v1alpha1',
        plural: 'workerpools',
        namespace: NS,
        name: 'pool',
        body: {
          apiVersion: 'ate.dev/v1alpha1',
          kind: 'WorkerPool',
          metadata: { name: 'pool', namespace: NS, labels: { tier: 'test' } },
          spec: { replicas: 2, ateomImage: 'ko://ateom-gvisor' },
        },
        fieldManager: 'kubectl',
        force: true,
      },
      applyPatch,
    );
    const sim = await startKubeBackedSimulator({
      kubeconfig: kube.kubeconfigPath,
      latencyScale: 0.05,
      seed: 3,
    });
    try {
      assert.deepEqual(
        sim.core.cluster.listPools().map((p) => `${p.metadata.namespace}/${p.metadata.name}`),
        [`${NS}/pool`],
      );
      const poolStatus = async () =>
        (
          (await objects.getNamespacedCustomObject({
            group: 'ate.dev',
            version: 'v1alpha1',
            plural: 'workerpools',
            namespace: NS,
            name: 'pool',
          })) as { status?: { replicas?: number } }
        ).status?.replicas;
      await until('pool status.replicas 2', async () => (await poolStatus()) === 2);

      // An independent watch records every phase the API server stores.
      const ref = newRef();
      const phases: string[] = [];
      const watch = await new Watch(admin).watch(
        `/apis/ate.dev/v1alpha1/namespaces/${NS}/actortemplates`,
        { fieldSelector: `metadata.name=${ref.name}` },
        (_type, obj: ActorTemplate) => phases.push(obj.status?.phase ?? ''),
        () => {},
      );
      const acts = activitiesFor(store);
      await applyTemplate(acts, ref, 'sb-sim', 'sim');
      const { heartbeats, result } = runActivity(acts, 'waitTemplateReady', ref);
      await result;
      // The activity's own watch saw Ready; this independent one may get the event a moment later.
      await until('the independent watch to see Ready', async () => phases.includes('Ready'));
      watch.abort();

      assert.deepEqual(dedupe(phases), ['', 'ResumeGoldenActor', 'WaitGoldenActor', 'Ready']);
      assert.equal(heartbeats.at(-1), 'Ready');
      const ready = await readRaw(ref);
      assert.match(ready.status?.goldenSnapshot ?? '', /^gs:\/\/kube-test-snapshots\//);
      const status = ready.status as { conditions?: { type: string; status: string }[] };
      assert.deepEqual(
        status.conditions?.map((c) => [c.type, c.status]),
        [['Ready', 'True']],
      );
      assert.ok(
        ready.metadata.managedFields?.some(
          (m) => m.manager === GOLDEN_FIELD_MANAGER && m.subresource === 'status',
        ),
      );

      // The template is usable: an actor created from it runs (restored from the golden snapshot).
      const never = new AbortController().signal;
      await sim.core.pipeline.invoke('CreateAtespace', { name: 'users' }, never);
      await sim.core.pipeline.invoke(
        'CreateActor',
        {
          actorRef: { atespace: 'users', name: 'a1' },
          actorTemplateNamespace: NS,
          actorTemplateName: ref.name,
        },
        never,
      );
      const { actor } = await sim.core.pipeline.invoke(
        'ResumeActor',
        { actorRef: { atespace: 'users', name: 'a1' }, boot: false },
        never,
      );
      assert.equal(actor?.workerPoolName, 'pool', JSON.stringify(actor));
      assert.match(actor?.ateomPodName ?? '', /^pool-deployment-/);

      // `kubectl scale workerpool pool --replicas=3`: the simulated Deployment follows, and status too.
      await objects.patchNamespacedCustomObjectScale(
        {
          group: 'ate.dev',
          version: 'v1alpha1',
          plural: 'workerpools',
          namespace: NS,
          name: 'pool',
          body: [{ op: 'replace', path: '/spec/replicas', value: 3 }],
        },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      );
      await until(
        'three running pods',
        () =>
          sim.core.cluster.listPods().filter((p) => p.pool === 'pool' && p.phase === 'Running').length === 3,
      );
      await until('pool status.replicas 3', async () => (await poolStatus()) === 3);

      // Deleting it in Kubernetes removes it from the simulator.
      await store.delete(ref);
      await until(
        'the simulator to forget the template',
        () => sim.core.templates.get(NS, ref.name) === undefined,
      );
    } finally {
      await sim.stop();
    }
  });
});
