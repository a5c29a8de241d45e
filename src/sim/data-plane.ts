// The simulator's HTTP data plane: reaches an actor's workload the way traffic reaches it
// through atenet (Host "<actor>[.<atespace>].actors.resources.substrate.ate.dev"), or by path
// "/actors/<atespace>/<actor>/…" for convenience. Each request first resumes a stopped actor.
// The workload speaks JSON: a key/value memory, an append-only message list, a counter.
import { status as GrpcStatus } from '@grpc/grpc-js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ActorRef } from '../gen/ateapi';
import type { SimulatorCore } from './core';
import { toStatus } from './errors';
import type { TrafficResumer } from './router';
import type { WorkloadState } from './workload';

const HOST_SUFFIX = '.actors.resources.substrate.ate.dev';
const MAX_BODY_BYTES = 1024 * 1024;

/** The router's gRPC → HTTP mapping (atenet errors.go). */
const HTTP_FOR_GRPC: Partial<Record<GrpcStatus, number>> = {
  [GrpcStatus.NOT_FOUND]: 404,
  [GrpcStatus.FAILED_PRECONDITION]: 503,
  [GrpcStatus.UNAVAILABLE]: 503,
  [GrpcStatus.DEADLINE_EXCEEDED]: 504,
  [GrpcStatus.UNAUTHENTICATED]: 401,
  [GrpcStatus.PERMISSION_DENIED]: 403,
  [GrpcStatus.RESOURCE_EXHAUSTED]: 429,
};

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

interface Target {
  /** Empty when the host named only the actor. */
  atespace: string;
  name: string;
  /** The workload path, e.g. "/memory/k". */
  path: string;
}

function parseTarget(req: IncomingMessage): Target | undefined {
  const url = new URL(req.url ?? '/', 'http://sim');
  const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
  if (host.endsWith(HOST_SUFFIX)) {
    const labels = host.slice(0, -HOST_SUFFIX.length).split('.');
    if (labels.length === 1) return { atespace: '', name: labels[0], path: url.pathname };
    if (labels.length === 2) return { atespace: labels[1], name: labels[0], path: url.pathname };
    return undefined;
  }
  const match = /^\/actors\/([^/]+)\/([^/]+)(\/.*)?$/.exec(url.pathname);
  if (!match) return undefined;
  return {
    atespace: decodeURIComponent(match[1]),
    name: decodeURIComponent(match[2]),
    path: match[3] ?? '/',
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'request body exceeds 1 MiB');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'a JSON body is required');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
}

/** The workload's own HTTP API. Returns [status, body]. */
async function serveWorkload(
  state: WorkloadState,
  method: string,
  path: string,
  req: IncomingMessage,
): Promise<[number, unknown]> {
  const memoryKey = /^\/memory\/(.+)$/.exec(path)?.[1];
  if (path === '/' || path === '/state') {
    if (method === 'GET') return [200, state];
  } else if (path === '/readyz') {
    if (method === 'GET') return [200, { ready: true }];
  } else if (path === '/memory') {
    if (method === 'GET') return [200, state.memory];
  } else if (memoryKey !== undefined) {
    const key = decodeURIComponent(memoryKey);
    if (method === 'GET') {
      if (!(key in state.memory)) throw new HttpError(404, `no memory key ${JSON.stringify(key)}`);
      return [200, { key, value: state.memory[key] }];
    }
    if (method === 'PUT') {
      state.memory[key] = await readJson(req);
      return [200, { key, value: state.memory[key] }];
    }
    if (method === 'DELETE') {
      const existed = key in state.memory;
      delete state.memory[key];
      return [existed ? 200 : 404, { key, deleted: existed }];
    }
  } else if (path === '/messages') {
    if (method === 'GET') return [200, state.messages];
    if (method === 'POST') {
      const body = (await readJson(req)) as { role?: unknown; content?: unknown };
      if (typeof body?.content !== 'string') throw new HttpError(400, 'content must be a string');
      const message = {
        role: typeof body.role === 'string' ? body.role : 'user',
        content: body.content,
        at: new Date().toISOString(),
      };
      state.messages.push(message);
      return [201, { index: state.messages.length - 1, ...message }];
    }
  } else if (path === '/counter') {
    if (method === 'GET') return [200, { counter: state.counter }];
    if (method === 'POST') return [200, { counter: ++state.counter }];
  } else {
    throw new HttpError(404, `no route ${path}`);
  }
  throw new HttpError(405, `method ${method} not allowed on ${path}`);
}

export class DataPlane {
  private readonly server: Server;

  constructor(
    private readonly core: SimulatorCore,
    private readonly resumer: TrafficResumer,
  ) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  listen(host: string, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const address = this.server.address();
        const bound = typeof address === 'object' && address ? address.port : port;
        resolve(`http://${host.includes(':') ? `[${host}]` : host}:${bound}`);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const target = parseTarget(req);
      if (!target)
        throw new HttpError(
          404,
          `no actor route; use Host <actor>.<atespace>${HOST_SUFFIX} or /actors/<atespace>/<actor>/…`,
        );
      const ref = this.resolve(target);
      const actor = await this.resumer.ensureRunning(ref).catch((err: unknown) => {
        const { code, details } = toStatus(err);
        throw new HttpError(HTTP_FOR_GRPC[code] ?? 500, details);
      });
      const pod = this.core.cluster.findPod(actor.ateomPodNamespace, actor.ateomPodName);
      const state = pod ? this.core.atelets.workloadOn(pod) : undefined;
      if (!pod || !state) throw new HttpError(503, `actor ${ref.name} has no running workload`);
      const [status, body] = await serveWorkload(state, req.method ?? 'GET', target.path, req);
      res.setHeader('x-sim-actor', `${ref.atespace}/${ref.name}`);
      res.setHeader('x-sim-worker-pod', pod.name);
      this.reply(res, status, body);
    } catch (err) {
      if (err instanceof HttpError) this.reply(res, err.statusCode, { error: err.message });
      else this.reply(res, 500, { error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** A host that named only the actor must identify it uniquely across atespaces. */
  private resolve(target: Target): ActorRef {
    if (target.atespace !== '') return { atespace: target.atespace, name: target.name };
    const matches = [...this.core.store.allActors()].filter((a) => a.actorId === target.name);
    if (matches.length === 0) throw new HttpError(404, `Actor ${target.name} not found`);
    if (matches.length > 1)
      throw new HttpError(
        409,
        `actor name ${target.name} exists in several atespaces; put the atespace in the host`,
      );
    return { atespace: matches[0].atespace, name: target.name };
  }

  private reply(res: ServerResponse, status: number, body: unknown): void {
    if (res.headersSent) return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }
}
