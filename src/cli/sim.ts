// `ateflow sim …`: run a standalone Agent Substrate simulator, and operate a running one
// through its admin API (kill or evict worker pods, scale pools, fail nodes, inject faults).
// The simulator, the gRPC client and YAML load only when a command runs (fast `--help`); every
// admin call is bounded by --timeout; errors end as CliError (exit codes: src/cli/exit.ts).
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { writeFileSync } from 'node:fs';
import type { Fault, SimActor, SimPool, SimWorker } from '../gen/sim_admin';
import type { SimulatorOptions } from '../sim';
import type { SimAdminConnection } from '../sim/admin-client';
import { nonNegative, positiveDuration, wholeNumber } from './args';
import { CliError, EXIT_HELP, GRPC_CODE_NAMES, grpcCode, isCommanderError, outcomeOfGrpc } from './exit';

const DEFAULT_ADMIN = '127.0.0.1:7101';
const DEFAULT_TIMEOUT_MS = 10_000;

/** The output format, with YAML loaded when it is needed. */
interface Output {
  format: 'table' | 'json' | 'yaml';
  toYaml: (value: unknown) => string;
}

interface GlobalOptions {
  admin: string;
  output: Output['format'];
  timeout: number;
}

/** The admin API, every call bounded by --timeout. */
type Admin = Pick<SimAdminConnection, 'call'>;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Prints `value` as JSON/YAML, or `rows()` as a table. */
function show(output: Output, value: unknown, header?: string[], rows?: () => string[][]): void {
  if (output.format === 'json') console.log(JSON.stringify(value, null, 2));
  else if (output.format === 'yaml') console.log(output.toYaml(value).trimEnd());
  else if (header && rows) console.log(table(header, rows()));
  else console.log(output.toYaml(value).trimEnd());
}

const summary = (workloadJson: string) => {
  if (!workloadJson) return '';
  const w = JSON.parse(workloadJson) as { memory: object; messages: unknown[]; counter: number };
  return `${Object.keys(w.memory).length} keys, ${w.messages.length} msgs, counter ${w.counter}`;
};

function parseCode(text: string): number {
  const byName = (GRPC_CODE_NAMES as readonly string[]).indexOf(text.toUpperCase());
  const code = byName >= 0 ? byName : text.trim() === '' ? NaN : Number(text);
  if (!Number.isInteger(code) || code < 0 || code > 16)
    throw new CliError('usage', `unknown gRPC code ${text}`);
  return code;
}

const count = wholeNumber(0);
const port = (text: string): number => {
  const n = count(text);
  if (n > 65535) throw new InvalidArgumentError('must be a port (0 to 65535)');
  return n;
};

const probability = (text: string): number => {
  const p = Number(text);
  if (text.trim() === '' || !(p > 0 && p <= 1)) throw new InvalidArgumentError('must be in (0, 1]');
  return p;
};

async function startCommand(opts: {
  cluster?: string;
  latencyScale: number;
  host: string;
  port: number;
  adminPort: number;
  dataPlanePort: number;
  tls?: boolean;
  caOut?: string;
  seed?: number;
}): Promise<void> {
  const options: SimulatorOptions = {
    clusterFile: opts.cluster,
    latencyScale: opts.latencyScale,
    host: opts.host,
    port: opts.port,
    adminPort: opts.adminPort,
    dataPlanePort: opts.dataPlanePort,
    tls: opts.tls,
    seed: opts.seed,
  };
  const { startSimulator } = await import('../sim');
  const sim = await startSimulator(options).catch((err: unknown) => {
    // grpc-js reports a failed bind as a plain Error naming the errno.
    const message = err instanceof Error ? err.message : String(err);
    if (/EADDRINUSE|EACCES|EADDRNOTAVAIL/.test(message))
      throw new CliError('unavailable', `cannot listen: ${message}`, { cause: err });
    if (/ENOENT/.test(message)) throw new CliError('notFound', message, { cause: err });
    throw err;
  });
  console.log(
    `ateapi.Control   ${sim.address}${sim.serverName ? ` (TLS, server name ${sim.serverName})` : ''}`,
  );
  console.log(`admin API        ${sim.adminAddress}`);
  console.log(`data plane       ${sim.dataPlaneUrl}`);
  if (sim.caCertPem) {
    const caPath = opts.caOut ?? 'sim-ca.pem';
    writeFileSync(caPath, sim.caCertPem);
    console.log(`CA certificate   ${caPath}`);
  }
  console.log(`latency scale    ${opts.latencyScale}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sim.stop();
}

export function simCommand(): Command {
  const sim = new Command('sim')
    .description('run the Agent Substrate simulator, or operate a running one')
    .addOption(
      new Option('--admin <host:port>', 'admin API of a running simulator')
        .env('ATEFLOW_SIM_ADMIN')
        .default(DEFAULT_ADMIN),
    )
    .addOption(
      new Option('-o, --output <format>', 'output format')
        .choices(['table', 'json', 'yaml'])
        .default('table'),
    )
    .addOption(
      new Option('--timeout <duration>', 'the longest one admin call may take (any position)')
        .argParser(positiveDuration)
        .default(DEFAULT_TIMEOUT_MS, '10s'),
    )
    .addHelpText('after', EXIT_HELP);

  /** Runs `body` against the admin API named by the global options. */
  const withAdmin =
    <A extends unknown[]>(body: (admin: Admin, output: Output, ...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      const { admin: address, output: format, timeout } = sim.opts<GlobalOptions>();
      const [{ SimAdminConnection }, { stringify }] = await Promise.all([
        import('../sim/admin-client'),
        import('yaml'),
      ]);
      const connection = new SimAdminConnection(address);
      const admin: Admin = {
        call: (method, request) => connection.call(method, request, timeout),
      };
      try {
        await body(admin, { format, toYaml: stringify }, ...args);
      } catch (err) {
        if (err instanceof CliError || isCommanderError(err)) throw err;
        const code = grpcCode(err);
        if (code === 14)
          throw new CliError('unavailable', `no simulator admin API at ${address}`, { cause: err });
        if (code === 4)
          throw new CliError(
            'unavailable',
            `no answer from the simulator admin API at ${address} within --timeout`,
            {
              cause: err,
            },
          );
        const message =
          (err as { details?: string }).details ?? (err instanceof Error ? err.message : String(err));
        throw new CliError(code === undefined ? 'failed' : outcomeOfGrpc(code), message, { cause: err });
      } finally {
        connection.close();
      }
    };

  sim
    .command('start')
    .description('run a standalone simulator until interrupted, printing its addresses')
    .option('--cluster <file.yaml>', 'cluster: ActorTemplates, WorkerPools, SandboxConfigs, Nodes, Secrets')
    .option('--latency-scale <n>', '0 = instant, 1 = realistic', nonNegative, 1)
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--port <port>', 'ateapi.Control port (0: any free port)', port, 7100)
    .option('--admin-port <port>', 'admin API port (0: any free port)', port, 7101)
    .option('--data-plane-port <port>', 'HTTP data plane port (0: any free port)', port, 7102)
    .option('--tls', 'serve ateapi.Control over TLS with a generated CA')
    .option('--ca-out <file>', 'where to write the CA certificate (with --tls)')
    .option('--seed <n>', 'seed for placement and names', count)
    .action(startCommand);

  sim
    .command('workers')
    .description('worker pods with their actors and workload state')
    .action(
      withAdmin(async (admin, output) => {
        const { workers } = await admin.call('listWorkers', {});
        show(output, workers, ['POD', 'POOL', 'NODE', 'IP', 'PHASE', 'ACTOR', 'STATUS', 'WORKLOAD'], () =>
          workers.map((w: SimWorker) => [
            w.pod,
            `${w.namespace}/${w.pool}`,
            w.node,
            w.ip,
            w.phase,
            w.actorName ? `${w.actorAtespace}/${w.actorName}` : '',
            w.actorStatus.replace('STATUS_', ''),
            summary(w.workloadJson),
          ]),
        );
      }),
    );

  sim
    .command('actors')
    .description('actors with placement and workload state')
    .option('--atespace <name>', 'only this atespace')
    .action(
      withAdmin(async (admin, output, opts: { atespace?: string }) => {
        const { actors } = await admin.call('listActors', { atespace: opts.atespace ?? '' });
        show(output, actors, ['ACTOR', 'STATUS', 'VERSION', 'TEMPLATE', 'POD', 'NODE', 'WORKLOAD'], () =>
          actors.map((a: SimActor) => [
            `${a.atespace}/${a.name}`,
            a.status.replace('STATUS_', ''),
            String(a.version),
            `${a.templateNamespace}/${a.templateName}`,
            a.workerPod,
            a.node,
            a.workloadJson ? `${a.workloadSource}: ${summary(a.workloadJson)}` : '',
          ]),
        );
      }),
    );

  sim
    .command('pools')
    .description('worker pools')
    .action(
      withAdmin(async (admin, output) => {
        const { pools } = await admin.call('listPools', {});
        show(output, pools, ['POOL', 'CLASS', 'DESIRED', 'READY', 'FREE', 'LABELS'], () =>
          pools.map((p: SimPool) => [
            `${p.namespace}/${p.name}`,
            p.sandboxClass,
            String(p.desiredReplicas),
            String(p.readyReplicas),
            String(p.freeWorkers),
            Object.entries(p.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(','),
          ]),
        );
      }),
    );

  sim
    .command('nodes')
    .description('nodes')
    .action(
      withAdmin(async (admin, output) => {
        const { nodes } = await admin.call('listNodes', {});
        show(output, nodes, ['NODE', 'READY', 'PODS'], () =>
          nodes.map((n) => [n.name, String(n.ready), String(n.pods)]),
        );
      }),
    );

  const podAction = (verb: 'killWorker' | 'evictWorker' | 'removeWorker', done: string) =>
    withAdmin(async (admin, output, pod: string, opts: { namespace?: string }) => {
      const { worker } = await admin.call(verb, { pod, namespace: opts.namespace ?? '' });
      show(output, worker, ['POD', 'RESULT'], () => [[pod, done]]);
    });
  sim
    .command('kill-worker <pod>')
    .description('delete a worker pod at once; its actor drops to SUSPENDED, unsaved state is lost')
    .option('-n, --namespace <ns>', 'pod namespace, if the name is ambiguous')
    .action(podAction('killWorker', 'killed (a replacement starts)'));
  sim
    .command('evict <pod>')
    .description('evict a worker pod: it terminates, releases its actor and is replaced')
    .option('-n, --namespace <ns>', 'pod namespace, if the name is ambiguous')
    .action(podAction('evictWorker', 'evicted (a replacement starts)'));
  sim
    .command('remove-worker <pod>')
    .description('delete a worker pod and lower its pool by one')
    .option('-n, --namespace <ns>', 'pod namespace, if the name is ambiguous')
    .action(podAction('removeWorker', 'removed'));

  const poolResult = (output: Output, pool: SimPool | undefined) =>
    show(output, pool, ['POOL', 'DESIRED', 'READY'], () =>
      pool
        ? [[`${pool.namespace}/${pool.name}`, String(pool.desiredReplicas), String(pool.readyReplicas)]]
        : [],
    );
  sim
    .command('add-workers')
    .description('scale a pool up by <count> pods')
    .argument('<pool>')
    .addArgument(new Argument('<count>').argParser(count))
    .option('-n, --namespace <ns>', 'pool namespace, if the name is ambiguous')
    .action(
      withAdmin(async (admin, output, pool: string, added: number, opts: { namespace?: string }) => {
        const res = await admin.call('addWorkers', {
          pool,
          namespace: opts.namespace ?? '',
          count: added,
        });
        poolResult(output, res.pool);
      }),
    );
  sim
    .command('scale')
    .description("set a pool's replicas")
    .argument('<pool>')
    .addArgument(new Argument('<replicas>').argParser(count))
    .option('-n, --namespace <ns>', 'pool namespace, if the name is ambiguous')
    .action(
      withAdmin(async (admin, output, pool: string, replicas: number, opts: { namespace?: string }) => {
        const res = await admin.call('scalePool', {
          pool,
          namespace: opts.namespace ?? '',
          replicas,
        });
        poolResult(output, res.pool);
      }),
    );
  sim
    .command('kill-node <node>')
    .description('fail a node: its pods die and its local (pause) snapshots are lost')
    .action(
      withAdmin(async (admin, output, node: string) => {
        const { pods } = await admin.call('killNode', { node });
        show(output, { node, pods }, ['POD', 'RESULT'], () => pods.map((p) => [p, 'died with the node']));
      }),
    );
  sim
    .command('resync')
    .description('register missing worker records now (as the 5-minute resync would)')
    .action(
      withAdmin(async (admin, output) => {
        const res = await admin.call('resyncWorkers', {});
        show(output, res, ['REGISTERED'], () => [[String(res.registered)]]);
      }),
    );

  const faultRows = (faults: Fault[]) =>
    faults.map((f) => [
      f.id,
      f.rpc,
      f.actor || '*',
      GRPC_CODE_NAMES[f.code] ?? String(f.code),
      f.probability ? String(f.probability) : 'always',
      f.count ? String(f.count) : 'unlimited',
      f.extraLatencyMs ? `${f.extraLatencyMs}ms` : '',
      f.leaveTransitional ? 'atelet' : 'request',
      String(f.hits),
    ]);
  const FAULT_HEADER = ['ID', 'RPC', 'ACTOR', 'CODE', 'PROBABILITY', 'LEFT', 'LATENCY', 'STAGE', 'HITS'];
  sim
    .command('fault <rpc>')
    .description('make an ateapi.Control RPC (or "*") fail or slow down')
    .option('--code <code>', 'gRPC code name or number (OK only adds latency)', 'UNAVAILABLE')
    .option('--message <text>', 'status message', 'injected fault')
    .option('--probability <p>', 'chance per matching call, in (0, 1]', probability)
    .option('--count <n>', 'expire after n hits', count)
    .option('--latency-ms <ms>', 'extra latency per hit', count)
    .option('--actor <name>', 'only calls about this actor')
    .option('--leave-transitional', 'fail inside the atelet step, leaving RESUMING/SUSPENDING/PAUSING')
    .action(
      withAdmin(
        async (
          admin,
          output,
          rpc: string,
          opts: {
            code: string;
            message: string;
            probability?: number;
            count?: number;
            latencyMs?: number;
            actor?: string;
            leaveTransitional?: boolean;
          },
        ) => {
          const { fault } = await admin.call('injectFault', {
            fault: {
              id: '',
              rpc,
              actor: opts.actor ?? '',
              code: parseCode(opts.code),
              message: opts.message,
              probability: opts.probability ?? 0,
              count: opts.count ?? 0,
              extraLatencyMs: opts.latencyMs ?? 0,
              leaveTransitional: opts.leaveTransitional ?? false,
              hits: 0,
            },
          });
          show(output, fault, FAULT_HEADER, () => (fault ? faultRows([fault]) : []));
        },
      ),
    );
  sim
    .command('faults')
    .description('injected faults')
    .action(
      withAdmin(async (admin, output) => {
        const { faults } = await admin.call('listFaults', {});
        show(output, faults, FAULT_HEADER, () => faultRows(faults));
      }),
    );
  sim
    .command('clear-faults [id]')
    .description('remove one fault, or all of them')
    .action(
      withAdmin(async (admin, output, id?: string) => {
        const res = await admin.call('clearFaults', { id: id ?? '' });
        if (id !== undefined && res.cleared === 0) throw new CliError('notFound', `no fault ${id}`);
        show(output, res, ['CLEARED'], () => [[String(res.cleared)]]);
      }),
    );
  sim
    .command('templates')
    .description('ActorTemplates with their golden phase')
    .action(
      withAdmin(async (admin, output) => {
        const { templatesJson } = await admin.call('listActorTemplates', { namespace: '' });
        const templates = templatesJson.map(
          (t) =>
            JSON.parse(t) as {
              metadata: { namespace: string; name: string };
              spec: { sandboxClass: string };
              status?: { phase?: string; goldenSnapshot?: string };
            },
        );
        show(output, templates, ['TEMPLATE', 'CLASS', 'PHASE', 'GOLDEN SNAPSHOT'], () =>
          templates.map((t) => [
            `${t.metadata.namespace}/${t.metadata.name}`,
            t.spec.sandboxClass,
            t.status?.phase || '(new)',
            t.status?.goldenSnapshot ?? '',
          ]),
        );
      }),
    );

  return sim;
}
