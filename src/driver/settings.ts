// Settings of the driver facade, derived from the shared configuration (src/config.ts).
import { join } from 'node:path';
import type { Config, ListenerRequirement } from '../config';

export type { ListenerRequirement } from '../config';

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

export function loadDriverSettings(config: Config): DriverSettings {
  return {
    socketPath: config.ATEFLOW_DRIVER_SOCKET ?? join(config.ATEFLOW_DATA_DIR, 'compute-driver.sock'),
    tcpPort: config.ATEFLOW_DRIVER_TCP_PORT,
    defaultImage: config.ATEFLOW_DEFAULT_IMAGE,
    defaultIdleTimeoutMs: config.ATEFLOW_IDLE_TIMEOUT,
    watchPollMs: config.ATEFLOW_WATCH_POLL_INTERVAL,
    watchLossMs: config.ATEFLOW_WATCH_LOSS_TIMEOUT,
    callTimeoutMs: config.ATEFLOW_DRIVER_CALL_TIMEOUT,
    readTimeoutMs: config.ATEFLOW_DRIVER_READ_TIMEOUT,
    templateNamespace: config.ATEFLOW_TEMPLATE_NAMESPACE,
    defaultAtespace: config.ATEFLOW_DEFAULT_ATESPACE,
    listener: config.ATEFLOW_GATEWAY_LISTENER,
  };
}
