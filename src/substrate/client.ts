// The ateapi.Control client: one gRPC channel, TLS with a custom CA and server-name override (or
// plaintext for local use), a bearer token re-read from its file on every call (Kubernetes
// rotates projected tokens), and a deadline on every call.
import { credentials, Metadata, type CallOptions } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Config } from '../config';
import {
  ControlClient,
  type Actor,
  type Atespace,
  type CreateActorRequest,
  type CreateActorResponse,
  type CreateAtespaceResponse,
  type DeleteActorResponse,
  type DeleteAtespaceResponse,
  type GetActorResponse,
  type GetAtespaceResponse,
  type ListActorsRequest,
  type ListActorsResponse,
  type ListWorkersResponse,
  type PauseActorResponse,
  type ResumeActorResponse,
  type SuspendActorResponse,
  type UpdateActorResponse,
  type Worker,
} from '../gen/ateapi';
import { unary, within, type Done } from '../grpc/unary';
import type { ActorRef } from '../workflows/messages';

export interface AteapiClientOptions {
  /** host:port of ate-api-server (or the simulator). */
  endpoint: string;
  /** TLS settings; omit for plaintext. */
  tls?: { caPem?: Buffer; serverName?: string };
  /** File holding a bearer token (JWT auth mode); read on every call. */
  tokenFile?: string;
  /** Per-call deadline; above Substrate's own 28 s lifecycle deadline by default. */
  callTimeoutMs?: number;
}

export class AteapiClient {
  private readonly control: ControlClient;
  private readonly callTimeoutMs: number;

  constructor(private readonly options: AteapiClientOptions) {
    const creds = options.tls
      ? credentials.createSsl(options.tls.caPem ?? null)
      : credentials.createInsecure();
    const channelOptions = options.tls?.serverName
      ? { 'grpc.ssl_target_name_override': options.tls.serverName }
      : {};
    this.control = new ControlClient(options.endpoint, creds, channelOptions);
    this.callTimeoutMs = options.callTimeoutMs ?? 35_000;
  }

  close(): void {
    this.control.close();
  }

  async getActor(ref: ActorRef): Promise<Actor> {
    return (
      await this.call<GetActorResponse>((md, o, done) =>
        this.control.getActor({ actorRef: ref }, md, o, done),
      )
    ).actor!;
  }

  async createActor(request: CreateActorRequest): Promise<Actor> {
    return (
      await this.call<CreateActorResponse>((md, o, done) => this.control.createActor(request, md, o, done))
    ).actor!;
  }

  async updateActorSelector(ref: ActorRef, matchLabels: Record<string, string>): Promise<Actor> {
    const request = { actorRef: ref, workerSelector: { matchLabels } };
    return (
      await this.call<UpdateActorResponse>((md, o, done) => this.control.updateActor(request, md, o, done))
    ).actor!;
  }

  async resumeActor(ref: ActorRef, boot = false): Promise<Actor> {
    const request = { actorRef: ref, boot };
    return (
      await this.call<ResumeActorResponse>((md, o, done) => this.control.resumeActor(request, md, o, done))
    ).actor!;
  }

  async suspendActor(ref: ActorRef): Promise<Actor> {
    const request = { actorRef: ref };
    return (
      await this.call<SuspendActorResponse>((md, o, done) => this.control.suspendActor(request, md, o, done))
    ).actor!;
  }

  async pauseActor(ref: ActorRef): Promise<Actor> {
    const request = { actorRef: ref };
    return (
      await this.call<PauseActorResponse>((md, o, done) => this.control.pauseActor(request, md, o, done))
    ).actor!;
  }

  async deleteActor(ref: ActorRef): Promise<void> {
    await this.call<DeleteActorResponse>((md, o, done) =>
      this.control.deleteActor({ actorRef: ref }, md, o, done),
    );
  }

  async listActorsPage(request: Partial<ListActorsRequest>): Promise<ListActorsResponse> {
    const full = { pageSize: 0, pageToken: '', atespace: '', ...request };
    return this.call<ListActorsResponse>((md, o, done) => this.control.listActors(full, md, o, done));
  }

  /** Every actor (in one atespace, or all): follows page tokens until the end, as upstream requires. */
  async listAllActors(atespace = ''): Promise<Actor[]> {
    const actors: Actor[] = [];
    let pageToken = '';
    do {
      const page = await this.listActorsPage({ atespace, pageToken });
      actors.push(...page.actors);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return actors;
  }

  async listWorkers(): Promise<Worker[]> {
    return (await this.call<ListWorkersResponse>((md, o, done) => this.control.listWorkers({}, md, o, done)))
      .workers;
  }

  async createAtespace(name: string): Promise<Atespace> {
    return (
      await this.call<CreateAtespaceResponse>((md, o, done) =>
        this.control.createAtespace({ name }, md, o, done),
      )
    ).atespace!;
  }

  async getAtespace(name: string): Promise<Atespace> {
    return (
      await this.call<GetAtespaceResponse>((md, o, done) => this.control.getAtespace({ name }, md, o, done))
    ).atespace!;
  }

  async deleteAtespace(name: string): Promise<void> {
    await this.call<DeleteAtespaceResponse>((md, o, done) =>
      this.control.deleteAtespace({ name }, md, o, done),
    );
  }

  private async metadata(): Promise<Metadata> {
    const metadata = new Metadata();
    if (this.options.tokenFile) {
      const token = (await readFile(this.options.tokenFile, 'utf8')).trim();
      if (token === '') throw new Error(`the ateapi token file ${this.options.tokenFile} is empty`);
      metadata.set('authorization', `Bearer ${token}`);
    }
    return metadata;
  }

  /** One call with our metadata (bearer token) and a deadline. */
  private async call<Res>(
    start: (metadata: Metadata, options: CallOptions, done: Done<Res>) => unknown,
  ): Promise<Res> {
    const metadata = await this.metadata();
    return unary<Res>((done) => start(metadata, within(this.callTimeoutMs), done));
  }
}

/** The client for the configured Substrate endpoint (TLS when a CA is given or TLS is on). */
export function ateapiClientFromConfig(config: Config): AteapiClient {
  const caPem = config.ATEFLOW_ATEAPI_CA_FILE ? readFileSync(config.ATEFLOW_ATEAPI_CA_FILE) : undefined;
  const tls =
    config.ATEFLOW_ATEAPI_TLS || caPem ? { caPem, serverName: config.ATEFLOW_ATEAPI_SERVER_NAME } : undefined;
  return new AteapiClient({
    endpoint: config.ATEFLOW_ATEAPI_ENDPOINT,
    tls,
    tokenFile: config.ATEFLOW_ATEAPI_TOKEN_FILE,
  });
}
