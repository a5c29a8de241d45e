// Every bound on what callers of the facade may send, in one place: the numbers, why each one is
// what it is, and one check per kind of input. ValidateSandboxCreate, CreateSandbox and every RPC
// of both services call these same checks before anything durable is written (no workflow is
// started, no update sent), so one oversized or malformed field is refused with INVALID_ARGUMENT
// and a message that names the field and its limit, never stored where it could break the fleet
// (a search attribute over Temporal's limit, an actor Substrate cannot run, a view the facade
// cannot serialize). Whole messages over MAX_RECEIVE_MESSAGE_BYTES never reach a handler: grpc-js
// answers RESOURCE_EXHAUSTED itself (server.ts).
//
// Where the OpenShell gateway has a limit for the same field (crates/openshell-server/src/grpc,
// mod.rs and validation.rs), ours is the same, or stricter only where Substrate, Kubernetes,
// Linux or Temporal could not carry what the gateway allows (environment and argv totals, label
// shapes, the number of variables, the token's size), so a request the gateway accepted is
// refused only when it could never have run.
import { Buffer } from 'node:buffer';
import { SandboxPolicy } from '../gen/sandbox';
import { DRIVER_ENV_ENTRIES, MAX_ENV } from '../substrate/synthesize-template';
import { STATUS_MESSAGE_CHARS, invalidArgument, type DriverError } from './errors';

const KiB = 1024;
const MiB = 1024 * KiB;
const DAY_MS = 86_400_000;

export const LIMITS = {
  /**
   * Sandbox ids (every RPC): the id names the Substrate actor and the sandbox workflow, and actor
   * names are DNS-1123 labels (lowercase letters, digits and '-', at most 63 characters).
   */
  sandboxIdChars: 63,
  /**
   * Sandbox names (DriverSandbox.name, sandbox_name of Get/Stop/Start/Delete): the gateway's own
   * MAX_NAME_LEN, the Kubernetes object-name limit (newer gateways allow only 19-character
   * DNS labels). The name reaches the sandbox as OPENSHELL_SANDBOX and is in every view.
   */
  nameBytes: 253,
  /**
   * Workspaces (DriverSandbox.workspace, EnsureWorkspace, DeleteWorkspace): the Kubernetes
   * object-name limit (the gateway's workspaces are DNS labels of at most 19 characters). The
   * workspace is the SandboxWorkspace search attribute, whose Keyword values Temporal caps at
   * 2048 bytes.
   */
  workspaceBytes: 253,
  /** Template labels: the gateway's MAX_TEMPLATE_MAP_ENTRIES. */
  labelCount: 128,
  /**
   * Label keys and values (template labels, worker selectors) follow Kubernetes: a key is an
   * optional DNS-subdomain prefix (≤ 253) and '/', then a name of at most 63 characters; a value
   * has at most 63. Labels are meant for platform resources and selectors match worker pods'.
   */
  labelPrefixBytes: 253,
  labelNameBytes: 63,
  labelValueBytes: 63,
  /** Worker selectors (driver_config, Migrate, Drain): the gateway's MAX_LABEL_SELECTOR_PAIRS. */
  selectorPairs: 64,
  /**
   * Operator reasons (Hold, Migrate, Drain): they are shown in lifecycle events and conditions,
   * and Kubernetes caps an event's note at 1 KiB.
   */
  reasonBytes: 1 * KiB,
  /**
   * The sandbox token: the supervisor presents it to the gateway as gRPC metadata, and gRPC's
   * default metadata limit is 8 KiB (HTTP/2 servers cap a request's headers at 8–16 KiB), so a
   * longer token could never authenticate. It must be header-safe: visible ASCII.
   */
  tokenBytes: 8 * KiB,
  /**
   * User environment variables after the driver's own are dropped: Substrate allows 32 env
   * entries per container and every sandbox needs DRIVER_ENV_ENTRIES of them.
   */
  envEntries: MAX_ENV - DRIVER_ENV_ENTRIES,
  /** Entries of spec.environment or template.environment as sent: the gateway's map limit. */
  envMapEntries: 128,
  /** Variable names: the gateway's MAX_MAP_KEY_LEN (and its ^[A-Za-z_][A-Za-z0-9_]*$ rule). */
  envKeyBytes: 256,
  /** Variable values: the gateway's MAX_MAP_VALUE_LEN. */
  envValueBytes: 8 * KiB,
  /**
   * Both environment maps together, JSON-encoded: the user environment also reaches the
   * supervisor as one variable (OPENSHELL_USER_ENVIRONMENT, JSON), and Linux refuses any single
   * environment string over 128 KiB (MAX_ARG_STRLEN) at exec; half leaves room for the rest.
   */
  envTotalBytes: 64 * KiB,
  /** Main process argv entries: the gateway's MAX_MAIN_PROCESS_ARGS. */
  commandArgs: 256,
  /** One argv entry: the gateway's MAX_EXEC_ARG_LEN. */
  commandArgBytes: 32 * KiB,
  /**
   * The whole argv, JSON-encoded: it reaches the supervisor as one variable
   * (OPENSHELL_MAIN_PROCESS_SPEC, JSON), under the same 128 KiB MAX_ARG_STRLEN as above.
   */
  commandTotalBytes: 64 * KiB,
  /** spec.log_level: the gateway's MAX_LOG_LEVEL_LEN. */
  logLevelBytes: 32,
  /**
   * Template strings (image, agent_socket_path, resource quantities): the gateway's
   * MAX_TEMPLATE_STRING_LEN.
   */
  templateStringBytes: 1 * KiB,
  /**
   * driver_config and platform_config, JSON-encoded: the gateway's MAX_TEMPLATE_STRUCT_SIZE. Both
   * become workflow input (Temporal warns over 512 KiB per payload and refuses 2 MiB).
   */
  configBytes: 64 * KiB,
  /** spec.policy, protobuf-encoded (ateflow does not read it): the gateway's MAX_POLICY_SIZE. */
  policyBytes: 256 * KiB,
  /**
   * Idle timeouts (driver_config.idle_timeout, SetIdleTimeout): the idle deadline (last activity
   * plus the timeout) must stay a valid date and an int64 on the wire; a year is far past any
   * sensible idle policy.
   */
  idleTimeoutMs: 365 * DAY_MS,
  /**
   * Worker pools, nodes and ActorTemplates are Kubernetes objects: DNS-1123 subdomains of at most
   * 253 characters.
   */
  kubernetesNameBytes: 253,
  /**
   * Drain parallelism: every migration in flight holds one Temporal update open and needs a free
   * worker; 64 at a time is already more than a pool usually has spare (the default is 4).
   */
  drainParallelism: 64,
  /**
   * Whole requests (server.ts, grpc.max_receive_message_length): the largest valid request, a
   * CreateSandbox with every field at its limit, is under 1 MiB (the gateway itself accepts at
   * most 1 MiB from its clients); 4 MiB leaves room and is what gRPC clients assume by default.
   */
  receiveMessageBytes: 4 * MiB,
  /**
   * Whole responses (server.ts, grpc.max_send_message_length): what the gateway (tonic) and
   * grpc-js clients accept by default; a larger answer would fail at the receiver instead, with
   * a less helpful message.
   */
  sendMessageBytes: 4 * MiB,
  /**
   * One sandbox in a list, a get or a watch, encoded: a view built from valid input stays far
   * below (labels and selectors at their limits are ~75 KiB). One over it (or one that cannot be
   * encoded at all) is handled on its own so that it cannot fail the whole answer.
   */
  reportedSandboxBytes: 256 * KiB,
  /** Status messages are cut at this length (errors.ts says why). */
  statusMessageChars: STATUS_MESSAGE_CHARS,
} as const;

// ---------------------------------------------------------------------------------------------
// Shapes

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Kubernetes label names and non-empty label values. */
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
/** Environment variable names, as the gateway requires them. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** C0 controls, DEL and C1 controls: nothing a name, reason or log line should carry. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** What an HTTP header value may hold without escaping. */
const VISIBLE_ASCII = /^[\x21-\x7e]*$/;

export const bytesOf = (text: string) => Buffer.byteLength(text, 'utf8');

/** True for a DNS-1123 label (what an actor or atespace name must be). */
export const isDnsLabel = (text: string) => text.length <= 63 && DNS_LABEL.test(text);

/**
 * A value for a message: JSON, cut short so that a huge input is never echoed back whole, with
 * what JSON leaves raw but a reader should not get raw (DEL, C1 controls, bidi overrides, line and
 * paragraph separators) escaped too.
 */
export function show(value: unknown, max = 64): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return cut.replace(UNREADABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// eslint-disable-next-line no-control-regex
const UNREADABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function tooBig(field: string, size: number, limit: number, unit: string, why: string): DriverError {
  return invalidArgument(`${field} is ${size} ${unit}, over the limit of ${limit} ${unit} (${why})`);
}

/** Length in UTF-8 bytes, then no control characters. */
function checkText(value: string, field: string, limit: number, why: string): void {
  const size = bytesOf(value);
  if (size > limit) throw tooBig(field, size, limit, 'bytes', why);
  if (CONTROL.test(value))
    throw invalidArgument(`${field} must not contain control characters, got ${show(value)}`);
}

// ---------------------------------------------------------------------------------------------
// One check per kind of input. Each throws a DriverError (INVALID_ARGUMENT) naming the field.

/** A sandbox id: required (unless `optional`), a DNS-1123 label of at most 63 characters. */
export function checkSandboxId(value: string, field = 'sandbox_id', optional = false): string {
  if (value === '') {
    if (optional) return value;
    throw invalidArgument(`${field} is empty`);
  }
  if (value.length > LIMITS.sandboxIdChars) {
    throw tooBig(
      field,
      value.length,
      LIMITS.sandboxIdChars,
      'characters',
      'a sandbox id names its Substrate actor, and actor names are DNS-1123 labels',
    );
  }
  if (!DNS_LABEL.test(value)) {
    throw invalidArgument(
      `${field} ${show(value)} cannot name a Substrate actor: actor names must be DNS-1123 labels ` +
        `(lowercase letters, digits and '-', starting and ending with a letter or digit, at most ` +
        `${LIMITS.sandboxIdChars} characters)`,
    );
  }
  return value;
}

/** A sandbox name (may be empty). */
export function checkName(value: string, field = 'sandbox.name'): void {
  checkText(value, field, LIMITS.nameBytes, 'the Kubernetes object-name limit the OpenShell gateway applies');
}

/** A gateway workspace (may be empty: the default atespace). */
export function checkWorkspace(value: string, field = 'workspace'): void {
  checkText(
    value,
    field,
    LIMITS.workspaceBytes,
    'the Kubernetes object-name limit; it is a search attribute',
  );
}

/** A Kubernetes object name (worker pool, node, ActorTemplate): a DNS-1123 subdomain. */
export function checkKubernetesName(value: string, field: string): void {
  const size = bytesOf(value);
  if (size > LIMITS.kubernetesNameBytes) {
    throw tooBig(field, size, LIMITS.kubernetesNameBytes, 'bytes', 'Kubernetes object names');
  }
  if (!DNS_SUBDOMAIN.test(value)) {
    throw invalidArgument(
      `${field} must be a Kubernetes object name (a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'), got ${show(value)}`,
    );
  }
}

function checkLabelKey(key: string, field: string): void {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const keyBytes = bytesOf(key);
  const maxKey = LIMITS.labelPrefixBytes + 1 + LIMITS.labelNameBytes;
  if (keyBytes > maxKey) throw tooBig(`${field} key`, keyBytes, maxKey, 'bytes', 'Kubernetes label keys');
  const nameOk = name.length <= LIMITS.labelNameBytes && LABEL_NAME.test(name);
  const prefixOk =
    prefix === undefined || (prefix.length <= LIMITS.labelPrefixBytes && DNS_SUBDOMAIN.test(prefix));
  if (!nameOk || !prefixOk) {
    throw invalidArgument(
      `${field}: ${show(key)} is not a valid label key (Kubernetes: an optional DNS-subdomain prefix of at most ` +
        `${LIMITS.labelPrefixBytes} characters and '/', then a name of at most ${LIMITS.labelNameBytes} ` +
        `letters, digits, '-', '_' or '.', starting and ending with a letter or digit)`,
    );
  }
}

function checkLabelValue(value: unknown, field: string): string {
  if (
    typeof value !== 'string' ||
    value.length > LIMITS.labelValueBytes ||
    (value !== '' && !LABEL_NAME.test(value))
  ) {
    throw invalidArgument(
      `${field} must be a label value (a string of at most ${LIMITS.labelValueBytes} letters, digits, '-', '_' or '.', ` +
        `starting and ending with a letter or digit), got ${show(value)}`,
    );
  }
  return value;
}

/** Template labels: at most 128, Kubernetes keys and values. */
export function checkLabels(labels: Record<string, string>, field = 'sandbox.spec.template.labels'): void {
  const entries = Object.entries(labels);
  if (entries.length > LIMITS.labelCount) {
    throw tooBig(
      field,
      entries.length,
      LIMITS.labelCount,
      'entries',
      "the OpenShell gateway's template map limit",
    );
  }
  for (const [key, value] of entries) {
    checkLabelKey(key, field);
    checkLabelValue(value, `${field}.${key}`);
  }
}

/** A worker selector (label → value): an object of at most 64 Kubernetes label pairs. */
export function checkSelector(value: unknown, field: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(`${field} must be an object of label → value, got ${show(value)}`);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > LIMITS.selectorPairs) {
    throw tooBig(
      field,
      entries.length,
      LIMITS.selectorPairs,
      'pairs',
      "the OpenShell gateway's selector limit",
    );
  }
  const selector: Record<string, string> = {};
  for (const [key, label] of entries) {
    checkLabelKey(key, field);
    selector[key] = checkLabelValue(label, `${field}.${key}`);
  }
  return selector;
}

/** An operator's reason (hold, migrate, drain): text of at most 1 KiB; `required` refuses ''. */
export function checkReason(value: string, field = 'reason', required?: string): void {
  if (required !== undefined && value === '') throw invalidArgument(required);
  checkText(
    value,
    field,
    LIMITS.reasonBytes,
    'it is shown in lifecycle events, and Kubernetes caps event notes at 1 KiB',
  );
}

/** The gateway's sandbox token (may be empty). */
export function checkToken(value: string, field = 'sandbox.spec.sandbox_token'): void {
  const size = bytesOf(value);
  if (size > LIMITS.tokenBytes) {
    throw tooBig(
      field,
      size,
      LIMITS.tokenBytes,
      'bytes',
      'the supervisor sends it as gRPC metadata, capped at 8 KiB',
    );
  }
  // Never echo the token itself, not even a part of it.
  if (!VISIBLE_ASCII.test(value))
    throw invalidArgument(`${field} must be visible ASCII (it is sent as a header)`);
}

/**
 * The sandbox's environment: spec.environment and template.environment as sent, and what is left
 * of both once the driver's own variables are dropped (`merged`).
 */
export function checkEnvironment(
  maps: Record<string, Record<string, string>>,
  merged: Record<string, string>,
): void {
  let total = 0;
  for (const [field, map] of Object.entries(maps)) {
    const entries = Object.entries(map);
    if (entries.length > LIMITS.envMapEntries) {
      throw tooBig(
        field,
        entries.length,
        LIMITS.envMapEntries,
        'entries',
        "the OpenShell gateway's map limit",
      );
    }
    for (const [key, value] of entries) {
      const keyBytes = bytesOf(key);
      if (keyBytes > LIMITS.envKeyBytes) {
        throw tooBig(
          `${field} name ${show(key, 40)}`,
          keyBytes,
          LIMITS.envKeyBytes,
          'bytes',
          'the OpenShell gateway',
        );
      }
      if (!ENV_NAME.test(key)) {
        throw invalidArgument(`${field}: ${show(key)} is not a variable name (^[A-Za-z_][A-Za-z0-9_]*$)`);
      }
      const valueBytes = bytesOf(value);
      if (valueBytes > LIMITS.envValueBytes) {
        throw tooBig(
          `${field}.${key}`,
          valueBytes,
          LIMITS.envValueBytes,
          'bytes',
          "the OpenShell gateway's limit",
        );
      }
      if (value.includes('\0'))
        throw invalidArgument(`${field}.${key} contains a NUL byte, which exec cannot pass`);
    }
    total += bytesOf(JSON.stringify(map));
  }
  if (total > LIMITS.envTotalBytes) {
    throw tooBig(
      Object.keys(maps).join(' and '),
      total,
      LIMITS.envTotalBytes,
      'bytes as JSON',
      'they reach the sandbox as one variable too, and Linux caps one at 128 KiB',
    );
  }
  const count = Object.keys(merged).length;
  if (count > LIMITS.envEntries) {
    throw invalidArgument(
      `the sandbox sets ${count} environment variables, over the limit of ${LIMITS.envEntries}: Substrate allows ` +
        `${MAX_ENV} per container and ateflow needs ${DRIVER_ENV_ENTRIES} of them`,
    );
  }
}

/** The main process argv. */
export function checkCommand(command: string[], field = 'sandbox.spec.command'): void {
  if (command.length > LIMITS.commandArgs) {
    throw tooBig(
      field,
      command.length,
      LIMITS.commandArgs,
      'arguments',
      "the OpenShell gateway's argv limit",
    );
  }
  command.forEach((arg, index) => {
    const size = bytesOf(arg);
    if (size > LIMITS.commandArgBytes) {
      throw tooBig(
        `${field}[${index}]`,
        size,
        LIMITS.commandArgBytes,
        'bytes',
        "the OpenShell gateway's argument limit",
      );
    }
    if (arg.includes('\0'))
      throw invalidArgument(`${field}[${index}] contains a NUL byte, which exec cannot pass`);
  });
  const total = bytesOf(JSON.stringify(command));
  if (total > LIMITS.commandTotalBytes) {
    throw tooBig(
      field,
      total,
      LIMITS.commandTotalBytes,
      'bytes as JSON',
      'it reaches the sandbox as one variable, and Linux caps one at 128 KiB',
    );
  }
}

export function checkLogLevel(value: string, field = 'sandbox.spec.log_level'): void {
  checkText(value, field, LIMITS.logLevelBytes, "the OpenShell gateway's limit");
}

/** A template string: image reference, socket path, resource quantity. */
export function checkTemplateString(value: string, field: string): void {
  checkText(value, field, LIMITS.templateStringBytes, "the OpenShell gateway's template string limit");
}

/** driver_config or platform_config (a protobuf Struct, decoded). */
export function checkConfig(value: Record<string, unknown> | undefined, field: string): void {
  if (value === undefined) return;
  let size: number;
  try {
    size = bytesOf(JSON.stringify(value));
  } catch {
    throw invalidArgument(`${field} cannot be read (nested too deeply)`);
  }
  if (size > LIMITS.configBytes) {
    throw tooBig(
      field,
      size,
      LIMITS.configBytes,
      'bytes as JSON',
      "the OpenShell gateway's template struct limit",
    );
  }
}

export function checkPolicy(policy: SandboxPolicy | undefined, field = 'sandbox.spec.policy'): void {
  if (!policy) return;
  const size = SandboxPolicy.encode(policy).finish().length;
  if (size > LIMITS.policyBytes) {
    throw tooBig(field, size, LIMITS.policyBytes, 'bytes', "the OpenShell gateway's policy limit");
  }
}

/** An idle timeout in milliseconds: 0 (never) up to a year. */
export function checkIdleTimeoutMs(ms: number, field: string): number {
  if (typeof ms !== 'number' || !(ms >= 0) || (Number.isFinite(ms) && !Number.isInteger(ms))) {
    throw invalidArgument(
      `${field} must be a whole number of milliseconds ≥ 0 (0 disables auto-suspend), got ${show(ms)}`,
    );
  }
  if (ms > LIMITS.idleTimeoutMs) {
    throw tooBig(field, ms, LIMITS.idleTimeoutMs, 'ms', 'one year; 0 disables auto-suspend');
  }
  return ms;
}

export function checkDrainParallelism(value: number, field = 'parallelism'): void {
  if (value > LIMITS.drainParallelism) {
    throw tooBig(
      field,
      value,
      LIMITS.drainParallelism,
      'migrations',
      'each holds an update open and needs a free worker',
    );
  }
}
