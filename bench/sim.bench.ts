// Simulator throughput and footprint with the zero-latency model, over real gRPC:
// lifecycle RPCs per second (Resume/Suspend cycles from concurrent clients), and heap used
// by 1,000 and 10,000 actors. Prints figures; asserts nothing.
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ControlClient, type ActorRef } from '../src/gen/ateapi';
import { startSimulator, type Simulator } from '../src/sim';
import { clusterFromObjects } from '../src/sim/cluster/spec';
import { figure } from './figures';

const TEMPLATE = { actorTemplateNamespace: 'default', actorTemplateName: 'bench' };

function cluster(workers: number) {
  return clusterFromObjects([
    { kind: 'WorkerPool', metadata: { name: 'bench' }, spec: { replicas: workers } },
    {
      kind: 'ActorTemplate',
      metadata: { name: 'bench' },
      spec: {
        pauseImage: 'pause@sha256:1',
        containers: [{ name: 'main', image: 'main@sha256:1', readyz: { httpGet: { port: 80 } } }],
        snapshotsConfig: { location: 'gs://bench/' },
      },
    },
  ]);
}

type Method = 'createAtespace' | 'createActor' | 'resumeActor' | 'suspendActor';

function call(client: ControlClient, method: Method, request: object): Promise<void> {
  return new Promise((resolve, reject) => {
    const fn = client[method].bind(client) as (
      r: object,
      m: Metadata,
      o: object,
      cb: (err: ServiceError | null) => void,
    ) => void;
    fn(request, new Metadata(), {}, (err) => (err ? reject(err) : resolve()));
  });
}

async function start(workers: number): Promise<{ sim: Simulator; client: ControlClient }> {
  const sim = await startSimulator({ latencyScale: 0, cluster: cluster(workers), seed: 1 });
  const client = new ControlClient(sim.address, credentials.createInsecure());
  await call(client, 'createAtespace', { name: 'bench' });
  return { sim, client };
}

async function createActors(client: ControlClient, count: number, concurrency = 64): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const name = `actor-${next++}`;
        await call(client, 'createActor', {
          actorRef: { atespace: 'bench', name },
          ...TEMPLATE,
          workerSelector: undefined,
        });
      }
    }),
  );
}

async function lifecycleThroughput(): Promise<void> {
  const clients = 32;
  const { sim, client } = await start(clients);
  await createActors(client, clients);
  const durationMs = 3000;
  const until = Date.now() + durationMs;
  let rpcs = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      const actorRef: ActorRef = { atespace: 'bench', name: `actor-${i}` };
      while (Date.now() < until) {
        await call(client, 'resumeActor', { actorRef, boot: false });
        await call(client, 'suspendActor', { actorRef });
        rpcs += 2;
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  figure(
    `lifecycle RPCs: ${rpcs} Resume/Suspend calls in ${seconds.toFixed(1)} s from ${clients} concurrent clients = ${Math.round(rpcs / seconds)} RPC/s`,
  );
  client.close();
  await sim.stop();
}

/** A callable gc, even when node was started without --expose-gc. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function heapWithActors(count: number, gc: () => void): Promise<void> {
  const { sim, client } = await start(16);
  gc();
  const empty = process.memoryUsage().heapUsed;
  await createActors(client, count);
  // One actor in ten has run and been suspended, so it carries a snapshot.
  for (let i = 0; i < count; i += 10) {
    const actorRef = { atespace: 'bench', name: `actor-${i}` };
    await call(client, 'resumeActor', { actorRef, boot: false });
    await call(client, 'suspendActor', { actorRef });
  }
  gc();
  const { heapUsed: after, rss } = process.memoryUsage();
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  figure(
    `heap with ${count.toLocaleString('en')} actors: ${mb(after)} used by the process (the actors add ${mb(after - empty)}, ${Math.round((after - empty) / count)} B each; RSS ${mb(rss)})`,
  );
  client.close();
  await sim.stop();
}

export async function run(): Promise<void> {
  await lifecycleThroughput();
  const gc = collector();
  await heapWithActors(1_000, gc);
  await heapWithActors(10_000, gc);
}
