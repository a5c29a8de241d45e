#!/usr/bin/env node
// The `ateflow` command line, run compiled (dist/src/cli/main.js, the package's `bin`; `npm run
// ateflow` builds it when stale). It starts fast because only what the chosen command needs is
// loaded: the command tree is light, and `dev` (Temporal worker, simulator, Kubernetes client) is
// loaded only when it runs. Commands throw; here, once, the outcome becomes the exit code
// (src/cli/exit.ts).
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { version } from '../../package.json';
import { OPENSHELL_COMMIT } from '../openshell/binaries';
import { demoCommand } from './demo';
import { CliError, EXIT_HELP, exitFor } from './exit';
import { sandboxCommand } from './sandbox';
import { simCommand } from './sim';

// Shown by `ateflow --help` without loading dev (src/cli/dev.ts has the full description).
const DEV_SUMMARY =
  'run ateflow locally in one process tree: Temporal dev server with the Web UI, the Substrate ' +
  'simulator, a worker and the compute driver facade (prints every address; Ctrl-C stops)';

async function buildProgram(argv: string[]): Promise<Command> {
  const program = new Command('ateflow')
    .description('Durable OpenShell sandboxes on Agent Substrate')
    .version(version, '-V, --version')
    .addHelpText('after', EXIT_HELP);
  const runsDev = argv[0] === 'dev' || (argv[0] === 'help' && argv[1] === 'dev');
  program.addCommand(runsDev ? await loadDev() : new Command('dev').description(DEV_SUMMARY));
  program.addCommand(demoCommand());
  program.addCommand(sandboxCommand());
  program.addCommand(simCommand());
  everyCommand(program, (command) => {
    command
      .exitOverride()
      .showHelpAfterError('(add --help for usage)')
      .configureHelp({ showGlobalOptions: true });
  });
  return program;
}

/** `ateflow dev`, with its flags checked here so that a bad one exits with the usage code. */
async function loadDev(): Promise<Command> {
  useCheckoutTools();
  const { devCommand } = await import('./dev');
  return devCommand()
    .addHelpText('after', EXIT_HELP)
    .hook('preAction', (command) => {
      const flags = command.opts<Record<string, string | boolean | undefined>>();
      if (flags.cluster && flags.kube)
        throw new CliError('usage', 'use either --cluster or --kube, not both');
      const scale = Number(flags.latencyScale);
      if (!(scale >= 0))
        throw new CliError('usage', `--latency-scale ${String(flags.latencyScale)} is not a number >= 0`);
      for (const flag of ['dataPlanePort', 'driverTcpPort', 'gatewayPort'] as const) {
        const text = flags[flag];
        if (text === undefined) continue;
        const port = Number(text);
        if (!Number.isInteger(port) || port < 1 || port > 65535) {
          const option = `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
          throw new CliError('usage', `${option} ${String(text)} is not a port`);
        }
      }
    });
}

/**
 * Compiled, this file runs from dist/src/cli/, where the locators of the checkout's .tools
 * (src/temporal/binaries.ts, src/openshell/binaries.ts: `__dirname/../../.tools`) would look
 * under dist/. Point them at the checkout's binaries through their environment overrides.
 */
function useCheckoutTools(): void {
  if (!__filename.endsWith('.js')) return;
  const tools = resolve(__dirname, '..', '..', '..', '.tools');
  const temporal = join(tools, 'bin', 'temporal');
  if (!process.env.TEMPORAL_CLI_PATH && existsSync(temporal)) process.env.TEMPORAL_CLI_PATH = temporal;
  const openshell = join(tools, `openshell-${OPENSHELL_COMMIT}`);
  if (!process.env.OPENSHELL_BIN_DIR && existsSync(openshell)) process.env.OPENSHELL_BIN_DIR = openshell;
}

function everyCommand(command: Command, visit: (command: Command) => void): void {
  visit(command);
  for (const sub of command.commands) everyCommand(sub, visit);
}

async function main(argv: string[]): Promise<void> {
  let failure: unknown;
  try {
    await (await buildProgram(argv)).parseAsync(argv, { from: 'user' });
  } catch (err) {
    failure = err;
  }
  const { code, message } = exitFor(failure);
  if (message) console.error(`ateflow: ${message}`);
  process.exitCode = code;
}

// Output piped into a reader that stops early (`| head`) ends the command quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit();
  throw err;
});

void main(process.argv.slice(2));
