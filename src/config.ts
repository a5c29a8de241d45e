// ateflow's configuration: environment variables with embedded local defaults, validated once.
// Every key is documented in the README ("Configuration").
import { z } from 'zod';

const schema = z.object({
  /** Temporal frontend (host:port). The embedded dev server listens here by default. */
  ATEFLOW_TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  ATEFLOW_TEMPORAL_NAMESPACE: z.string().default('default'),
  /** Task queue shared by every ateflow worker; scale out by running more workers on it. */
  ATEFLOW_TASK_QUEUE: z.string().default('ateflow-sandboxes'),
  /** Temporal Web UI port of the embedded dev server. */
  ATEFLOW_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  /** Where `ateflow dev` keeps its state (Temporal's SQLite database, sockets). */
  ATEFLOW_DATA_DIR: z.string().default('.data'),
  ATEFLOW_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

export type Config = z.infer<typeof schema>;

/** Parses configuration from `env`; a bad value is an error that names the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}
