// Settings of the driver facade, read from the environment with local defaults.
// Template namespace, default atespace and idle timeout come from the shared configuration
// (src/config.ts); the facade-only keys are proposed for src/config.ts and live here until then.
import { join } from 'node:path';
import { z } from 'zod';
import type { Config } from '../config';
import { parseDuration } from './durations';

/** What GetGatewayListenerRequirements asks the gateway to bind, if anything. */
export type ListenerRequirement =
  { kind: 'none' } | { kind: 'loopback' } | { kind: 'default-route' } | { kind: 'exact'; address: string };

export interface DriverSettings {
  /** Unix socket the gateway dials. */
  socketPath: string;
  /** Optional TCP port on 127.0.0.1 for development (0: off). */
  tcpPort: number;
  /** Image used when a sandbox names none (GetCapabilities.default_image). */
  defaultImage: string;
  defaultIdleTimeoutMs: number;
  /** How often the watch event source polls Temporal visibility. */
  watchPollMs: number;
  /** How long the event source may fail before every watch stream ends with UNAVAILABLE. */
  watchLossMs: number;
  /** Upper bound of lifecycle calls (create, stop, start, delete, migrate, …). */
  callTimeoutMs: number;
  /** Upper bound of reads (get, list, query). */
  readTimeoutMs: number;
  /** Kubernetes namespace of ActorTemplates, named and synthesized alike. */
  templateNamespace: string;
  /** Atespace for sandboxes whose workspace is not a valid atespace name. */
  defaultAtespace: string;
  listener: ListenerRequirement;
}

const duration = z.string().transform((text, ctx) => {
  try {
    return parseDuration(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const schema = z.object({
  ATEFLOW_DRIVER_SOCKET: z.string().min(1).optional(),
  ATEFLOW_DRIVER_TCP_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  ATEFLOW_DEFAULT_IMAGE: z
    .string()
    .min(1)
    .default('ghcr.io/nvidia/openshell-community/sandboxes/base:latest'),
  ATEFLOW_WATCH_POLL_INTERVAL: duration.default(250),
  ATEFLOW_WATCH_LOSS_TIMEOUT: duration.default(10_000),
  ATEFLOW_DRIVER_CALL_TIMEOUT: duration.default(240_000),
  ATEFLOW_DRIVER_READ_TIMEOUT: duration.default(10_000),
  ATEFLOW_GATEWAY_LISTENER: z
    .string()
    .default('none')
    .transform((text, ctx): ListenerRequirement => {
      if (text === 'none' || text === '') return { kind: 'none' };
      if (text === 'loopback') return { kind: 'loopback' };
      if (text === 'default-route') return { kind: 'default-route' };
      if (/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):\d{1,5}$/.test(text))
        return { kind: 'exact', address: text };
      ctx.addIssue({ code: 'custom', message: 'expected none, loopback, default-route or IP:port' });
      return z.NEVER;
    }),
});

export function loadDriverSettings(config: Config, env: NodeJS.ProcessEnv = process.env): DriverSettings {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid driver configuration:\n  ${problems.join('\n  ')}`);
  }
  const s = parsed.data;
  return {
    socketPath: s.ATEFLOW_DRIVER_SOCKET ?? join(config.ATEFLOW_DATA_DIR, 'compute-driver.sock'),
    tcpPort: s.ATEFLOW_DRIVER_TCP_PORT,
    defaultImage: s.ATEFLOW_DEFAULT_IMAGE,
    defaultIdleTimeoutMs: config.ATEFLOW_IDLE_TIMEOUT,
    watchPollMs: s.ATEFLOW_WATCH_POLL_INTERVAL,
    watchLossMs: s.ATEFLOW_WATCH_LOSS_TIMEOUT,
    callTimeoutMs: s.ATEFLOW_DRIVER_CALL_TIMEOUT,
    readTimeoutMs: s.ATEFLOW_DRIVER_READ_TIMEOUT,
    templateNamespace: config.ATEFLOW_TEMPLATE_NAMESPACE,
    defaultAtespace: config.ATEFLOW_DEFAULT_ATESPACE,
    listener: s.ATEFLOW_GATEWAY_LISTENER,
  };
}
