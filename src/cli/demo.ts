// `ateflow demo`: the helpdesk story (src/demo/helpdesk.ts) against a running `ateflow dev`.
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { loadConfig } from '../config';
import { runHelpdeskDemo } from '../demo/helpdesk';
import { loadDriverSettings } from '../driver/settings';
import { parseDuration } from '../durations';

interface DemoFlags {
  driver?: string;
  simAdmin?: string;
  dataPlane?: string;
  webUi?: string;
  bobIdle: string;
  timeout: string;
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
    .option('--bob-idle <duration>', "bob's idle timeout", '15s')
    .option('--timeout <duration>', 'longest any one wait may take', '2m')
    .action(async (flags: DemoFlags) => {
      const config = loadConfig();
      const driver = flags.driver ?? loadDriverSettings(config).socketPath;
      if (!/^[\w.-]+:\d+$/.test(driver) && !existsSync(driver)) {
        console.error(
          `ateflow demo: no compute driver socket at ${driver}: start the stack first with \`npm run dev\` ` +
            '(in another terminal), or pass --driver',
        );
        process.exit(1);
      }
      const temporalHost = config.ATEFLOW_TEMPORAL_ADDRESS.slice(
        0,
        config.ATEFLOW_TEMPORAL_ADDRESS.lastIndexOf(':'),
      );
      const result = await runHelpdeskDemo({
        facade: driver,
        simAdmin: flags.simAdmin ?? config.ATEFLOW_SIM_ADMIN,
        dataPlaneUrl: flags.dataPlane,
        webUiUrl: flags.webUi ?? `http://${temporalHost}:${config.ATEFLOW_UI_PORT}`,
        namespace: config.ATEFLOW_TEMPORAL_NAMESPACE,
        bobIdleTimeoutMs: parseDuration(flags.bobIdle),
        waitTimeoutMs: parseDuration(flags.timeout),
      });
      process.exit(result.ok ? 0 : 1);
    });
}
