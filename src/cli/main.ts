// The `ateflow` command line.
import { Command } from 'commander';
import { demoCommand } from './demo';
import { devCommand } from './dev';
import { sandboxCommand } from './sandbox';
import { simCommand } from './sim';

const program = new Command('ateflow').description('Durable OpenShell sandboxes on Agent Substrate');

program.addCommand(devCommand());
program.addCommand(demoCommand());
program.addCommand(sandboxCommand());
program.addCommand(simCommand());

program.parseAsync().catch((err: unknown) => {
  console.error(`ateflow: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
