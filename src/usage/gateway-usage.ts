// Sees sandboxes being used through the OpenShell gateway. The gateway makes no driver call when a
// user runs `exec`, opens SSH or forwards a port; it does open a relay to the sandbox's supervisor
// for each of them. WatchSandbox(follow_logs) streams two kinds of lines about those relays:
//
// - the gateway's own, when it opens one: "relay stream: claimed pending relay" (exec also
//   "ExecSandbox … command started"). Every exec, `ssh`, `openshell forward start` tunnel and
//   every connection through `openshell forward service` opens one.
// - the supervisor's (source "sandbox", OCSF), when a relay opens and when it ends:
//   "NET:OPEN [INFO] [msg:ssh relay open (channel_id=…" … "ssh relay closed (channel_id=…" for
//   SSH relays (exec, ssh, forward start), "NET:OPEN [INFO] 127.0.0.1:8000/tcp" … "NET:CLOSE …"
//   for TCP relays (forward service).
//
// The first kind is a use as it starts; the second also says which relays are still open, so a
// long session (an interactive `ssh`, a long exec, a port-forward tunnel whose connections ride
// inside one SSH session and show nothing of their own) counts as use for as long as it is open.
//
// Cost: one HTTP/2 stream per watched sandbox on one channel to the gateway, carrying that
// sandbox's INFO-and-above lines (a handful per use, plus whatever the supervisor logs: its network
// policy events when the workload talks to the network); the gateway already keeps a broadcast
// channel per sandbox. Limits: the supervisor's lines are best effort (it drops them when its
// buffer is full), so an open relay whose close line was lost counts at most `maxSessionMs`, and
// a session cut when its supervisor reconnects is forgotten; relays opened before the watch
// began are not known until their next use; the gateway's log level must include INFO.
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

/** A supervisor relay opening or ending: SSH relays by channel, TCP relays by their target. */
export interface RelayEvent {
  kind: 'open' | 'close';
  key: string;
}

const SSH_RELAY =
  /^NET:(?:OPEN|CLOSE|FAIL) \[\w+\] \[msg:ssh relay (open|closed|bridge failed) \(channel_id=([^,)\s]+)/;
// The supervisor's own network proxy logs "NET:OPEN [INFO] ALLOWED proc(pid) -> host:port": an
// action word after the severity; relay lines go straight to the loopback target.
const TCP_RELAY = /^NET:(OPEN|CLOSE|FAIL) \[\w+\] (127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost):(\d+)\/tcp\b/;

/** The relay a supervisor (source "sandbox") line opens or ends, if it is one. */
export function relayEvent(message: string): RelayEvent | undefined {
  const ssh = SSH_RELAY.exec(message);
  if (ssh) return { kind: ssh[1] === 'open' ? 'open' : 'close', key: `ssh:${ssh[2]}` };
  const tcp = TCP_RELAY.exec(message);
  if (tcp) return { kind: tcp[1] === 'OPEN' ? 'open' : 'close', key: `tcp:${tcp[2]}:${tcp[3]}` };
  return undefined;
}

/** A gateway line after which no relay of the sandbox's previous supervisor session is open. */
const isSessionBoundary = (message: string) => /^supervisor session: (accepted|ended)$/.test(message);

export interface GatewayUsageOptions {
  /** The gateway's gRPC URL as this process reaches it: http://host:port or https://host:port. */
  url: string;
  /** A bearer token for the gateway's API (a user with sandbox:read); none for a dev gateway. */
  bearerToken?: () => string | undefined;
  /** Told of each use: the sandbox and the line (the gateway's, or the supervisor's relay open). */
  onUse: (sandboxId: string, line: string) => void;
  /**
   * How long an open relay counts as use at most when its close line never comes (the
   * supervisor's lines are best effort); default 12 h.
   */
  maxSessionMs?: number;
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
  /** Relays open now: key → when each opened (TCP relays to one target can overlap). */
  open: Map<string, number[]>;
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
    const watch: Watch = { sinceMs: Date.now(), open: new Map() };
    this.watches.set(sandboxId, watch);
    this.open(sandboxId, watch);
  }

  /** The relays (exec, SSH, port-forward sessions) open to `sandboxId` now. */
  openRelays(sandboxId: string): number {
    const watch = this.watches.get(sandboxId);
    if (!watch) return 0;
    const oldest = Date.now() - (this.options.maxSessionMs ?? 12 * 3600_000);
    let count = 0;
    for (const [key, opened] of watch.open) {
      const live = opened.filter((at) => at >= oldest);
      if (live.length) watch.open.set(key, live);
      else watch.open.delete(key);
      count += live.length;
    }
    return count;
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
        logSources: ['gateway', 'sandbox'],
        logMinLevel: 'INFO',
        logSinceMs: watch.sinceMs,
      }),
      metadata,
    );
    watch.stream = stream;
    stream.on('data', (event: SandboxStreamEvent) => {
      const line = event.log;
      if (!line) return;
      watch.sinceMs = Math.max(watch.sinceMs, line.timestampMs + 1);
      if (line.source === 'sandbox') {
        const relay = relayEvent(line.message);
        if (relay?.kind === 'open') {
          watch.open.set(relay.key, [...(watch.open.get(relay.key) ?? []), Date.now()]);
          this.options.onUse(sandboxId, line.message);
        } else if (relay) {
          const opened = watch.open.get(relay.key) ?? [];
          opened.shift();
          if (opened.length) watch.open.set(relay.key, opened);
          else watch.open.delete(relay.key);
        }
      } else if (isUseLine(line.message)) {
        this.options.onUse(sandboxId, line.message);
      } else if (isSessionBoundary(line.message)) {
        watch.open.clear();
      }
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
