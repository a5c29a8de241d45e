// `ateflow sandbox …`: a human's view of the driver facade. Lifecycle calls go through the same
// ComputeDriver RPCs the gateway uses; the rest through ateflow.v1 Operations.
//
// Every command is bounded by --timeout (one deadline for the whole command, wherever the flag is
// placed), takes a sandbox by id or by name, and ends by throwing: main.ts turns the outcome into
// the exit code (src/cli/exit.ts). The gRPC client, the generated code and the configuration are
// loaded only when a command runs, so that `--help` and `--version` answer at once.
import type { ClientReadableStream, Metadata } from '@grpc/grpc-js';
import { Argument, Command, Option } from 'commander';
import { randomUUID } from 'node:crypto';
import type { FacadeClient } from '../driver/client';
import { formatDuration } from '../durations';
import type {
  DrainProgress,
  HistoryResponse,
  ListSandboxesResponse,
  Sandbox,
  SandboxEvent,
} from '../gen/ateflow';
import type { DeleteSandboxResponse, DriverSandbox, GetCapabilitiesResponse } from '../gen/compute_driver';
import { duration, durationText, positiveDuration, wholeNumber } from './args';
import { CliError, EXIT_HELP, grpcCode } from './exit';

type Output = 'table' | 'json' | 'yaml';

interface GlobalOptions {
  driver?: string;
  output: Output;
  /** Milliseconds (parsed by `duration`). */
  timeout: number;
}

interface Target {
  workspace?: string;
}

const GRPC_CANCELLED = 1;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_NOT_FOUND = 5;
const GRPC_UNAVAILABLE = 14;
const DEFAULT_TIMEOUT_MS = 5 * 60_000;
const POLL_MS = 250;

/** Sandbox ids name Substrate actors: DNS-1123 labels. Anything else can only be a name. */
const ID_SHAPE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function sandboxCommand(): Command {
  const sandbox = new Command('sandbox')
    .description('create, inspect and operate sandboxes through the ateflow driver')
    .addOption(
      new Option('--driver <address>', 'driver socket path or host:port').default(
        undefined,
        '$ATEFLOW_DRIVER_SOCKET or <data dir>/compute-driver.sock',
      ),
    )
    .addOption(
      new Option('-o, --output <format>', 'output format')
        .choices(['table', 'json', 'yaml'])
        .default('table'),
    )
    .addOption(
      new Option('--timeout <duration>', 'the longest any command may take, waits included (any position)')
        .argParser(positiveDuration)
        .default(DEFAULT_TIMEOUT_MS, '5m'),
    )
    .addHelpText(
      'after',
      '\nA <sandbox> is an id, or a name: names are unique in a workspace; when one is used in ' +
        'several,\ngive --workspace or the id.\n' +
        EXIT_HELP,
    );

  /** Runs `fn` with a connection; every error leaves explained (exit code: main.ts). */
  const run =
    <A extends unknown[]>(fn: (ctx: Context, ...args: A) => Promise<void>) =>
    async (...args: A) => {
      const ctx = await Context.open(sandbox.opts<GlobalOptions>());
      try {
        await fn(ctx, ...args);
      } catch (err) {
        throw ctx.explain(err);
      } finally {
        ctx.close();
      }
    };

  /** A command that takes one sandbox, by id or name. */
  const onSandbox = (name: string, description: string) =>
    sandbox
      .command(name)
      .description(description)
      .argument('<sandbox>', 'id or name')
      .option('-w, --workspace <name>', 'the workspace of a sandbox given by name');

  sandbox
    .command('create')
    .description('create a sandbox and wait until it runs')
    .option('--name <name>', 'sandbox name, unique in its workspace (default: the id)')
    .option('--id <id>', 'sandbox id (default: a new UUID)')
    .option('--workspace <workspace>', 'workspace', 'default')
    .option('--image <image>', 'digest-pinned image (default: the driver default)')
    .option('--template <name>', 'use this pre-provisioned ActorTemplate')
    .option('--idle-timeout <duration>', 'auto-suspend after this long idle (0 disables)', durationText)
    .option('--selector <label=value...>', 'worker selector')
    .option('--env <KEY=VALUE...>', 'environment variable')
    .option('--label <key=value...>', 'label')
    .option('--detach', 'return once the sandbox is accepted')
    .argument('[command...]', 'main process (default: /bin/bash -l)')
    .action(
      run(async (ctx, command: string[], options: CreateOptions) => {
        const id = options.id ?? randomUUID();
        if (options.name !== undefined) {
          // Names are how people find sandboxes again: one per workspace.
          const taken = (await ctx.list()).find(
            (s) => s.name === options.name && s.workspace === options.workspace && s.id !== id,
          );
          if (taken) {
            throw new CliError(
              'refused',
              `workspace ${options.workspace} already has a sandbox named "${options.name}" (${taken.id})`,
            );
          }
        }
        const driverSandbox = await buildDriverSandbox(ctx, id, command, options);
        await ctx.call((metadata, call, done) =>
          ctx.facade.driver.validateSandboxCreate({ sandbox: driverSandbox }, metadata, call, done),
        );
        await ctx.call((metadata, call, done) =>
          ctx.facade.driver.createSandbox({ sandbox: driverSandbox }, metadata, call, done),
        );
        ctx.progress(`sandbox ${id} accepted`);
        const created = options.detach ? await ctx.get(id) : await ctx.waitUntilRunning(id, 'create');
        ctx.printSandbox(created);
      }),
    );

  onSandbox('get', 'show one sandbox').action(
    run(async (ctx, ref: string, options: Target) => ctx.printSandbox(await ctx.resolve(ref, options))),
  );

  sandbox
    .command('list')
    .description('list every sandbox, suspended ones included')
    .option('-w, --workspace <name>', 'only this workspace')
    .action(
      run(async (ctx, options: Target) => {
        const sandboxes = (await ctx.list())
          .filter((s) => options.workspace === undefined || s.workspace === options.workspace)
          .sort((a, b) => a.createdAtMs - b.createdAtMs);
        ctx.printList(sandboxes);
      }),
    );

  const lifecycle = (
    name: string,
    description: string,
    call: (
      facade: FacadeClient,
      id: string,
      metadata: Metadata,
      options: CallOptions,
      done: Done<unknown>,
    ) => unknown,
  ) =>
    onSandbox(name, description).action(
      run(async (ctx, ref: string, options: Target) => {
        const target = await ctx.resolve(ref, options);
        await ctx.lifecycle(target, name, () =>
          ctx.call((metadata, callOptions, done) => call(ctx.facade, target.id, metadata, callOptions, done)),
        );
      }),
    );

  lifecycle(
    'stop',
    'suspend (memory snapshot); returns once the snapshot is committed',
    (facade, id, metadata, options, done) =>
      facade.driver.stopSandbox({ sandboxId: id, sandboxName: '' }, metadata, options, done),
  );
  lifecycle('start', 'resume a stopped sandbox', (facade, id, metadata, options, done) =>
    facade.driver.startSandbox({ sandboxId: id, sandboxName: '' }, metadata, options, done),
  );
  lifecycle('checkpoint', 'take a durable snapshot and keep running', (facade, id, metadata, options, done) =>
    facade.ops.checkpoint({ sandboxId: id }, metadata, options, done),
  );
  lifecycle(
    'release',
    'lift a stop hold (the sandbox stays stopped until started)',
    (facade, id, metadata, options, done) => facade.ops.release({ sandboxId: id }, metadata, options, done),
  );
  lifecycle('touch', 'record activity (moves the idle clock)', (facade, id, metadata, options, done) =>
    facade.ops.touch({ sandboxId: id }, metadata, options, done),
  );

  onSandbox('migrate', 'move a sandbox to another worker')
    .option('--selector <label=value...>', 'new worker selector (pool=<name> must name a pool Substrate has)')
    .option('--clear-selector', 'drop the worker selector')
    .option('--reason <text>', 'why (recorded in the history)')
    .action(
      run(
        async (
          ctx,
          ref: string,
          options: Target & { selector?: string[]; clearSelector?: boolean; reason?: string },
        ) => {
          const workerSelector = parsePairs(options.selector, '--selector');
          const target = await ctx.resolve(ref, options);
          const request = {
            sandboxId: target.id,
            workerSelector,
            replaceSelector: options.clearSelector ?? false,
            reason: options.reason ?? '',
          };
          await ctx.lifecycle(target, 'migrate', () =>
            ctx.call((metadata, call, done) => ctx.facade.ops.migrate(request, metadata, call, done)),
          );
        },
      ),
    );

  sandbox
    .command('drain')
    .description('migrate every sandbox off a worker pool or a node')
    .option('--pool <name>', 'worker pool to empty')
    .option('--node <name>', 'node to empty')
    .option(
      '--selector <label=value...>',
      'worker selector the moved sandboxes get (pool=<name> must name a pool Substrate has)',
    )
    .option('--parallelism <n>', 'migrations at a time', wholeNumber(1), 4)
    .option('--reason <text>', 'why (recorded in each history)')
    .action(
      run(async (ctx, options: DrainOptions) => {
        if (!options.pool === !options.node)
          throw new CliError('usage', 'give exactly one of --pool or --node');
        const request = {
          ...(options.pool ? { workerPool: options.pool } : { node: options.node }),
          workerSelector: parsePairs(options.selector, '--selector'),
          reason: options.reason ?? '',
          parallelism: options.parallelism,
        };
        const stream = ctx.facade.ops.drain(request, ctx.metadata(), ctx.callOptions());
        const results: DrainProgress[] = [];
        await consume(stream, (progress) => {
          results.push(progress);
          ctx.progress(
            `[${results.length}/${progress.total}] ${progress.sandboxId} ${progress.outcome} ${progress.message}`,
          );
        });
        if (results.length === 0)
          ctx.progress(
            `nothing to drain: no sandbox runs on ${options.pool ? `pool ${options.pool}` : `node ${options.node}`}`,
          );
        ctx.print(results, () =>
          table(
            ['SANDBOX', 'OUTCOME', 'FROM', 'TO', 'MESSAGE'],
            results.map((r) => [r.sandboxId, r.outcome, r.fromPod, r.toPod, r.message]),
          ),
        );
        const failed = results.filter((r) => r.outcome === 'FAILED').length;
        if (failed > 0)
          throw new CliError('failed', `${failed} of ${results.length} sandboxes were not moved off`);
      }),
    );

  onSandbox('hold', 'stop a sandbox and refuse starts until released')
    .requiredOption('--reason <text>', 'why (shown to whoever tries to start it)')
    .action(
      run(async (ctx, ref: string, options: Target & { reason: string }) => {
        const target = await ctx.resolve(ref, options);
        await ctx.lifecycle(target, 'hold', () =>
          ctx.call((metadata, call, done) =>
            ctx.facade.ops.hold({ sandboxId: target.id, reason: options.reason }, metadata, call, done),
          ),
        );
      }),
    );

  onSandbox('idle-timeout', 'set the idle timeout of one sandbox (0 disables auto-suspend)')
    .addArgument(new Argument('<duration>', 'e.g. 30m, 1h, 0').argParser(duration))
    .action(
      run(async (ctx, ref: string, idleTimeoutMs: number, options: Target) => {
        const target = await ctx.resolve(ref, options);
        ctx.printSandbox(
          await ctx.call<Sandbox>((metadata, call, done) =>
            ctx.facade.ops.setIdleTimeout({ sandboxId: target.id, idleTimeoutMs }, metadata, call, done),
          ),
        );
      }),
    );

  onSandbox('delete', 'delete a sandbox from any state').action(
    run(async (ctx, ref: string, options: Target) => {
      const { id } = await ctx.resolve(ref, options);
      const { deleted } = await ctx.withProgress(
        id,
        'delete',
        () =>
          ctx.call<DeleteSandboxResponse>((metadata, call, done) =>
            ctx.facade.driver.deleteSandbox({ sandboxId: id, sandboxName: '' }, metadata, call, done),
          ),
        (response) => response.deleted,
      );
      if (!deleted) throw new CliError('notFound', `sandbox ${id} was already gone`);
      ctx.print({ id, deleted }, () => `deleted sandbox ${id}`);
    }),
  );

  sandbox
    .command('watch')
    .description(
      'follow lifecycle events as they happen (all sandboxes, or one) until --timeout, Ctrl-C, ' +
        'or the sandbox is deleted',
    )
    .argument('[sandbox]', 'id or name (default: every sandbox)')
    .option('-w, --workspace <name>', 'the workspace of a sandbox given by name')
    .action(
      run(async (ctx, ref: string | undefined, options: Target) => {
        const target = ref === undefined ? undefined : await ctx.resolve(ref, options);
        const stream = ctx.facade.ops.watchEvents(
          { sandboxId: target?.id ?? '' },
          ctx.metadata(),
          ctx.callOptions(),
        );
        ctx.progress(
          `watching ${target ? `sandbox ${target.id}` : 'every sandbox'} for ${ctx.timeoutText} ` +
            '(--timeout); Ctrl-C stops',
        );
        const stop = () => stream.cancel();
        process.once('SIGINT', stop);
        // The facade ends a one-sandbox stream (after a moment for late events) once the sandbox
        // is deleted; every other ending is a cancel (Ctrl-C) or the deadline.
        let gone = false;
        try {
          await consume(stream, (event) => ctx.printEvent(event));
          gone = target !== undefined;
        } catch (err) {
          const code = grpcCode(err);
          if (code === GRPC_DEADLINE_EXCEEDED)
            ctx.progress(`stopped watching after ${ctx.timeoutText} (--timeout)`);
          else if (code !== GRPC_CANCELLED) throw err;
        } finally {
          process.off('SIGINT', stop);
        }
        if (gone) ctx.progress(`sandbox ${target?.id} was deleted; stopped watching`);
      }),
    );

  onSandbox('history', 'every lifecycle event of one sandbox, from its workflow history').action(
    run(async (ctx, ref: string, options: Target) => {
      // A deleted sandbox keeps its history: an id that is no longer listed is still asked for.
      const id = await ctx.resolve(ref, options).then(
        (s) => s.id,
        (err: unknown) => {
          if (err instanceof CliError && err.outcome === 'notFound' && ID_SHAPE.test(ref)) return ref;
          throw err;
        },
      );
      const { events } = await ctx.call<HistoryResponse>((metadata, call, done) =>
        ctx.facade.ops.history({ sandboxId: id }, metadata, call, done),
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
  parallelism: number;
  reason?: string;
}

type Done<Res> = (error: Error | null, response: Res) => void;
type CallOptions = { deadline: number };

/** One invocation: the connection, the output format and the one deadline of the command. */
class Context {
  private constructor(
    readonly facade: FacadeClient,
    private readonly grpc: typeof import('@grpc/grpc-js'),
    private readonly toYaml: ((value: unknown) => string) | undefined,
    readonly output: Output,
    private readonly driverAddress: string,
    private readonly timeoutMs: number,
  ) {
    this.deadline = Date.now() + timeoutMs;
  }

  private readonly deadline: number;

  static async open(options: GlobalOptions): Promise<Context> {
    const [grpc, { connectFacade }] = await Promise.all([
      import('@grpc/grpc-js'),
      import('../driver/client'),
    ]);
    const toYaml = options.output === 'yaml' ? (await import('yaml')).stringify : undefined;
    const address = options.driver ?? (await defaultDriverAddress());
    return new Context(connectFacade(address), grpc, toYaml, options.output, address, options.timeout);
  }

  close(): void {
    this.facade.close();
  }

  get timeoutText(): string {
    return formatDuration(this.timeoutMs);
  }

  /** Every call of the command shares its deadline. */
  callOptions(): CallOptions {
    return { deadline: this.deadline };
  }

  metadata(): Metadata {
    return new this.grpc.Metadata();
  }

  /** A unary call, e.g. `ctx.call((metadata, options, done) => client.getSandbox(req, metadata, options, done))`. */
  call<Res>(start: (metadata: Metadata, options: CallOptions, done: Done<Res>) => unknown): Promise<Res> {
    return new Promise((resolve, reject) => {
      start(this.metadata(), this.callOptions(), (error, response) =>
        error ? reject(error) : resolve(response),
      );
    });
  }

  /** What went wrong, in the user's terms: an unreachable driver, the --timeout. */
  explain(err: unknown): unknown {
    if (err instanceof CliError) return err;
    const code = grpcCode(err);
    const details = (err as { details?: string }).details ?? '';
    if (code === GRPC_UNAVAILABLE) {
      const unreachable =
        /No connection established\. Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/.exec(details);
      if (unreachable) {
        return new CliError(
          'unavailable',
          `cannot reach the ateflow driver at ${this.driverAddress} (${unreachable[1]}): is it running? see --driver`,
          { cause: err },
        );
      }
    }
    if (code === GRPC_DEADLINE_EXCEEDED && Date.now() >= this.deadline - 50) {
      return new CliError('unavailable', `no answer within --timeout ${this.timeoutText}`, { cause: err });
    }
    return err;
  }

  get(id: string): Promise<Sandbox> {
    return this.call((metadata, options, done) =>
      this.facade.ops.getSandbox({ sandboxId: id }, metadata, options, done),
    );
  }

  async list(): Promise<Sandbox[]> {
    const { sandboxes } = await this.call<ListSandboxesResponse>((metadata, options, done) =>
      this.facade.ops.listSandboxes({}, metadata, options, done),
    );
    return sandboxes;
  }

  /**
   * The sandbox `ref` names: the one with that id, else the one with that name (in `workspace`
   * when given). Names are looked up in the facade's list; one used in several workspaces (or
   * twice in one) is ambiguous, and the error lists the candidates.
   */
  async resolve(ref: string, { workspace }: Target = {}): Promise<Sandbox> {
    if (ID_SHAPE.test(ref)) {
      try {
        const byId = await this.get(ref);
        if (workspace === undefined || byId.workspace === workspace) return byId;
      } catch (err) {
        if (grpcCode(err) !== GRPC_NOT_FOUND) throw err;
      }
    }
    const named = (await this.list()).filter(
      (s) => s.name === ref && (workspace === undefined || s.workspace === workspace),
    );
    const where = workspace === undefined ? '' : ` in workspace ${workspace}`;
    if (named.length === 1) return named[0];
    if (named.length === 0) throw new CliError('notFound', `no sandbox with id or name "${ref}"${where}`);
    const candidates = table(
      ['ID', 'WORKSPACE', 'STATE'],
      named.map((s) => [s.id, s.workspace, s.state]),
    );
    throw new CliError(
      'usage',
      `"${ref}" names ${named.length} sandboxes${where}; give the id` +
        `${workspace === undefined ? ' or --workspace' : ''}:\n${indent(candidates)}`,
    );
  }

  /** Progress goes to stderr so that stdout stays parseable. */
  progress(line: string): void {
    console.error(line);
  }

  /**
   * Runs a long operation while printing the sandbox's lifecycle events as they happen; says
   * "done" when `succeeded` agrees.
   */
  async withProgress<T>(
    id: string,
    what: string,
    operation: () => Promise<T>,
    succeeded: (result: T) => boolean = () => true,
  ): Promise<T> {
    const started = Date.now();
    const events = this.facade.ops.watchEvents({ sandboxId: id }, this.metadata(), this.callOptions());
    events.on('data', (event: SandboxEvent) => this.progress(`  ${event.reason}: ${event.message}`));
    events.on('error', () => undefined); // the watch is only decoration; the operation decides
    try {
      const result = await operation();
      if (succeeded(result)) this.progress(`${what} ${id}: done in ${formatDuration(Date.now() - started)}`);
      return result;
    } finally {
      events.cancel();
    }
  }

  /**
   * A lifecycle operation on `target`, then the sandbox it left. A sandbox left FAILED (or found
   * FAILED when the operation was refused) is the outcome, whatever the call answered.
   */
  async lifecycle(target: Sandbox, what: string, operation: () => Promise<unknown>): Promise<void> {
    const failed = (sandbox: Sandbox, cause?: unknown) =>
      new CliError(
        'sandboxFailed',
        `${what} ${sandbox.id}: the sandbox is FAILED: ` +
          `${sandbox.failure ? `${sandbox.failure.reason}: ${sandbox.failure.message}` : sandbox.detail}`,
        { cause },
      );
    try {
      await this.withProgress(target.id, what, operation);
    } catch (err) {
      const now = await this.get(target.id).catch(() => undefined);
      if (now?.state !== 'FAILED') throw err;
      this.printSandbox(now);
      throw failed(now, err);
    }
    const after = await this.get(target.id);
    this.printSandbox(after);
    if (after.state === 'FAILED') throw failed(after);
  }

  /** Polls until the sandbox runs; FAILED and the --timeout end it with their own outcomes. */
  async waitUntilRunning(id: string, what: string): Promise<Sandbox> {
    let last: Sandbox | undefined;
    const late = () =>
      new CliError(
        'unavailable',
        `sandbox ${id} did not reach RUNNING within --timeout ${this.timeoutText}` +
          (last ? ` (still ${last.state}: ${last.detail})` : ''),
      );
    return this.withProgress(id, what, async () => {
      for (;;) {
        const sandbox = await this.get(id).catch((err: unknown) => {
          throw grpcCode(err) === GRPC_DEADLINE_EXCEEDED ? late() : err;
        });
        last = sandbox;
        if (sandbox.state === 'RUNNING') return sandbox;
        if (sandbox.state === 'FAILED') {
          this.printSandbox(sandbox);
          throw new CliError(
            'sandboxFailed',
            `sandbox ${id} FAILED: ${sandbox.failure?.message ?? sandbox.detail}`,
          );
        }
        if (Date.now() + POLL_MS >= this.deadline) throw late();
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    });
  }

  print(value: unknown, human: () => string): void {
    if (this.output === 'json') console.log(JSON.stringify(value, null, 2));
    else if (this.toYaml) console.log(this.toYaml(value).trimEnd());
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
    } else if (this.toYaml) {
      console.log(`---\n${this.toYaml(event).trimEnd()}`);
    } else {
      console.log(JSON.stringify(event));
    }
  }
}

async function buildDriverSandbox(
  ctx: Context,
  id: string,
  command: string[],
  options: CreateOptions,
): Promise<DriverSandbox> {
  const driverConfig: Record<string, unknown> = {};
  if (options.idleTimeout !== undefined) driverConfig.idle_timeout = options.idleTimeout;
  if (options.selector) driverConfig.worker_selector = parsePairs(options.selector, '--selector');
  const environment = parsePairs(options.env, '--env');
  const labels = parsePairs(options.label, '--label');
  // Like the gateway: an empty image takes the driver's default.
  const image =
    options.image ??
    (
      await ctx.call<GetCapabilitiesResponse>((metadata, call, done) =>
        ctx.facade.driver.getCapabilities({}, metadata, call, done),
      )
    ).defaultImage;
  const { DriverSandbox } = await import('../gen/compute_driver');
  return DriverSandbox.fromPartial({
    id,
    name: options.name ?? id,
    workspace: options.workspace,
    spec: {
      logLevel: 'info',
      command: command.length > 0 ? command : ['/bin/bash', '-l'],
      tty: command.length === 0,
      environment,
      template: {
        image,
        labels,
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
    if (at <= 0) throw new CliError('usage', `${flag} expects KEY=VALUE, got "${item}"`);
    result[item.slice(0, at)] = item.slice(at + 1);
  }
  return result;
}

async function defaultDriverAddress(): Promise<string> {
  const [{ loadConfig }, { loadDriverSettings }] = await Promise.all([
    import('../config'),
    import('../driver/settings'),
  ]);
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

const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');

const pairs = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || '-';

function ago(ms: number): string {
  if (!ms) return '-';
  return `${formatDuration(Math.max(0, Math.round((Date.now() - ms) / 1000) * 1000))} ago`;
}
