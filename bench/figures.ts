// Where a benchmark's figures go: the stdout of `npm run bench`, and nothing else does. bench/run.ts
// runs the benchmarks in a child process whose own stdout and stderr (every log line: ours, the
// Temporal SDK's, the Temporal server's) go to a log file, and hands it the real stdout as fd 3.
import { writeSync } from 'node:fs';

/** The env var naming the fd that reaches the real stdout (set by bench/run.ts). */
export const FIGURES_FD_ENV = 'ATEFLOW_BENCH_FIGURES_FD';

const fd = Number(process.env[FIGURES_FD_ENV] ?? 1);

/** Prints one figure line (or several, joined by newlines) on the bench's stdout. */
export function figure(...lines: string[]): void {
  writeSync(fd, `${lines.join('\n')}\n`);
}
