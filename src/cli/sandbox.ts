// `ateflow sandbox …`: a human's view of the driver facade. Lifecycle calls go through the same
// ComputeDriver RPCs the gateway uses; the rest through ateflow.v1 Operations.
import { Metadata, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { Command, Option } from 'commander';
import { randomUUID } from 'node:crypto';
import { stringify as toYaml } from 'yaml';
import { loadConfig } from '../config';
import { connectFacade, type FacadeClient } from '../driver/client';
import { unary, within } from '../grpc/unary';
import { formatDuration, parseDuration } from '../durations';
import { loadDriverSettings } from '../driver/settings';
import type {
  DrainProgress,
  HistoryResponse,
  ListSandboxesResponse,
  Sandbox,
  SandboxEvent,
} from '../gen/ateflow';
import {
  DriverSandbox,
  type DeleteSandboxResponse,
  type GetCapabilitiesResponse,
} from '../gen/compute_driver';

/** Exit codes, so that scripts can tell outcomes apart. */
export const EXIT = {
  ok: 0,
  error: 1,
  notFound: 3,
  refused: 4,
  unavailable: 5,
  sandboxFailed: 6,
} as const;

type Output = 'table' | 'json' | 'yaml';

interface GlobalOptions {
  driver: string;
  output: Output;
  timeout: string;
}

/** Exit with `code` after printing `message`; thrown by actions, caught once in `run`. */
class CliExit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export function sandboxCommand(): Command {
  const sandbox = new Command('sandbox')
    .description('create, inspect and operate sandboxes through the ateflow driver')
    .addOption(
      new Option('--driver <address>', 'driver socket path or host:port').default(
        defaultDriverAddress(),
        '$ATEFLOW_DRIVER_SOCKET or .data/compute-driver.sock',
      ),
    )
    .addOption(
      new Option('-o, --output <format>', 'output format')
        .choices(['table', 'json', 'yaml'])
        .default('table'),
    )
    .option('--timeout <duration>', 'give up after this long', '5m')
    .addHelpText(
      'after',
      `\nExit codes: 0 ok, 1 error, ${EXIT.notFound} not found, ${EXIT.refused} refused (invalid or not allowed now), ` +
        `${EXIT.unavailable} driver, Temporal or worker unavailable, ${EXIT.sandboxFailed} the sandbox ended FAILED.`,
    );

  const run =
    <A extends unknown[]>(fn: (ctx: Context, ...args: A) => Promise<void>) =>
    async (...args: A) => {
      const options = sandbox.opts<GlobalOptions>();
      const ctx = new Context(options);
      try {
        await fn(ctx, ...args);
      } catch (err) {
        const exit = toExit(err, options.driver);
        console.error(`ateflow: ${exit.message}`);
        process.exitCode = exit.code;
      } finally {
        ctx.close();
      }
    };

  sandbox
    .command('create')
    .description('create a sandbox and wait until it runs')
    .option('--name <name>', 'sandbox name (default: the id)')
    .option('--id <id>', 'sandbox id (default: a new UUID)')
    .option('--workspace <workspace>', 'workspace', 'default')
    .option('--image <image>', 'digest-pinned image (default: the driver default)')
    .option('--template <name>', 'use this pre-provisioned ActorTemplate')
    .option('--idle-timeout <duration>', 'auto-suspend after this long idle (0 disables)')
    .option('--selector <label=value...>', 'worker selector')
    .option('--env <KEY=VALUE...>', 'environment variable')
    .option('--label <key=value...>', 'label')
    .option('--detach', 'return once the sandbox is accepted')
    .argument('[command...]', 'main process (default: /bin/bash -l)')
    .action(
      run(async (ctx, command: string[], options: CreateOptions) => {
        const id = options.id ?? randomUUID();
        const driverSandbox = await buildDriverSandbox(ctx, id, command, options);
        await unary((done) =>
          ctx.facade.driver.validateSandboxCreate(
            { sandbox: driverSandbox },
            new Metadata(),
            ctx.deadline(),
            done,
          ),
        );
        await unary((done) =>
          ctx.facade.driver.createSandbox({ sandbox: driverSandbox }, new Metadata(), ctx.deadline(), done),
        );
        ctx.progress(`sandbox ${id} accepted`);
        if (!options.detach) await ctx.waitForState(id, ['RUNNING'], 'create');
        ctx.printSandbox(await ctx.get(id));
      }),
    );

  sandbox
    .command('get')
    .description('show one sandbox')
    .argument('<id>')
    .action(run(async (ctx, id: string) => ctx.printSandbox(await ctx.get(id))));

  sandbox
    .command('list')
    .description('list every sandbox, suspended ones included')
    .action(
      run(async (ctx) => {
        const { sandboxes } = await unary<ListSandboxesResponse>((done) =>
          ctx.facade.ops.listSandboxes({}, new Metadata(), ctx.deadline(), done),
        );
        ctx.printList(sandboxes.sort((a, b) => a.createdAtMs - b.createdAtMs));
      }),
    );

  const lifecycle = (
    name: string,
    description: string,
    call: (ctx: Context, id: string) => Promise<unknown>,
  ) =>
    sandbox
      .command(name)
      .description(description)
      .argument('<id>')
      .action(
        run(async (ctx, id: string) => {
          await ctx.withProgress(id, name, () => call(ctx, id));
          ctx.printSandbox(await ctx.get(id));
        }),
      );

  lifecycle('stop', 'suspend (memory snapshot); returns once the snapshot is committed', (ctx, id) =>
    unary((done) =>
      ctx.facade.driver.stopSandbox({ sandboxId: id, sandboxName: '' }, new Metadata(), ctx.deadline(), done),
    ),
  );
  lifecycle('start', 'resume a stopped sandbox', (ctx, id) =>
    unary((done) =>
      ctx.facade.driver.startSandbox(
        { sandboxId: id, sandboxName: '' },
        new Metadata(),
        ctx.deadline(),
        done,
      ),
    ),
  );
  lifecycle('checkpoint', 'take a durable snapshot and keep running', (ctx, id) =>
    unary((done) => ctx.facade.ops.checkpoint({ sandboxId: id }, new Metadata(), ctx.deadline(), done)),
  );
  lifecycle('release', 'lift a stop hold (the sandbox stays stopped until started)', (ctx, id) =>
    unary((done) => ctx.facade.ops.release({ sandboxId: id }, new Metadata(), ctx.deadline(), done)),
  );
  lifecycle('touch', 'record activity (moves the idle clock)', (ctx, id) =>
    unary((done) => ctx.facade.ops.touch({ sandboxId: id }, new Metadata(), ctx.deadline(), done)),
  );

  sandbox
    .command('migrate')
    .description('move a sandbox to another worker')
    .argument('<id>')
    .option('--selector <label=value...>', 'new worker selector')
    .option('--clear-selector', 'drop the worker selector')
    .option('--reason <text>', 'why (recorded in the history)')
    .action(
      run(
        async (
          ctx,
          id: string,
          options: { selector?: string[]; clearSelector?: boolean; reason?: string },
        ) => {
          const request = {
            sandboxId: id,
            workerSelector: parsePairs(options.selector, '--selector'),
            replaceSelector: options.clearSelector ?? false,
            reason: options.reason ?? '',
          };
          await ctx.withProgress(id, 'migrate', () =>
            unary((done) => ctx.facade.ops.migrate(request, new Metadata(), ctx.deadline(), done)),
          );
          ctx.printSandbox(await ctx.get(id));
        },
      ),
    );

  sandbox
    .command('drain')
    .description('migrate every sandbox off a worker pool or a node')
    .option('--pool <name>', 'worker pool to empty')
    .option('--node <name>', 'node to empty')
    .option('--selector <label=value...>', 'worker selector the moved sandboxes get')
    .option('--parallelism <n>', 'migrations at a time', '4')
    .option('--reason <text>', 'why (recorded in each history)')
    .action(
      run(async (ctx, options: DrainOptions) => {
        if (!options.pool === !options.node)
          throw new CliExit(EXIT.refused, 'give exactly one of --pool or --node');
        const stream = ctx.facade.ops.drain(
          {
            ...(options.pool ? { workerPool: options.pool } : { node: options.node }),
            workerSelector: parsePairs(options.selector, '--selector'),
            reason: options.reason ?? '',
            parallelism: Number(options.parallelism),
          },
          new Metadata(),
          ctx.deadline(),
        );
        const results: DrainProgress[] = [];
        await consume(stream, (progress) => {
          results.push(progress);
          ctx.progress(
            `[${results.length}/${progress.total}] ${progress.sandboxId} ${progress.outcome} ${progress.message}`,
          );
        });
        ctx.print(results, () =>
          table(
            ['SANDBOX', 'OUTCOME', 'FROM', 'TO', 'MESSAGE'],
            results.map((r) => [r.sandboxId, r.outcome, r.fromPod, r.toPod, r.message]),
          ),
        );
        if (results.some((r) => r.outcome === 'FAILED')) process.exitCode = EXIT.error;
      }),
    );

  sandbox
    .command('hold')
    .description('stop a sandbox and refuse starts until released')
    .argument('<id>')
    .requiredOption('--reason <text>', 'why (shown to whoever tries to start it)')
    .action(
      run(async (ctx, id: string, options: { reason: string }) => {
        await ctx.withProgress(id, 'hold', () =>
          unary((done) =>
            ctx.facade.ops.hold(
              { sandboxId: id, reason: options.reason },
              new Metadata(),
              ctx.deadline(),
              done,
            ),
          ),
        );
        ctx.printSandbox(await ctx.get(id));
      }),
    );

  sandbox
    .command('idle-timeout')
    .description('set the idle timeout of one sandbox (0 disables auto-suspend)')
    .argument('<id>')
    .argument('<duration>')
    .action(
      run(async (ctx, id: string, duration: string) => {
        const idleTimeoutMs = parseDurationArg(duration, 'duration');
        ctx.printSandbox(
          await unary((done) =>
            ctx.facade.ops.setIdleTimeout(
              { sandboxId: id, idleTimeoutMs },
              new Metadata(),
              ctx.deadline(),
              done,
            ),
          ),
        );
      }),
    );

  sandbox
    .command('delete')
    .description('delete a sandbox from any state')
    .argument('<id>')
    .action(
      run(async (ctx, id: string) => {
        const { deleted } = await ctx.withProgress(id, 'delete', () =>
          unary<DeleteSandboxResponse>((done) =>
            ctx.facade.driver.deleteSandbox(
              { sandboxId: id, sandboxName: '' },
              new Metadata(),
              ctx.deadline(),
              done,
            ),
          ),
        );
        ctx.print({ id, deleted }, () =>
          deleted ? `deleted sandbox ${id}` : `sandbox ${id} was already gone`,
        );
        if (!deleted) process.exitCode = EXIT.notFound;
      }),
    );

  sandbox
    .command('watch')
    .description('follow lifecycle events as they happen (all sandboxes, or one)')
    .argument('[id]')
    .action(
      run(async (ctx, id: string | undefined) => {
        const stream = ctx.facade.ops.watchEvents({ sandboxId: id ?? '' });
        const stop = () => stream.cancel();
        process.once('SIGINT', stop);
        try {
          await consume(stream, (event) => ctx.printEvent(event));
        } catch (err) {
          if ((err as ServiceError).code !== status.CANCELLED) throw err;
        } finally {
          process.off('SIGINT', stop);
        }
      }),
    );

  sandbox
    .command('history')
    .description('every lifecycle event of one sandbox, from its workflow history')
    .argument('<id>')
    .action(
      run(async (ctx, id: string) => {
        const { events } = await unary<HistoryResponse>((done) =>
          ctx.facade.ops.history({ sandboxId: id }, new Metadata(), ctx.deadline(), done),
        );
        ctx.print(events, () =>
          table(
            ['SEQ', 'TIME', 'TYPE', 'REASON', 'MESSAGE'],
            events.map((e) => [
              String(e.seq),
              new Date(e.timestampMs).toISOString(),
              e.type,
              e.reason,
              e.message,
            ]),
          ),
        );
      }),
    );

  return sandbox;
}

interface CreateOptions {
  name?: string;
  id?: string;
  workspace: string;
  image?: string;
  template?: string;
  idleTimeout?: string;
  selector?: string[];
  env?: string[];
  label?: string[];
  detach?: boolean;
}

interface DrainOptions {
  pool?: string;
  node?: string;
  selector?: string[];
  parallelism: string;
  reason?: string;
}

/** One invocation: the connection, the output format and the time budget. */
class Context {
  readonly facade: FacadeClient;
  readonly output: Output;
  private readonly timeoutMs: number;

  constructor(options: GlobalOptions) {
    this.facade = connectFacade(options.driver);
    this.output = options.output;
    this.timeoutMs = parseDurationArg(options.timeout, '--timeout');
  }

  close(): void {
    this.facade.close();
  }

  deadline() {
    return within(this.timeoutMs);
  }

  get(id: string): Promise<Sandbox> {
    return unary<Sandbox>((done) =>
      this.facade.ops.getSandbox({ sandboxId: id }, new Metadata(), this.deadline(), done),
    );
  }

  /** Progress goes to stderr so that stdout stays parseable. */
  progress(line: string): void {
    console.error(line);
  }

  /** Runs a long operation while printing the sandbox's lifecycle events as they happen. */
  async withProgress<T>(id: string, what: string, operation: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const events = this.facade.ops.watchEvents({ sandboxId: id });
    events.on('data', (event: SandboxEvent) => this.progress(`  ${event.reason}: ${event.message}`));
    events.on('error', () => undefined); // the watch is only decoration; the operation decides
    try {
      const result = await operation();
      this.progress(`${what} ${id}: done in ${formatDuration(Date.now() - started)}`);
      return result;
    } finally {
      events.cancel();
    }
  }

  /** Polls until the sandbox reaches one of `states`; FAILED ends it with its own exit code. */
  async waitForState(id: string, states: string[], what: string): Promise<void> {
    await this.withProgress(id, what, async () => {
      const deadline = Date.now() + this.timeoutMs;
      for (;;) {
        const sandbox = await this.get(id);
        if (states.includes(sandbox.state)) return;
        if (sandbox.state === 'FAILED') {
          throw new CliExit(
            EXIT.sandboxFailed,
            `sandbox ${id} FAILED: ${sandbox.failure?.message ?? sandbox.detail}`,
          );
        }
        if (Date.now() > deadline) {
          throw new CliExit(EXIT.unavailable, `sandbox ${id} is still ${sandbox.state} (${sandbox.detail})`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    });
  }

  print(value: unknown, human: () => string): void {
    if (this.output === 'json') console.log(JSON.stringify(value, null, 2));
    else if (this.output === 'yaml') console.log(toYaml(value).trimEnd());
    else console.log(human());
  }

  printSandbox(sandbox: Sandbox): void {
    this.print(sandbox, () =>
      table(
        ['FIELD', 'VALUE'],
        [
          ['id', sandbox.id],
          ['name', sandbox.name],
          ['workspace', sandbox.workspace],
          ['state', sandbox.state],
          ['detail', sandbox.detail],
          ...(sandbox.failure ? [['failure', `${sandbox.failure.reason}: ${sandbox.failure.message}`]] : []),
          ...(sandbox.hold ? [['hold', `${sandbox.hold.reason} (since ${ago(sandbox.hold.sinceMs)})`]] : []),
          ['actor', `${sandbox.atespace}/${sandbox.actor}`],
          ['template', `${sandbox.template}${sandbox.templateOwned ? ' (synthesized)' : ''}`],
          ['worker', [sandbox.workerPool, sandbox.workerPod].filter(Boolean).join('/') || '-'],
          ['selector', pairs(sandbox.workerSelector)],
          ['idle timeout', sandbox.idleTimeoutMs ? formatDuration(sandbox.idleTimeoutMs) : 'off'],
          ['last active', ago(sandbox.lastActiveAtMs)],
          ['created', ago(sandbox.createdAtMs)],
        ],
      ),
    );
  }

  printList(sandboxes: Sandbox[]): void {
    this.print(sandboxes, () =>
      table(
        ['ID', 'NAME', 'WORKSPACE', 'STATE', 'WORKER', 'AGE', 'DETAIL'],
        sandboxes.map((s) => [
          s.id,
          s.name,
          s.workspace,
          s.hold ? `${s.state} (held)` : s.state,
          s.workerPod || '-',
          ago(s.createdAtMs),
          s.detail,
        ]),
      ),
    );
  }

  printEvent(event: SandboxEvent): void {
    if (this.output === 'table') {
      const time = new Date(event.timestampMs).toISOString();
      console.log(`${time}  ${event.sandboxId}  ${event.type.padEnd(7)}  ${event.reason}: ${event.message}`);
    } else {
      console.log(this.output === 'json' ? JSON.stringify(event) : `---\n${toYaml(event).trimEnd()}`);
    }
  }
}

async function buildDriverSandbox(
  ctx: Context,
  id: string,
  command: string[],
  options: CreateOptions,
): Promise<DriverSandbox> {
  // Like the gateway: an empty image takes the driver's default.
  const image =
    options.image ??
    (
      await unary<GetCapabilitiesResponse>((done) =>
        ctx.facade.driver.getCapabilities({}, new Metadata(), ctx.deadline(), done),
      )
    ).defaultImage;
  const driverConfig: Record<string, unknown> = {};
  if (options.idleTimeout !== undefined) driverConfig.idle_timeout = options.idleTimeout;
  if (options.selector) driverConfig.worker_selector = parsePairs(options.selector, '--selector');
  return DriverSandbox.fromPartial({
    id,
    name: options.name ?? id,
    workspace: options.workspace,
    spec: {
      logLevel: 'info',
      command: command.length > 0 ? command : ['/bin/bash', '-l'],
      tty: command.length === 0,
      environment: parsePairs(options.env, '--env'),
      template: {
        image,
        labels: parsePairs(options.label, '--label'),
        driverConfig,
        platformConfig: options.template ? { substrate_actor_template: options.template } : {},
      },
    },
  });
}

function consume<T>(stream: ClientReadableStream<T>, onData: (item: T) => void): Promise<void> {
  return new Promise((done, fail) => {
    stream.on('data', onData);
    stream.on('end', done);
    stream.on('error', fail);
  });
}

function parsePairs(items: string[] | undefined, flag: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const item of items ?? []) {
    const at = item.indexOf('=');
    if (at <= 0) throw new CliExit(EXIT.refused, `${flag} expects KEY=VALUE, got "${item}"`);
    result[item.slice(0, at)] = item.slice(at + 1);
  }
  return result;
}

function parseDurationArg(text: string, what: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new CliExit(EXIT.refused, `${what}: ${(err as Error).message}`);
  }
}

function toExit(err: unknown, driverAddress: string): CliExit {
  if (err instanceof CliExit) return err;
  const grpc = err as Partial<ServiceError>;
  if (typeof grpc.code === 'number') {
    const code =
      grpc.code === status.NOT_FOUND
        ? EXIT.notFound
        : grpc.code === status.INVALID_ARGUMENT ||
            grpc.code === status.FAILED_PRECONDITION ||
            grpc.code === status.ALREADY_EXISTS
          ? EXIT.refused
          : grpc.code === status.UNAVAILABLE || grpc.code === status.DEADLINE_EXCEEDED
            ? EXIT.unavailable
            : EXIT.error;
    const details = grpc.details || grpc.message || 'unknown error';
    const unreachable =
      /No connection established\. Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/.exec(details);
    if (unreachable) {
      return new CliExit(
        code,
        `cannot reach the ateflow driver at ${driverAddress} (${unreachable[1]}): is it running? see --driver`,
      );
    }
    return new CliExit(code, details);
  }
  return new CliExit(EXIT.error, err instanceof Error ? err.message : String(err));
}

function defaultDriverAddress(): string {
  try {
    return loadDriverSettings(loadConfig()).socketPath;
  } catch {
    return '.data/compute-driver.sock';
  }
}

function table(header: string[], rows: string[][]): string {
  if (rows.length === 0) return '(none)';
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const pairs = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || '-';

function ago(ms: number): string {
  if (!ms) return '-';
  return `${formatDuration(Math.max(0, Math.round((Date.now() - ms) / 1000) * 1000))} ago`;
}
