// `npm run bench`: runs every bench/*.bench.ts in turn (or those named on the command line);
// each prints its own figures. Benchmarks are measurements, never pass/fail tests.
//
// Only figures reach stdout (bench/figures.ts): the benchmarks run in a child process whose
// stdout and stderr (ateflow's pino lines, the Temporal SDK's and the Temporal server's output)
// go to a log file, BENCH_LOG or .data/bench.log, named on stderr at the end (with its tail when
// a benchmark fails).
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { figure, FIGURES_FD_ENV } from './figures';

const ROOT = resolve(__dirname, '..');
const FIGURES_FD = 3;

/** In the child: the benchmarks themselves. */
async function runBenchmarks(wanted: string[]): Promise<void> {
  const files = readdirSync(__dirname)
    .filter((f) => f.endsWith('.bench.ts'))
    .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
    .sort();
  for (const file of files) {
    figure(`\n=== ${file}`);
    const mod = (await import(join(__dirname, file))) as { run: () => Promise<void> };
    await mod.run();
  }
}

/** In the parent: the child with its output in the log file and fd 3 on our stdout. */
async function runChild(args: string[]): Promise<number> {
  const log = resolve(process.env.BENCH_LOG ?? join(ROOT, '.data', 'bench.log'));
  mkdirSync(dirname(log), { recursive: true });
  const out = openSync(log, 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', __filename, ...args], {
    stdio: ['ignore', out, out, 1],
    env: { ...process.env, [FIGURES_FD_ENV]: String(FIGURES_FD) },
  });
  closeSync(out);
  // Ctrl-C reaches the child too (same process group); the parent waits for it to end.
  process.on('SIGINT', () => undefined);
  const code = await new Promise<number>((done) =>
    child.on('exit', (status, signal) => done(status ?? (signal ? 130 : 1))),
  );
  const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  const shown = relative(process.cwd(), log) || log;
  if (code !== 0) {
    process.stderr.write(`bench failed (exit ${code}); the last lines of ${shown}:\n`);
    process.stderr.write(`${lines.slice(-40).join('\n')}\n`);
  } else {
    const warnings = lines.filter((l) => /"level":(40|50|60)\b|level=(WARN|ERROR)/.test(l)).length;
    process.stderr.write(`logs: ${shown} (${lines.length} lines, ${warnings} warnings or errors)\n`);
  }
  return code;
}

const args = process.argv.slice(2);
if (process.env[FIGURES_FD_ENV]) {
  runBenchmarks(args).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  void runChild(args).then((code) => process.exit(code));
}
