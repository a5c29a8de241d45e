// The facade's cost over Substrate itself, on this machine, against the zero-latency simulator:
//   - CreateSandbox→RUNNING, StopSandbox and StartSandbox through the facade vs direct ateapi calls
//     (p50, p99, and the per-transition overhead);
//   - WatchSandboxes delay: from a call's return to the matching snapshot on the stream;
//   - how many sandboxes one worker process manages, and the memory it takes.
// Targets (issue 5): overhead p50 ≤ 50 ms per transition, watch delay p99 ≤ 1 s, 1,000 sandboxes.
// BENCH_ROUNDS (default 40) and BENCH_SANDBOXES (default 1000) scale it down for quick runs.
import { randomUUID } from 'node:crypto';
import { defaultCluster } from '../src/sim';
import { DriverSandbox } from '../src/gen/compute_driver';
import {
  conditionsOf,
  gateway,
  snapshotOf,
  startFacadeStack,
  WatchRecorder,
  type FacadeStack,
} from '../test/helpers/stack';
import { figure } from './figures';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const SANDBOXES = Number(process.env.BENCH_SANDBOXES ?? 1000);
const TEMPLATE = 'sandbox'; // the simulator's pre-provisioned template: same work on both paths

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const ms = (value: number) => `${value.toFixed(1)} ms`;
const timed = async (fn: () => Promise<unknown>) => {
  const start = performance.now();
  await fn();
  return performance.now() - start;
};

function sandboxOf(id: string): DriverSandbox {
  return DriverSandbox.fromPartial({
    id,
    name: id,
    workspace: 'bench',
    spec: {
      command: ['/bin/bash', '-l'],
      template: { platformConfig: { substrate_actor_template: TEMPLATE }, driverConfig: { idle_timeout: 0 } },
    },
  });
}

/** CreateActor → ResumeActor → SuspendActor → ResumeActor straight against the simulator. */
async function directRounds(f: FacadeStack) {
  const ateapi = f.stack.ateapi;
  await ateapi.createAtespace('bench-direct').catch(() => undefined);
  const create: number[] = [];
  const stop: number[] = [];
  const start: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const ref = { atespace: 'bench-direct', name: `direct-${i}` };
    create.push(
      await timed(async () => {
        await ateapi.createActor({
          actorRef: ref,
          actorTemplateNamespace: 'default',
          actorTemplateName: TEMPLATE,
        });
        await ateapi.resumeActor(ref);
      }),
    );
    stop.push(await timed(() => ateapi.suspendActor(ref)));
    start.push(await timed(() => ateapi.resumeActor(ref)));
    await ateapi.suspendActor(ref);
    await ateapi.deleteActor(ref);
  }
  return { create, stop, start };
}

/** The same transitions as the gateway drives them, plus the watch delay of each. */
async function facadeRounds(f: FacadeStack) {
  const gw = gateway(f.client);
  const watch = new WatchRecorder(f.client);
  const create: number[] = [];
  const stop: number[] = [];
  const start: number[] = [];
  const watchDelay: number[] = [];
  const seen = (id: string, predicate: (c: string[]) => boolean, from: number) =>
    watch.waitFor(snapshotOf(id, predicate), `watch ${id}`, 30_000, from);
  const arrival = new Map<object, number>();
  const timeOf = (event: object) => arrival.get(event) ?? performance.now();
  // Stamp each event as it arrives, so that delays do not include our own waiting.
  const originalPush = watch.events.push.bind(watch.events);
  watch.events.push = (...items) => {
    for (const item of items) arrival.set(item, performance.now());
    return originalPush(...items);
  };
  const READY = (c: string[]) => c.includes('Ready=True/ActorRunning');
  const STOPPED = (c: string[]) => c.some((x) => x.startsWith('Suspended=True'));

  for (let i = 0; i < ROUNDS; i++) {
    const id = randomUUID();
    let from = watch.events.length;
    const began = performance.now();
    await gw.create(sandboxOf(id));
    const ready = await seen(id, READY, from);
    create.push(timeOf(ready) - began);

    from = watch.events.length;
    let t = performance.now();
    await gw.stop(id);
    let returned = performance.now();
    stop.push(returned - t);
    watchDelay.push(timeOf(await seen(id, STOPPED, from)) - returned);

    from = watch.events.length;
    t = performance.now();
    await gw.start(id);
    returned = performance.now();
    start.push(returned - t);
    watchDelay.push(timeOf(await seen(id, READY, from)) - returned);
    await gw.delete(id);
  }
  watch.close();
  return { create, stop, start, watchDelay };
}

/** Creates SANDBOXES sandboxes through the facade and waits until all run. */
async function scale(f: FacadeStack) {
  const gw = gateway(f.client, 600_000);
  const before = process.memoryUsage();
  const began = performance.now();
  const ids = Array.from({ length: SANDBOXES }, () => randomUUID());
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < ids.length) await gw.create(sandboxOf(ids[next++]));
    }),
  );
  const accepted = performance.now() - began;
  for (;;) {
    const running = (await gw.list()).filter((s) => conditionsOf(s).includes('Ready=True/ActorRunning'));
    if (running.length >= SANDBOXES) break;
    if (performance.now() - began > 15 * 60_000)
      throw new Error(`only ${running.length} running after 15 min`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const allRunning = performance.now() - began;
  const listTime = await timed(() => gw.list());
  global.gc?.();
  const after = process.memoryUsage();
  return { accepted, allRunning, listTime, before, after };
}

export async function run(): Promise<void> {
  const cluster = defaultCluster();
  cluster.pools[0].spec.replicas = SANDBOXES + ROUNDS + 16;
  const f = await startFacadeStack(
    { watchPollMs: 250, callTimeoutMs: 120_000, readTimeoutMs: 30_000 },
    { cluster },
  );
  try {
    figure(`rounds ${ROUNDS}, sandboxes ${SANDBOXES}, watch poll 250 ms, simulator latency 0`);
    const direct = await directRounds(f);
    const facade = await facadeRounds(f);
    const row = (what: string, d: number[], v: number[]) =>
      figure(
        `${what.padEnd(22)} direct p50 ${ms(percentile(d, 50))} p99 ${ms(percentile(d, 99))} | facade p50 ${ms(
          percentile(v, 50),
        )} p99 ${ms(percentile(v, 99))} | overhead p50 ${ms(percentile(v, 50) - percentile(d, 50))} ratio ${(
          percentile(v, 50) / percentile(d, 50)
        ).toFixed(1)}x`,
      );
    row('create → RUNNING', direct.create, facade.create);
    row('stop (suspend)', direct.stop, facade.stop);
    row('start (resume)', direct.start, facade.start);
    figure(
      `watch delay            p50 ${ms(percentile(facade.watchDelay, 50))} p99 ${ms(percentile(facade.watchDelay, 99))} (call returned → snapshot on the stream)`,
    );
    const s = await scale(f);
    const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
    figure(
      `scale                  ${SANDBOXES} sandboxes: all accepted in ${(s.accepted / 1000).toFixed(1)} s, all RUNNING in ${(
        s.allRunning / 1000
      ).toFixed(1)} s, ListSandboxes ${ms(s.listTime)}`,
    );
    figure(
      `memory (one process: worker + facade + simulator)  rss ${mb(s.before.rss)} → ${mb(s.after.rss)}, heap ${mb(
        s.before.heapUsed,
      )} → ${mb(s.after.heapUsed)}`,
    );
  } finally {
    await f.teardown();
  }
}
