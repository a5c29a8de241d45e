// How long the `ateflow` CLI takes to start and answer, next to the `openshell` CLI (a native
// binary) when it is there: wall time of whole processes, as a user waits for them. The compiled
// CLI (dist/, built first when stale) is what `ateflow` and `npm run ateflow` run; the tsx rows
// are the same sources through the TypeScript loader, as `npm run ateflow` used to run them.
// Prints figures only.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { locateOpenShell } from '../src/openshell/binaries';
import { CLI, buildCli } from '../test/helpers/cli';
import { figure } from './figures';

const ROUNDS = 10;
const root = resolve(__dirname, '..');

function wallMs(file: string, args: string[]): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((done, fail) => {
    execFile(file, args, { cwd: root, timeout: 120_000 }, (err) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // A non-zero exit is part of what is measured (e.g. an unreachable driver answers 4).
      if (err === null || (!err.killed && typeof err.code === 'number')) done(ms);
      else fail(new Error(`${file} ${args.join(' ')}: ${err.message}`));
    });
  });
}

async function measure(label: string, file: string, args: string[]): Promise<void> {
  await wallMs(file, args); // warm the file cache
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) times.push(await wallMs(file, args));
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  figure(
    `${label.padEnd(58)} median ${median.toFixed(0).padStart(5)} ms  max ${times[times.length - 1]
      .toFixed(0)
      .padStart(5)} ms`,
  );
}

export async function run(): Promise<void> {
  buildCli();
  const node = process.execPath;
  const tsx = ['--import', 'tsx', resolve(root, 'src/cli/main.ts')];
  const noDriver = ['sandbox', '--driver', '/nonexistent/compute-driver.sock', 'list'];
  figure(`${ROUNDS} runs each, after one warm-up; wall time of the whole process`);
  await measure('ateflow --version (compiled)', node, [CLI, '--version']);
  await measure('ateflow sandbox list --help (compiled)', node, [CLI, 'sandbox', 'list', '--help']);
  await measure('ateflow sandbox list, no driver: exit 4 (compiled)', node, [CLI, ...noDriver]);
  await measure('npm run ateflow -- --version (staleness check + npm)', 'npm', [
    'run',
    '--silent',
    'ateflow',
    '--',
    '--version',
  ]);
  await measure('ateflow --version (tsx)', node, [...tsx, '--version']);
  await measure('ateflow sandbox list --help (tsx)', node, [...tsx, 'sandbox', 'list', '--help']);
  await measure('node -e 0 (Node.js start-up alone)', node, ['-e', '0']);
  const openshell = locateOpenShell();
  if ('skip' in openshell) figure(`openshell --version: skipped: ${openshell.skip}`);
  else await measure('openshell --version', openshell.cli, ['--version']);
}
