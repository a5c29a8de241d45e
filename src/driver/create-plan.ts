// Turns the gateway's DriverSandbox into the sandbox workflow's input, or explains why it cannot.
// Pure: ValidateSandboxCreate runs it and discards the result; CreateSandbox runs it again and
// starts the workflow. The sandbox token is left out (CreateSandbox seals it separately).
import type { DriverSandbox, DriverSandboxSpec, DriverSandboxTemplate } from '../gen/compute_driver';
import type { SandboxInput, TemplateChoice } from '../workflows/messages';
import { parseDuration } from '../durations';
import { isDriverOwned } from '../substrate/synthesize-template';
import { failedPrecondition, invalidArgument } from './errors';
import {
  LIMITS,
  checkCommand,
  checkConfig,
  checkEnvironment,
  checkIdleTimeoutMs,
  checkLabels,
  checkLogLevel,
  checkName,
  checkPolicy,
  checkSandboxId,
  checkSelector,
  checkTemplateString,
  checkToken,
  checkWorkspace,
  isDnsLabel,
  show,
} from './limits';
import type { DriverSettings } from './settings';

export { isDnsLabel } from './limits';

export type PlanSettings = Pick<
  DriverSettings,
  | 'defaultImage'
  | 'defaultIdleTimeoutMs'
  | 'defaultKeepAliveMs'
  | 'templateNamespace'
  | 'defaultAtespace'
  | 'limits'
  | 'gatewayEndpoint'
>;

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DIGEST_PINNED = /@sha256:[0-9a-f]{64}$/;
const TEMPLATE_KEY = 'substrate_actor_template';

/** Synthesized templates are named after the sandbox so that ownership is obvious. */
export const synthesizedTemplateName = (sandboxId: string) => `oshl-${sandboxId}`;

export function planSandbox(sandbox: DriverSandbox | undefined, settings: PlanSettings): SandboxInput {
  if (!sandbox) throw invalidArgument('the request has no sandbox');
  checkLimits(sandbox);
  const id = sandbox.id;
  const template = sandbox.spec?.template;
  if (!sandbox.spec || !template) throw invalidArgument(`sandbox ${id} has no spec.template`);
  rejectUnsupportedResources(sandbox, template);

  const driverConfig = readDriverConfig(template.driverConfig);
  const atespace = isDnsLabel(sandbox.workspace) ? sandbox.workspace : settings.defaultAtespace;
  return {
    sandboxId: id,
    sandboxName: sandbox.name,
    workspace: sandbox.workspace,
    actor: { atespace, name: id },
    template: chooseTemplate(sandbox, template, settings),
    workerSelector: driverConfig.workerSelector,
    idleTimeoutMs: driverConfig.idleTimeoutMs ?? settings.defaultIdleTimeoutMs,
    keepAliveMs: driverConfig.keepAliveMs ?? settings.defaultKeepAliveMs,
    labels: { ...template.labels },
    limits: settings.limits,
  };
}

/**
 * Every field against its limit (limits.ts), before any other rule reads it: a refused request
 * never quotes a huge value back, and nothing over a limit is ever planned.
 */
function checkLimits(sandbox: DriverSandbox): void {
  checkSandboxId(sandbox.id, 'sandbox.id');
  checkName(sandbox.name, 'sandbox.name');
  checkName(sandbox.namespace, 'sandbox.namespace');
  checkWorkspace(sandbox.workspace, 'sandbox.workspace');
  const spec = sandbox.spec;
  if (!spec) return;
  checkLogLevel(spec.logLevel);
  checkToken(spec.sandboxToken);
  checkCommand(spec.command);
  checkPolicy(spec.policy);
  const template = spec.template;
  checkEnvironment(
    {
      'sandbox.spec.environment': spec.environment,
      ...(template ? { 'sandbox.spec.template.environment': template.environment } : {}),
    },
    userEnvironment(spec, template),
  );
  if (!template) return;
  checkTemplateString(template.image, 'sandbox.spec.template.image');
  checkTemplateString(template.agentSocketPath, 'sandbox.spec.template.agent_socket_path');
  for (const [key, quantity] of Object.entries(template.resources ?? {})) {
    checkTemplateString(quantity as string, `sandbox.spec.template.resources.${key}`);
  }
  checkLabels(template.labels);
  checkConfig(template.driverConfig, 'sandbox.spec.template.driver_config');
  checkConfig(template.platformConfig, 'sandbox.spec.template.platform_config');
}

/** The user's environment: spec wins over template; the driver's own variables are never taken. */
function userEnvironment(spec: DriverSandboxSpec, template: DriverSandboxTemplate | undefined) {
  return Object.fromEntries(
    Object.entries({ ...template?.environment, ...spec.environment }).filter(
      ([name]) => !isDriverOwned(name),
    ),
  );
}

/**
 * Every OpenShell sandbox gets an ActorTemplate of its own, which carries its identity (ateapi has
 * no per-actor environment): built from the image, or from the pre-provisioned template named in
 * platform_config, whose spec it copies.
 */
function chooseTemplate(
  sandbox: DriverSandbox,
  template: DriverSandboxTemplate,
  settings: PlanSettings,
): TemplateChoice {
  const spec = sandbox.spec!;
  if (!settings.gatewayEndpoint) {
    throw failedPrecondition(
      'this driver does not know where its OpenShell gateway is, so a sandbox could never connect to it: ' +
        'set ATEFLOW_GATEWAY_ENDPOINT on the driver to the gateway URL as sandboxes reach it (e.g. http://gateway.example:8080)',
    );
  }
  const named = namedTemplate(template.platformConfig);
  const environment = userEnvironment(spec, template);
  const ownTemplate = (image: string, base?: string): TemplateChoice => ({
    kind: 'synthesized',
    ref: { namespace: settings.templateNamespace, name: synthesizedTemplateName(sandbox.id) },
    spec: {
      ...(base ? { base: { namespace: settings.templateNamespace, name: base } } : {}),
      image,
      environment,
      command: [...spec.command],
      tty: spec.tty,
      logLevel: spec.logLevel,
      gatewayEndpoint: settings.gatewayEndpoint,
      sealedToken: '',
    },
  });
  // A pre-provisioned template brings its own images (and may provide GPUs).
  if (named !== undefined) return ownTemplate('', named);
  if (spec.resourceRequirements?.gpu) {
    throw failedPrecondition(
      `sandbox ${sandbox.id} asks for a GPU, which a template built from an image cannot provide: name a ` +
        `pre-provisioned GPU ActorTemplate in platform_config.${TEMPLATE_KEY}`,
    );
  }
  const image = template.image;
  if (!image) throw failedPrecondition(`sandbox ${sandbox.id} has no image`);
  if (!DIGEST_PINNED.test(image)) {
    const isDefault = image === settings.defaultImage;
    throw failedPrecondition(
      `image "${image}" is not pinned by digest: Substrate restores memory snapshots onto the exact image ` +
        `they were taken from, so pass --from <image>@sha256:<digest>` +
        (isDefault ? ` (it is this driver's default image: set ATEFLOW_DEFAULT_IMAGE to a pinned one)` : ''),
    );
  }
  return ownTemplate(image);
}

/** platform_config.substrate_actor_template, or the same key under platform_config.annotations. */
function namedTemplate(platformConfig: Record<string, unknown> | undefined): string | undefined {
  if (!platformConfig) return undefined;
  const annotations = platformConfig.annotations as Record<string, unknown> | undefined;
  const value = platformConfig[TEMPLATE_KEY] ?? annotations?.[TEMPLATE_KEY];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || value.length > LIMITS.kubernetesNameBytes || !DNS_SUBDOMAIN.test(value)) {
    throw invalidArgument(
      `platform_config.${TEMPLATE_KEY} must name an ActorTemplate (a DNS-1123 subdomain of at most ` +
        `${LIMITS.kubernetesNameBytes} characters), got ${show(value)}`,
    );
  }
  return value;
}

function rejectUnsupportedResources(sandbox: DriverSandbox, template: DriverSandboxTemplate): void {
  const resources = template.resources;
  const asked = resources ? Object.entries(resources).filter(([, quantity]) => quantity !== '') : [];
  if (asked.length > 0) {
    throw failedPrecondition(
      `sandbox ${sandbox.id} asks for ${asked.map(([k, v]) => `${k}=${v}`).join(', ')}, but Substrate sizes ` +
        `sandboxes by worker pool, not per sandbox: drop the CPU/memory request and choose a pool with ` +
        `driver_config.worker_selector`,
    );
  }
}

interface DriverConfig {
  idleTimeoutMs?: number;
  keepAliveMs?: number;
  workerSelector: Record<string, string>;
}

function readDriverConfig(config: Record<string, unknown> | undefined): DriverConfig {
  const result: DriverConfig = { workerSelector: {} };
  for (const [key, value] of Object.entries(config ?? {})) {
    switch (key) {
      case 'idle_timeout':
        result.idleTimeoutMs = readDuration(value, 'driver_config.idle_timeout');
        break;
      case 'keep_alive':
        result.keepAliveMs = readDuration(value, 'driver_config.keep_alive');
        break;
      case 'worker_selector':
        result.workerSelector = checkSelector(value, 'driver_config.worker_selector');
        break;
      default:
        throw invalidArgument(
          `driver_config key ${show(key)} is not supported; ateflow understands idle_timeout, keep_alive and worker_selector`,
        );
    }
  }
  return result;
}

/** A duration such as "30m", or a number of seconds; 0 disables (idle_timeout, keep_alive). */
function readDuration(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
    return checkIdleTimeoutMs(Math.round(value * 1000), field);
  }
  if (typeof value === 'string') {
    let ms: number;
    try {
      ms = parseDuration(value.length > 64 ? `${value.slice(0, 64)}…` : value);
    } catch (err) {
      throw invalidArgument(`${field}: ${(err as Error).message}`);
    }
    return checkIdleTimeoutMs(ms, field);
  }
  throw invalidArgument(
    `${field} must be a duration such as "30m" or a number of seconds (0 disables), got ${show(value)}`,
  );
}
