// Settings of the driver facade, derived from the shared configuration (src/config.ts).
import { join } from 'node:path';
import type { Config, ListenerRequirement } from '../config';
import type { SandboxLimits } from '../workflows/messages';

export type { ListenerRequirement } from '../config';

/** OpenShell's own default sandbox image; not digest-pinned, so only a hint until one is configured. */
export const OPENSHELL_BASE_IMAGE = 'ghcr.io/nvidia/openshell-community/sandboxes/base:latest';

export interface DriverSettings {
  /** Unix socket the gateway dials. */
  socketPath: string;
  /** Optional TCP port on 127.0.0.1 for development (0: off). */
  tcpPort: number;
  /** Image used when a sandbox names none (GetCapabilities.default_image). */
  defaultImage: string;
  defaultIdleTimeoutMs: number;
  /** Keep-alive window after each create or start when driver_config.keep_alive is absent. */
  defaultKeepAliveMs: number;
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
  /**
   * The gateway as the sandboxes it creates reach it (OPENSHELL_ENDPOINT). The facade runs next
   * to one gateway, so it knows this; empty refuses every create with a message naming the key.
   */
  gatewayEndpoint: string;
  /** Time budgets every new sandbox's workflow gets (ATEFLOW_TRANSITION_TIMEOUT, ATEFLOW_CAPACITY_BUDGET). */
  limits: SandboxLimits;
}

export function loadDriverSettings(config: Config): DriverSettings {
  return {
    socketPath: config.ATEFLOW_DRIVER_SOCKET ?? join(config.ATEFLOW_DATA_DIR, 'compute-driver.sock'),
    tcpPort: config.ATEFLOW_DRIVER_TCP_PORT,
    defaultImage: config.ATEFLOW_DEFAULT_IMAGE ?? OPENSHELL_BASE_IMAGE,
    defaultIdleTimeoutMs: config.ATEFLOW_IDLE_TIMEOUT,
    defaultKeepAliveMs: config.ATEFLOW_KEEP_ALIVE,
    watchPollMs: config.ATEFLOW_WATCH_POLL_INTERVAL,
    watchLossMs: config.ATEFLOW_WATCH_LOSS_TIMEOUT,
    callTimeoutMs: config.ATEFLOW_DRIVER_CALL_TIMEOUT,
    readTimeoutMs: config.ATEFLOW_DRIVER_READ_TIMEOUT,
    templateNamespace: config.ATEFLOW_TEMPLATE_NAMESPACE,
    defaultAtespace: config.ATEFLOW_DEFAULT_ATESPACE,
    listener: config.ATEFLOW_GATEWAY_LISTENER,
    gatewayEndpoint: config.ATEFLOW_GATEWAY_ENDPOINT,
    limits: {
      transitionTimeoutMs: config.ATEFLOW_TRANSITION_TIMEOUT,
      capacityBudgetMs: config.ATEFLOW_CAPACITY_BUDGET,
      templateReadyTimeoutMs: config.ATEFLOW_TRANSITION_TIMEOUT,
    },
  };
}
