// A real Kubernetes API server for tests: etcd (Debian package etcd-server) and kube-apiserver
// (built from the k8s.io/kubernetes Go module by scripts/kube-apiserver.sh, cached outside the
// repository) on loopback, static-token users, RBAC, our CRDs from deploy/crds installed. Tests
// reach it through a TCP proxy that can drop every open connection (watch interruption).
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { parse } from 'yaml';

const ROOT = resolve(__dirname, '../..');
const BUILD_SCRIPT = join(ROOT, 'scripts/kube-apiserver.sh');
export const CRD_DIR = join(ROOT, 'deploy/crds');

/** The kube-apiserver version: $KUBE_VERSION, else the build script's default (one source of truth). */
function kubeVersion(): string {
  if (process.env.KUBE_VERSION) return process.env.KUBE_VERSION.replace(/^v/, '');
  const match = /KUBE_VERSION="\$\{KUBE_VERSION:-([0-9.]+)\}"/.exec(readFileSync(BUILD_SCRIPT, 'utf8'));
  if (!match) throw new Error(`${BUILD_SCRIPT} names no default KUBE_VERSION`);
  return match[1];
}

function which(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, command);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface KubeBinaries {
  apiserver: string;
  etcd: string;
  version: string;
}

/**
 * The binaries, or why the kube tests must skip. Synchronous, so test files can pass the reason to
 * `skippable` (helpers/skip.ts) at load time. $KUBE_APISERVER_PATH / $ETCD_PATH override the lookup.
 */
export function kubeBinaries(): KubeBinaries | { skip: string } {
  const version = kubeVersion();
  const cache =
    process.env.ATEFLOW_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ateflow');
  const apiserver = process.env.KUBE_APISERVER_PATH ?? join(cache, `kube-apiserver-v${version}`);
  if (!existsSync(apiserver)) {
    const failed = `${apiserver}.failed`;
    const why = existsSync(failed)
      ? `its build failed: ${readFileSync(failed, 'utf8').trim().split('\n').slice(-3).join(' | ')}`
      : 'run scripts/kube-apiserver.sh to build it';
    return { skip: `kube-apiserver v${version} is not available at ${apiserver} (${why})` };
  }
  const etcd = process.env.ETCD_PATH ?? which('etcd');
  if (!etcd) return { skip: 'etcd is not installed (apt-get install etcd-server)' };
  return { apiserver, etcd, version };
}

/** Why kube tests skip, or undefined when they can run. */
export function kubeSkipReason(): string | undefined {
  const found = kubeBinaries();
  return 'skip' in found ? found.skip : undefined;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise((ok) => server.close(ok));
  return port;
}

/** A loopback TCP proxy whose open connections can all be cut at once. */
export class DroppingProxy {
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  /** Connections accepted so far. */
  accepted = 0;
  port = 0;

  constructor(private readonly targetPort: number) {
    this.server = createServer((client) => {
      this.accepted++;
      const upstream = connect(this.targetPort, '127.0.0.1');
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.sockets.add(a);
        a.pipe(b);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          this.sockets.delete(a);
          b.destroy();
        });
      }
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  /** Destroys every open connection (as a load balancer restart would); returns how many. */
  dropAll(): number {
    const count = this.sockets.size;
    for (const socket of this.sockets) socket.destroy();
    return count;
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise((ok) => this.server.close(ok));
  }
}

export type KubeUser = 'admin' | 'reader' | 'nobody';

export interface KubeCluster {
  /** https://127.0.0.1:port of kube-apiserver itself. */
  server: string;
  /** A kubeconfig file (admin, direct) for tools and the simulator. */
  kubeconfigPath: string;
  proxy: DroppingProxy;
  version: string;
  /**
   * A client config for one of the static-token users: admin (system:masters), reader (get, list
   * and watch ate.dev objects) or nobody (no RBAC grants). `viaProxy` routes through the proxy.
   */
  kubeConfig(user?: KubeUser, options?: { viaProxy?: boolean }): KubeConfig;
  /** Creates a namespace (namespaces are never deleted: there is no namespace controller). */
  createNamespace(name: string): Promise<void>;
  stop(): Promise<void>;
}

function spawnLogged(command: string, args: string[], logFile: string): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** One GET; the status code, or the error's message. Self-signed TLS is accepted (health only). */
function probe(url: string, headers: Record<string, string>): Promise<string> {
  if (url.startsWith('http:')) {
    return fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (res) => String(res.status),
      (err: Error) => err.message,
    );
  }
  return new Promise((done) => {
    const get = request(url, { headers, rejectUnauthorized: false, timeout: 2000 });
    get.on('response', (res) => {
      res.resume();
      done(String(res.statusCode));
    });
    get.on('error', (err) => done(err.message));
    get.on('timeout', () => get.destroy(new Error('timeout')));
    get.end();
  });
}

/** Polls a URL until it answers 200; fails early when the process exits. */
async function waitHealthy(
  url: string,
  child: ChildProcess,
  logFile: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${url}: process exited (${child.exitCode ?? child.signalCode}):\n${tail(logFile)}`);
    }
    last = await probe(url, headers);
    if (last === '200') return;
    await delay(250);
  }
  throw new Error(`${url} not healthy after ${timeoutMs} ms (last: ${last}):\n${tail(logFile)}`);
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((ok) => child.once('exit', ok));
  child.kill('SIGTERM');
  const killed = await Promise.race([exited.then(() => true), delay(10_000).then(() => false)]);
  if (!killed) {
    child.kill('SIGKILL');
    await exited;
  }
}

const applyPatch = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

/** Applies every CRD in deploy/crds and waits until each is Established. */
export async function installCrds(config: KubeConfig): Promise<string[]> {
  const api = config.makeApiClient(ApiextensionsV1Api);
  const names: string[] = [];
  for (const file of readdirSync(CRD_DIR).filter((f) => f.endsWith('.yaml'))) {
    const body = parse(readFileSync(join(CRD_DIR, file), 'utf8')) as V1CustomResourceDefinition;
    const name = body.metadata!.name!;
    await api.patchCustomResourceDefinition(
      { name, body, fieldManager: 'ateflow-tests', force: true },
      applyPatch,
    );
    names.push(name);
  }
  for (const name of names) {
    for (let i = 0; ; i++) {
      const crd = await api.readCustomResourceDefinition({ name });
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (i > 100) throw new Error(`CRD ${name} not established: ${JSON.stringify(crd.status)}`);
      await delay(100);
    }
  }
  return names;
}

/** Starts etcd and kube-apiserver in a fresh temp dir and installs the CRDs. */
export async function startKube(): Promise<KubeCluster> {
  const found = kubeBinaries();
  if ('skip' in found) throw new Error(found.skip);
  const dir = mkdtempSync(join(tmpdir(), 'ateflow-kube-'));
  const children: ChildProcess[] = [];
  const proxyHolder: { proxy?: DroppingProxy } = {};
  // If the test process dies without stop(), its servers must not outlive it.
  const killOnExit = () => children.forEach((child) => child.kill('SIGKILL'));
  process.once('exit', killOnExit);
  const cleanup = async () => {
    process.removeListener('exit', killOnExit);
    await proxyHolder.proxy?.close();
    for (const child of children.reverse()) await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // etcd: a single member on loopback, data under the temp dir.
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    const etcdLog = join(dir, 'etcd.log');
    const etcd = spawnLogged(
      found.etcd,
      [
        '--name=ateflow-test',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=ateflow-test=http://127.0.0.1:${peerPort}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      etcdLog,
    );
    children.push(etcd);
    await waitHealthy(`${etcdUrl}/health`, etcd, etcdLog, {}, 30_000);

    // kube-apiserver: static tokens, RBAC, a self-signed serving certificate.
    const tokens = {
      admin: randomBytes(16).toString('hex'),
      reader: randomBytes(16).toString('hex'),
      nobody: randomBytes(16).toString('hex'),
    };
    writeFileSync(
      join(dir, 'tokens.csv'),
      [
        `${tokens.admin},admin,admin-uid,"system:masters"`,
        `${tokens.reader},reader,reader-uid`,
        `${tokens.nobody},nobody,nobody-uid`,
      ].join('\n') + '\n',
    );
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const port = await freePort();
    const certDir = join(dir, 'certs');
    const apiLog = join(dir, 'kube-apiserver.log');
    const apiserver = spawnLogged(
      found.apiserver,
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        '--endpoint-reconciler-type=none', // loopback cannot be a kubernetes Service endpoint
        `--secure-port=${port}`,
        `--cert-dir=${certDir}`,
        `--token-auth-file=${join(dir, 'tokens.csv')}`,
        '--authorization-mode=RBAC',
        '--anonymous-auth=false',
        `--service-account-key-file=${join(dir, 'sa.key')}`,
        `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
        '--service-account-issuer=https://kubernetes.default.svc',
        '--service-cluster-ip-range=10.0.0.0/24',
        '--enable-priority-and-fairness=false',
        '--profiling=false',
        '--v=1',
      ],
      apiLog,
    );
    children.push(apiserver);
    const server = `https://127.0.0.1:${port}`;
    await waitHealthy(
      `${server}/readyz`,
      apiserver,
      apiLog,
      { Authorization: `Bearer ${tokens.admin}` },
      120_000,
    );

    const caFile = readdirSync(certDir).find((f) => f.endsWith('.crt'));
    const caData = caFile ? readFileSync(join(certDir, caFile)).toString('base64') : undefined;
    const proxy = (proxyHolder.proxy = new DroppingProxy(port));
    const proxyPort = await proxy.listen();
    const kubeConfig = (user: KubeUser = 'admin', options: { viaProxy?: boolean } = {}) => {
      const config = new KubeConfig();
      const cluster = options.viaProxy ? 'proxied' : 'direct';
      config.loadFromOptions({
        clusters: [
          { name: 'direct', server, caData, skipTLSVerify: !caData },
          { name: 'proxied', server: `https://127.0.0.1:${proxyPort}`, caData, skipTLSVerify: !caData },
        ],
        users: [{ name: user, token: tokens[user] }],
        contexts: [{ name: 'test', cluster, user }],
        currentContext: 'test',
      });
      return config;
    };
    const admin = kubeConfig('admin');
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, admin.exportConfig());

    await installCrds(admin);
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createClusterRole({
      body: {
        metadata: { name: 'ate-reader' },
        rules: [{ apiGroups: ['ate.dev'], resources: ['*'], verbs: ['get', 'list', 'watch'] }],
      },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: 'ate-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ate-reader' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'reader' }],
      },
    });

    return {
      server,
      kubeconfigPath,
      proxy,
      version: found.version,
      kubeConfig,
      async createNamespace(name) {
        await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
      },
      stop: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
