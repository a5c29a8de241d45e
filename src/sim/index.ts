// ateflow's Agent Substrate simulator: a faithful ate-api-server (ateapi.Control over gRPC),
// an operator API (ateflow.sim.v1.SimulatorAdmin) and an HTTP data plane, over a simulated
// cluster. startSimulator() is what tests, `ateflow dev` and `ateflow sim start` use.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ControlService } from '../gen/ateapi';
import { SimulatorAdminService } from '../gen/sim_admin';
import { adminService } from './admin-api';
import { authenticator, jwtAuthority, type AuthOptions, type JwtAuthority } from './auth';
import { defaultCluster, loadClusterFile, type ClusterSpec } from './cluster/spec';
import { SimulatorCore, type CoreOptions } from './core';
import { DataPlane } from './data-plane';
import {
  captureState,
  readStateFile,
  restoreState,
  writeStateFile,
  type RestoreSummary,
} from './persistence';
import { controlService, listen, shutdown } from './grpc';
import type { FreezerMode } from './processes';
import { TrafficResumer } from './router';
import { createCertificateAuthority, createServerCertificate } from './x509';

export type { ClusterSpec } from './cluster/spec';
export { DEFAULT_TEMPLATE, defaultCluster, loadClusterFile, parseClusterYaml } from './cluster/spec';
export type { AuthOptions } from './auth';
export { SimulatorCore } from './core';
export type { ActorProcessInfo, FreezerMode } from './processes';

/** The DNS name ate-api-server's certificate carries. */
export const SERVER_NAME = 'api.ate-system.svc';

export interface TlsOptions {
  /** Name to issue the certificate for; default api.ate-system.svc (the host is added too). */
  serverName?: string;
}

export interface SimulatorOptions {
  /** Parsed cluster model; default: the built-in cluster (3 nodes, 8 gVisor workers, template default/sandbox). */
  cluster?: ClusterSpec;
  /** Or a multi-document YAML file of ActorTemplates, WorkerPools, SandboxConfigs, Nodes and Secrets. */
  clusterFile?: string;
  /** 0 = instant (tests), 1 = realistic latencies. Default 1. */
  latencyScale?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** ateapi.Control port; 0 (default) picks a free one. */
  port?: number;
  /** Admin API port; 0 (default) picks a free one. */
  adminPort?: number;
  /** HTTP data plane port; 0 (default) picks a free one. */
  dataPlanePort?: number;
  /** TLS for ateapi.Control with a freshly generated CA; default plaintext. The admin API stays plaintext. */
  tls?: boolean | TlsOptions;
  /** Default { mode: 'none' } (upstream's mtls mode: no per-call checks). */
  auth?: AuthOptions;
  /** Seed for placement, names and latencies. */
  seed?: number;
  /** Per-call deadline of Resume/Suspend/Pause; default 28 s as upstream. */
  lifecycleDeadlineMs?: number;
  /** Delay before worker records reappear after DebugClear; default 5 min × latencyScale. */
  workerResyncMs?: number;
  /** The ActorTemplate store (default in-memory); see startKubeBackedSimulator in ./kube. */
  templateStore?: CoreOptions['templateStore'];
  /** Keep state across restarts (atespaces, actors, snapshots, templates, secrets). */
  persistence?: StatePersistence;
  /**
   * Run each actor's main container (containers[0] with a command) as a real process on this
   * machine, in its own mount, network and pid namespaces; suspend and pause freeze it, a
   * restore thaws it. Linux, as root (unshare, ip, mount). Default false: in-memory workloads only.
   */
  processActors?: boolean;
  /** Process actors: one log file per actor (stdout and stderr); default a temporary directory removed on stop. */
  processLogDir?: string;
  /** Process actors: 'auto' (default) the cgroup v1 freezer when writable, else SIGSTOP; or force one. */
  processFreezer?: FreezerMode;
  /** Process actors: the unshare binary (default `unshare` from PATH). */
  processUnshare?: string;
  /**
   * Masters of the Valkey cluster behind ateapi (default 3, upstream's install). With more than
   * one, ListActors loses actors as upstream does (a page that fills at the end of one shard's
   * scan skips the next shard); see README "Fidelity switches".
   */
  redisShards?: number;
  /**
   * How SCAN walks a shard: 'valkey' (default; whole hash buckets, hash order, pages may exceed
   * page_size) or 'miniredis' (sorted keys, exactly COUNT: upstream's functional tests).
   */
  redisScan?: 'valkey' | 'miniredis';
  /** ateapi's env Secret cache TTL (default 30 s, not scaled); 0 resolves Secrets live. */
  secretCacheTtlMs?: number;
  /** Delay of worker changes to ateapi's worker cache (default 2 ms × latencyScale). */
  workerCacheLagMs?: number;
  /** Period of the worker cache's full relist (default 5 min × latencyScale). */
  workerCacheRelistMs?: number;
}

/** Where the simulator keeps its state across restarts (`ateflow dev`). */
export interface StatePersistence {
  /** JSON file: loaded at start when it exists, written on stop and every `saveIntervalMs`. */
  file: string;
  /** Default 1 s; 0 saves only on stop. */
  saveIntervalMs?: number;
}

export interface Simulator {
  /** host:port of ateapi.Control. */
  address: string;
  /** host:port of ateflow.sim.v1.SimulatorAdmin. */
  adminAddress: string;
  /** http://host:port of the data plane. */
  dataPlaneUrl: string;
  /** PEM of the CA that signed the server certificate (TLS only). */
  caCertPem?: string;
  /** Name to verify the server certificate against (TLS only). */
  serverName?: string;
  /** JWT mode: the verifying keys, and a token minter when the simulator made the key. */
  jwt?: JwtAuthority;
  /** In-process access to the simulated cluster and store (tests, the CLI). */
  core: SimulatorCore;
  /** What was reloaded from the state file at start, if anything. */
  restored?: RestoreSummary;
  stop(): Promise<void>;
}

function serverCredentials(tls: SimulatorOptions['tls'], host: string) {
  if (!tls) return { credentials: ServerCredentials.createInsecure() };
  const serverName = (typeof tls === 'object' && tls.serverName) || SERVER_NAME;
  const ca = createCertificateAuthority('ateflow simulator CA');
  const names = [...new Set([serverName, host, 'localhost'])];
  const leaf = createServerCertificate(ca, names);
  const credentials = ServerCredentials.createSsl(
    null,
    [{ cert_chain: Buffer.from(leaf.certPem), private_key: Buffer.from(leaf.keyPem) }],
    false,
  );
  return { credentials, caCertPem: ca.certPem, serverName };
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const host = options.host ?? '127.0.0.1';
  const cluster =
    options.cluster ?? (options.clusterFile ? loadClusterFile(options.clusterFile) : defaultCluster());
  const latencyScale = options.latencyScale ?? 1;
  if (!(latencyScale >= 0)) throw new Error('latencyScale must be a number >= 0');
  const auth = options.auth ?? { mode: 'none' };
  const jwt = auth.mode === 'jwt' ? await jwtAuthority(auth) : undefined;

  const core = new SimulatorCore({
    cluster,
    latencyScale,
    seed: options.seed,
    lifecycleDeadlineMs: options.lifecycleDeadlineMs,
    workerResyncMs: options.workerResyncMs,
    templateStore: options.templateStore,
    redisShards: options.redisShards,
    redisScan: options.redisScan,
    secretCacheTtlMs: options.secretCacheTtlMs,
    workerCacheLagMs: options.workerCacheLagMs,
    workerCacheRelistMs: options.workerCacheRelistMs,
    processes: options.processActors
      ? { logDir: options.processLogDir, freezer: options.processFreezer, unshare: options.processUnshare }
      : undefined,
  });
  const saved = options.persistence ? readStateFile(options.persistence.file) : undefined;
  const restored = saved ? restoreState(core, saved) : undefined;
  core.start();
  restored?.afterStart();
  const persistence = options.persistence;
  const save = () => persistence && writeStateFile(persistence.file, captureState(core));
  const saveEvery = persistence?.saveIntervalMs ?? 1_000;
  const saver = persistence && saveEvery > 0 ? setInterval(save, saveEvery).unref() : undefined;

  const tls = serverCredentials(options.tls, host);
  const control = new Server();
  control.addService(ControlService, controlService(core.pipeline, authenticator(jwt)));
  const admin = new Server();
  const info = {
    controlAddress: '',
    adminAddress: '',
    dataPlaneUrl: '',
    tls: Boolean(options.tls),
    authMode: auth.mode,
    latencyScale,
  };
  admin.addService(
    SimulatorAdminService,
    adminService(core, () => info),
  );
  const dataPlane = new DataPlane(core, new TrafficResumer(core.pipeline, core.random));

  try {
    const address = (info.controlAddress = await listen(control, host, options.port ?? 0, tls.credentials));
    const adminAddress = (info.adminAddress = await listen(
      admin,
      host,
      options.adminPort ?? 0,
      ServerCredentials.createInsecure(),
    ));
    const dataPlaneUrl = (info.dataPlaneUrl = await dataPlane.listen(host, options.dataPlanePort ?? 0));
    return {
      address,
      adminAddress,
      dataPlaneUrl,
      caCertPem: tls.caCertPem,
      serverName: tls.serverName,
      jwt,
      core,
      restored: restored && {
        atespaces: restored.atespaces,
        actors: restored.actors,
        reset: restored.reset,
        templates: restored.templates,
        secrets: restored.secrets,
      },
      stop: async () => {
        clearInterval(saver);
        save();
        core.stop();
        await Promise.all([shutdown(control), shutdown(admin), dataPlane.close(), core.stopProcesses()]);
      },
    };
  } catch (err) {
    clearInterval(saver);
    core.stop();
    control.forceShutdown();
    admin.forceShutdown();
    await Promise.all([dataPlane.close(), core.stopProcesses()]);
    throw err;
  }
}
