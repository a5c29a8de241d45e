// The gateway's sweep from a compiled client (bench/sweep, Go): ListSandboxes, then GetSandbox
// for each sandbox in turn, or the bare equivalent on Temporal's API (list + describe each).
// A Node client would spend more CPU per call than the facade answering it, and the gateway's
// own client is compiled (Rust), so the sweep's wall time is measured from Go.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  Server,
  ServerCredentials,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { ComputeDriverService, DriverSandbox } from '../../src/gen/compute_driver';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..', '..');
const BINARY = join(ROOT, '.data', 'bench', 'sweep');

export interface SweepResult {
  listed: number;
  listMs: number;
  wallMs: number;
  getP50Ms: number;
  getP99Ms: number;
}

function goCommand(): string {
  for (const dir of (process.env.PATH ?? '').split(':'))
    if (existsSync(join(dir, 'go'))) return join(dir, 'go');
  if (existsSync('/usr/local/go/bin/go')) return '/usr/local/go/bin/go';
  throw new Error('the scale bench measures the sweep from a Go client (bench/sweep): install Go (1.26+)');
}

/** Builds the sweeper (Go's build cache makes a rebuild take a moment). */
export async function buildSweeper(): Promise<void> {
  mkdirSync(join(ROOT, '.data', 'bench'), { recursive: true });
  await run(goCommand(), ['build', '-o', BINARY, '.'], {
    cwd: join(ROOT, 'bench', 'sweep'),
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
  });
}

export async function sweep(...args: string[]): Promise<SweepResult> {
  const { stdout } = await run(BINARY, args, { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as SweepResult;
}

/**
 * The floor under any grpc-js facade on this machine: the same sweep against a grpc-js server
 * that answers from memory, with `size` sandboxes. Returns the sweep and the server's CPU.
 */
export async function grpcJsFloor(size: number, dir: string): Promise<SweepResult & { serverCpuMs: number }> {
  const socket = join(dir, 'floor.sock');
  rmSync(socket, { force: true });
  const sandboxes = Array.from({ length: size }, (_, i) =>
    DriverSandbox.fromPartial({
      id: `floor-${i}`.padEnd(36, '0'),
      name: `floor-${i}`,
      workspace: 'bench',
      status: { conditions: [{ type: 'Ready', status: 'True', reason: 'ActorRunning', message: 'running' }] },
    }),
  );
  const byId = new Map(sandboxes.map((s) => [s.id, s]));
  const server = new Server();
  const handlers: UntypedServiceImplementation = {
    listSandboxes: (_call: unknown, answer: sendUnaryData<unknown>) => answer(null, { sandboxes }),
    getSandbox: (call: { request: { sandboxId: string } }, answer: sendUnaryData<unknown>) =>
      answer(null, { sandbox: byId.get(call.request.sandboxId) }),
  };
  server.addService(ComputeDriverService, handlers);
  await new Promise<void>((bound, failed) =>
    server.bindAsync(`unix:${socket}`, ServerCredentials.createInsecure(), (err) =>
      err ? failed(err) : bound(),
    ),
  );
  try {
    const before = process.cpuUsage();
    const result = await sweep('driver', socket);
    const cpu = process.cpuUsage(before);
    return { ...result, serverCpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    server.forceShutdown();
  }
}
