// Sees sandboxes being used through the OpenShell gateway. The gateway makes no driver call when a
// user runs `exec`, opens SSH or forwards a port; it does open a relay to the sandbox's supervisor
// for each of them, and logs "relay stream: claimed pending relay" (exec also "ExecSandbox …
// command started") as a server log line correlated to the sandbox. WatchSandbox(follow_logs)
// streams those lines, so one stream per running sandbox tells us of every use as it starts.
//
// Cost: one HTTP/2 stream per watched sandbox on one channel to the gateway, idle until a use;
// the gateway already keeps a broadcast channel per sandbox. Limits: only the start of a session
// is seen (a single session longer than the idle timeout with no new one is not), and the
// gateway's log level must include INFO for its own lines (its default).
import {
  ChannelCredentials,
  Metadata,
  status,
  type ClientReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { OpenShellClient, WatchSandboxRequest, type SandboxStreamEvent } from '../gen/openshell_gateway';

/** A gateway log line that means someone started using the sandbox. */
export const isUseLine = (message: string) =>
  /relay stream: claimed pending relay|ExecSandbox(Interactive)? \(relay\): command started/.test(message);

export interface GatewayUsageOptions {
  /** The gateway's gRPC URL as this process reaches it: http://host:port or https://host:port. */
  url: string;
  /** A bearer token for the gateway's API (a user with sandbox:read); none for a dev gateway. */
  bearerToken?: () => string | undefined;
  /** Told of each use: the sandbox and the gateway's line. */
  onUse: (sandboxId: string, line: string) => void;
  /** Wait before reopening a stream that ended or failed; default 2 s (NOT_FOUND: 30 s). */
  reopenMs?: number;
  /** Told of stream failures (default: silent); the watcher reopens by itself. */
  onError?: (sandboxId: string, err: ServiceError) => void;
}

interface Watch {
  stream?: ClientReadableStream<SandboxStreamEvent>;
  timer?: NodeJS.Timeout;
  /** Lines at or after this time are new to us. */
  sinceMs: number;
}

export class GatewayUsageWatcher {
  private readonly client: InstanceType<typeof OpenShellClient>;
  private readonly watches = new Map<string, Watch>();
  private closed = false;

  constructor(private readonly options: GatewayUsageOptions) {
    const url = new URL(options.url);
    const credentials =
      url.protocol === 'https:' ? ChannelCredentials.createSsl() : ChannelCredentials.createInsecure();
    this.client = new OpenShellClient(url.host, credentials);
  }

  /** The sandboxes watched now. */
  get watched(): string[] {
    return [...this.watches.keys()];
  }

  /** Follows `sandboxId`'s use from now on (a no-op when it is already followed). */
  watch(sandboxId: string): void {
    if (this.closed || this.watches.has(sandboxId)) return;
    const watch: Watch = { sinceMs: Date.now() };
    this.watches.set(sandboxId, watch);
    this.open(sandboxId, watch);
  }

  unwatch(sandboxId: string): void {
    const watch = this.watches.get(sandboxId);
    if (!watch) return;
    this.watches.delete(sandboxId);
    clearTimeout(watch.timer);
    watch.stream?.cancel();
  }

  close(): void {
    this.closed = true;
    for (const id of [...this.watches.keys()]) this.unwatch(id);
    this.client.close();
  }

  private open(sandboxId: string, watch: Watch): void {
    const metadata = new Metadata();
    const token = this.options.bearerToken?.();
    if (token) metadata.set('authorization', `Bearer ${token}`);
    const stream = this.client.watchSandbox(
      WatchSandboxRequest.fromPartial({
        id: sandboxId,
        followLogs: true,
        logSources: ['gateway'],
        logSinceMs: watch.sinceMs,
      }),
      metadata,
    );
    watch.stream = stream;
    stream.on('data', (event: SandboxStreamEvent) => {
      const line = event.log;
      if (!line) return;
      watch.sinceMs = Math.max(watch.sinceMs, line.timestampMs + 1);
      if (isUseLine(line.message)) this.options.onUse(sandboxId, line.message);
    });
    let reopened = false;
    const reopen = (err?: ServiceError) => {
      if (reopened || this.closed || this.watches.get(sandboxId) !== watch) return;
      reopened = true;
      if (err && err.code !== status.CANCELLED) this.options.onError?.(sandboxId, err);
      // The gateway may not know the sandbox yet (or any more): look again, but rarely.
      const delay = err?.code === status.NOT_FOUND ? 30_000 : (this.options.reopenMs ?? 2_000);
      watch.timer = setTimeout(() => this.open(sandboxId, watch), delay);
      watch.timer.unref();
    };
    stream.on('error', (err: ServiceError) => reopen(err));
    stream.on('end', () => reopen());
  }
}
