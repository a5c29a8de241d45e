// ateflow's configuration: environment variables with embedded local defaults, validated once.
// Every key is documented in the README ("Configuration").
import { z } from 'zod';
import { parseDuration } from './durations';

/** A duration such as "30m", "1h30m", "250ms" or plain seconds, parsed to milliseconds. */
const duration = z.string().transform((text, ctx) => {
  try {
    return parseDuration(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** What GetGatewayListenerRequirements asks the gateway to bind, if anything. */
export type ListenerRequirement =
  { kind: 'none' } | { kind: 'loopback' } | { kind: 'default-route' } | { kind: 'exact'; address: string };

const listener = z.string().transform((text, ctx): ListenerRequirement => {
  if (text === 'none' || text === '') return { kind: 'none' };
  if (text === 'loopback') return { kind: 'loopback' };
  if (text === 'default-route') return { kind: 'default-route' };
  if (/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):\d{1,5}$/.test(text))
    return { kind: 'exact', address: text };
  ctx.addIssue({ code: 'custom', message: 'expected none, loopback, default-route or IP:port' });
  return z.NEVER;
});
const flag = z.enum(['true', 'false', '1', '0', '']).transform((text) => text === 'true' || text === '1');

const schema = z.object({
  /** Temporal frontend (host:port). The embedded dev server listens here by default. */
  ATEFLOW_TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  ATEFLOW_TEMPORAL_NAMESPACE: z.string().default('default'),
  /** TLS to Temporal (on when a CA, a client certificate or an API key is given, or this is true). */
  ATEFLOW_TEMPORAL_TLS: flag.default(false),
  ATEFLOW_TEMPORAL_TLS_CA_FILE: z.string().optional(),
  /** mTLS client certificate and key (self-hosted clusters, Temporal Cloud with certificates). */
  ATEFLOW_TEMPORAL_TLS_CERT_FILE: z.string().optional(),
  ATEFLOW_TEMPORAL_TLS_KEY_FILE: z.string().optional(),
  ATEFLOW_TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  /** Temporal Cloud API key. */
  ATEFLOW_TEMPORAL_API_KEY: z.string().optional(),
  /** Task queue shared by every ateflow worker; scale out by running more workers on it. */
  ATEFLOW_TASK_QUEUE: z.string().default('ateflow-sandboxes'),
  /** Temporal Web UI port of the embedded dev server. */
  ATEFLOW_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  /** Where `ateflow dev` keeps its state (Temporal's SQLite database, sockets). */
  ATEFLOW_DATA_DIR: z.string().default('.data'),
  ATEFLOW_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),

  /** Substrate's ate-api-server (host:port); the embedded simulator listens here by default. */
  ATEFLOW_ATEAPI_ENDPOINT: z.string().default('127.0.0.1:7100'),
  /** TLS to ateapi: on when a CA file is given or this is true. */
  ATEFLOW_ATEAPI_TLS: flag.default(false),
  ATEFLOW_ATEAPI_CA_FILE: z.string().optional(),
  /** TLS server name to verify (Substrate's certificate is for api.ate-system.svc). */
  ATEFLOW_ATEAPI_SERVER_NAME: z.string().optional(),
  /** Bearer token file for ateapi's JWT mode (a projected ServiceAccount token); re-read per call. */
  ATEFLOW_ATEAPI_TOKEN_FILE: z.string().optional(),
  /** Kubeconfig for ActorTemplates; without it the simulator's admin API keeps templates. */
  ATEFLOW_KUBECONFIG: z.string().optional(),
  ATEFLOW_SIM_ADMIN: z.string().default('127.0.0.1:7101'),

  /** Namespace of ActorTemplates (pre-provisioned and synthesized). */
  ATEFLOW_TEMPLATE_NAMESPACE: z.string().default('default'),
  /** Atespace for sandboxes whose workspace is not a valid atespace name. */
  ATEFLOW_DEFAULT_ATESPACE: z.string().default('openshell'),
  /** pauseImage of synthesized templates (must be digest-pinned). */
  ATEFLOW_PAUSE_IMAGE: z.string().default('ateflow/pause@sha256:' + '0'.repeat(64)),
  /** snapshotsConfig.location of synthesized templates. */
  ATEFLOW_SNAPSHOT_LOCATION: z.string().default('gs://ateflow-snapshots/'),
  /** OPENSHELL_ENDPOINT injected into sandboxes (the gateway as seen from inside); required for OpenShell sandboxes. */
  ATEFLOW_GATEWAY_ENDPOINT: z.string().default(''),
  /**
   * The gateway's gRPC URL as the facade reaches it, to see sandboxes being used (exec, SSH,
   * port-forward move the idle clock): default ATEFLOW_GATEWAY_ENDPOINT; `off` disables.
   */
  ATEFLOW_GATEWAY_API: z.string().default(''),
  /** A bearer token file for that API (a user allowed sandbox:read); re-read on every stream. */
  ATEFLOW_GATEWAY_API_TOKEN_FILE: z.string().optional(),
  /** The OpenShell supervisor binary inside sandbox images (the simulator runs it from the host). */
  ATEFLOW_SUPERVISOR_PATH: z.string().min(1).default('/opt/openshell/bin/openshell-sandbox'),

  /** Default idle timeout before a running sandbox is suspended; 0 disables. */
  ATEFLOW_IDLE_TIMEOUT: duration.default(30 * 60_000),
  /**
   * After each create or start, no idle suspend for at least this long (driver_config.keep_alive
   * per sandbox); 0: the idle timeout alone decides. For short idle timeouts, so that an agent
   * that starts and then thinks before its first call is not put to sleep on the way.
   */
  ATEFLOW_KEEP_ALIVE: duration.default(0),
  /** Longest one transition may take before the sandbox is FAILED. */
  ATEFLOW_TRANSITION_TIMEOUT: duration.default(5 * 60_000),
  /** Longest a resume waits for a free worker. */
  ATEFLOW_CAPACITY_BUDGET: duration.default(10 * 60_000),
  /**
   * Sandbox workflows a worker keeps in memory (~0.3 MB each). Sized for the active set, not the
   * fleet: a suspended sandbox sleeps on one timer at most, and when evicted its next task replays
   * its history (tens of events since its last continue-as-new) in a few milliseconds.
   */
  ATEFLOW_WORKFLOW_CACHE_SIZE: z.coerce.number().int().min(0).default(1_000),
  /** Fleet observer sweep interval (ListActors). */
  ATEFLOW_OBSERVE_INTERVAL: duration.default(2_000),

  /** Unix socket the OpenShell gateway dials (default: <data dir>/compute-driver.sock). */
  ATEFLOW_DRIVER_SOCKET: z.string().min(1).optional(),
  /** Also serve the facade on 127.0.0.1:<port> for development; 0 is off. */
  ATEFLOW_DRIVER_TCP_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /**
   * GetCapabilities.default_image: used when a sandbox names no image. Must be digest-pinned to be
   * usable (Substrate restores snapshots onto the exact image); unset, the driver advertises
   * OpenShell's community base image, and creates without --from are refused with a message
   * naming this key (`ateflow dev` uses a pinned simulator image instead).
   */
  ATEFLOW_DEFAULT_IMAGE: z.string().min(1).optional(),
  /** How often the facade's watch polls Temporal visibility. */
  ATEFLOW_WATCH_POLL_INTERVAL: duration.default(250),
  /** How long the watch source may fail before streams end with UNAVAILABLE. */
  ATEFLOW_WATCH_LOSS_TIMEOUT: duration.default(10_000),
  /** Upper bound of the facade's lifecycle calls (create, stop, start, delete, …). */
  ATEFLOW_DRIVER_CALL_TIMEOUT: duration.default(240_000),
  /** Upper bound of the facade's reads (get, list, query). */
  ATEFLOW_DRIVER_READ_TIMEOUT: duration.default(10_000),
  /** GetGatewayListenerRequirements: none, loopback, default-route or IP:port. */
  ATEFLOW_GATEWAY_LISTENER: listener.default({ kind: 'none' }),
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
