// `ateflow dev`: the whole stack on this machine, on embedded defaults, in one process tree.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import type { Config } from '../config';
import { temporalCliPath } from '../temporal/binaries';
import { sandboxSearchAttributes } from '../workflows/search-attributes';
import { createWorker, workerDepsFromConfig } from '../../worker';

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host, port });
    socket.once('connect', () => (socket.destroy(), done(true)));
    socket.once('error', () => done(false));
  });
}

async function waitForPort(
  host: string,
  port: number,
  child: ChildProcess,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await portOpen(host, port))) {
    if (child.exitCode !== null)
      throw new Error(`the Temporal dev server exited with code ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`the Temporal dev server did not listen on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the Temporal dev server (persistent SQLite, Web UI) and a worker; resolves on Ctrl-C. */
export async function runDev(config: Config): Promise<void> {
  const [host, portText] = config.ATEFLOW_TEMPORAL_ADDRESS.split(':');
  const port = Number(portText);
  for (const [what, p] of [
    ['Temporal frontend', port],
    ['Temporal Web UI', config.ATEFLOW_UI_PORT],
  ] as const) {
    if (await portOpen(host, p)) {
      throw new Error(
        `${what} port ${host}:${p} is already in use: stop whatever listens there, or set ` +
          (what === 'Temporal Web UI' ? 'ATEFLOW_UI_PORT' : 'ATEFLOW_TEMPORAL_ADDRESS') +
          ' to a free port.',
      );
    }
  }
  const dataDir = resolve(config.ATEFLOW_DATA_DIR);
  mkdirSync(dataDir, { recursive: true });

  const temporal = spawn(
    temporalCliPath(),
    [
      'server',
      'start-dev',
      '--ip',
      host,
      '--port',
      String(port),
      '--ui-port',
      String(config.ATEFLOW_UI_PORT),
      '--namespace',
      config.ATEFLOW_TEMPORAL_NAMESPACE,
      '--db-filename',
      join(dataDir, 'temporal.db'),
      '--log-level',
      'warn',
      '--dynamic-config-value',
      'frontend.enableExecuteMultiOperation=true',
      ...sandboxSearchAttributes.flatMap((key) => [
        '--search-attribute',
        `${key.name}=${searchAttributeTypeName(key.type)}`,
      ]),
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  try {
    await waitForPort(host, port, temporal, 30_000);
    const worker = await createWorker(await workerDepsFromConfig(config));
    console.log(`ateflow dev is up:
  Temporal frontend  ${host}:${port} (namespace ${config.ATEFLOW_TEMPORAL_NAMESPACE})
  Temporal Web UI    http://${host}:${config.ATEFLOW_UI_PORT}/namespaces/${config.ATEFLOW_TEMPORAL_NAMESPACE}/workflows
  worker             task queue ${config.ATEFLOW_TASK_QUEUE}
  data               ${dataDir}
Press Ctrl-C to stop.`);
    const stop = () => worker.shutdown();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    await worker.run();
  } finally {
    temporal.kill('SIGTERM');
  }
}

function searchAttributeTypeName(type: string): string {
  // The CLI spells types as Keyword, Datetime, KeywordList, …
  return type.toLowerCase().replace(/(^|_)(\w)/g, (_m, _sep: string, c: string) => c.toUpperCase());
}
