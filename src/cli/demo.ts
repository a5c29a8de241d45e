// `ateflow demo`: the helpdesk story (src/demo/helpdesk.ts) against a running `ateflow dev`.
// The story and its clients load only when the command runs (fast `--help`).
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { positiveDuration } from './args';
import { CliError, EXIT_HELP } from './exit';

interface DemoFlags {
  driver?: string;
  simAdmin?: string;
  dataPlane?: string;
  webUi?: string;
  /** Milliseconds. */
  bobIdle: number;
  /** Milliseconds. */
  timeout: number;
}

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'run the helpdesk story against a running `ateflow dev`: every step asserted and timed; ' +
        'exits non-zero when a step fails',
    )
    .addOption(
      new Option('--driver <address>', 'facade socket path or host:port').default(
        undefined,
        '$ATEFLOW_DRIVER_SOCKET or <data dir>/compute-driver.sock',
      ),
    )
    .addOption(
      new Option('--sim-admin <host:port>', 'simulator admin API').default(undefined, '$ATEFLOW_SIM_ADMIN'),
    )
    .option('--data-plane <url>', 'simulator data plane (default: asked from the admin API)')
    .addOption(
      new Option('--web-ui <url>', 'Temporal Web UI, for the closing links').default(
        undefined,
        'http://<Temporal host>:$ATEFLOW_UI_PORT',
      ),
    )
    .addOption(
      new Option('--bob-idle <duration>', "bob's idle timeout")
        .argParser(positiveDuration)
        .default(15_000, '15s'),
    )
    .addOption(
      new Option('--timeout <duration>', 'longest any one wait may take')
        .argParser(positiveDuration)
        .default(120_000, '2m'),
    )
    .addHelpText('after', EXIT_HELP)
    .action(async (flags: DemoFlags) => {
      const [{ loadConfig }, { loadDriverSettings }] = await Promise.all([
        import('../config'),
        import('../driver/settings'),
      ]);
      const config = (() => {
        try {
          return loadConfig();
        } catch (err) {
          throw new CliError('usage', (err as Error).message, { cause: err });
        }
      })();
      const driver = flags.driver ?? loadDriverSettings(config).socketPath;
      if (!/^[\w.-]+:\d+$/.test(driver) && !existsSync(driver)) {
        throw new CliError(
          'unavailable',
          `no compute driver socket at ${driver}: start the stack first with \`npm run dev\` ` +
            '(in another terminal), or pass --driver',
        );
      }
      const temporalHost = config.ATEFLOW_TEMPORAL_ADDRESS.slice(
        0,
        config.ATEFLOW_TEMPORAL_ADDRESS.lastIndexOf(':'),
      );
      const { runHelpdeskDemo } = await import('../demo/helpdesk');
      const result = await runHelpdeskDemo({
        facade: driver,
        simAdmin: flags.simAdmin ?? config.ATEFLOW_SIM_ADMIN,
        dataPlaneUrl: flags.dataPlane,
        webUiUrl: flags.webUi ?? `http://${temporalHost}:${config.ATEFLOW_UI_PORT}`,
        namespace: config.ATEFLOW_TEMPORAL_NAMESPACE,
        bobIdleTimeoutMs: flags.bobIdle,
        waitTimeoutMs: flags.timeout,
      });
      if (!result.ok) {
        const failed = result.steps.find((s) => !s.ok);
        throw new CliError(
          'failed',
          failed ? `step ${failed.step} failed: ${failed.error ?? failed.title}` : 'not every step ran',
        );
      }
    });
}
