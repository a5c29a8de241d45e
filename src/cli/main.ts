// The `ateflow` command line.
import { Command } from 'commander';
import { loadConfig } from '../config';
import { runDev } from './dev';
import { sandboxCommand } from './sandbox';
import { simCommand } from './sim';

const program = new Command('ateflow').description('Durable OpenShell sandboxes on Agent Substrate');

program
  .command('dev')
  .description('run ateflow locally: Temporal dev server with the Web UI, worker')
  .action(async () => runDev(loadConfig()));

program.addCommand(sandboxCommand());
program.addCommand(simCommand());

program.parseAsync().catch((err: unknown) => {
  console.error(`ateflow: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
