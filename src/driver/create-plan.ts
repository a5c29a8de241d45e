// Turns the gateway's DriverSandbox into the sandbox workflow's input, or explains why it cannot.
// Pure: ValidateSandboxCreate runs it and discards the result; CreateSandbox runs it again and
// starts the workflow. The sandbox token is left out (CreateSandbox seals it separately).
import type { DriverSandbox, DriverSandboxTemplate } from '../gen/compute_driver';
import type { SandboxInput, TemplateChoice } from '../workflows/messages';
import { parseDuration } from '../durations';
import { DRIVER_ENV_ENTRIES, MAX_ENV, isDriverOwned } from '../substrate/synthesize-template';
import { failedPrecondition, invalidArgument } from './errors';
import type { DriverSettings } from './settings';

export type PlanSettings = Pick<
  DriverSettings,
  | 'defaultImage'
  | 'defaultIdleTimeoutMs'
  | 'templateNamespace'
  | 'defaultAtespace'
  | 'limits'
  | 'gatewayEndpoint'
>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Kubernetes label keys (optional DNS prefix) and values, which worker selectors match. */
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
const DIGEST_PINNED = /@sha256:[0-9a-f]{64}$/;
const TEMPLATE_KEY = 'substrate_actor_template';

export const isDnsLabel = (text: string) => text.length <= 63 && DNS_LABEL.test(text);

/** Synthesized templates are named after the sandbox so that ownership is obvious. */
export const synthesizedTemplateName = (sandboxId: string) => `oshl-${sandboxId}`;

export function planSandbox(sandbox: DriverSandbox | undefined, settings: PlanSettings): SandboxInput {
  if (!sandbox) throw invalidArgument('the request has no sandbox');
  const id = sandbox.id;
  if (!id) throw invalidArgument('sandbox id is empty');
  if (!isDnsLabel(id)) {
    throw invalidArgument(
      `sandbox id "${id}" cannot name a Substrate actor: actor names must be DNS-1123 labels ` +
        `(lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)`,
    );
  }
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
    labels: { ...template.labels },
    limits: settings.limits,
  };
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
  // Spec wins over template; the driver's own variables are never taken from the user.
  const environment = Object.fromEntries(
    Object.entries({ ...template.environment, ...spec.environment }).filter(([name]) => !isDriverOwned(name)),
  );
  const allowed = MAX_ENV - DRIVER_ENV_ENTRIES;
  if (Object.keys(environment).length > allowed) {
    throw invalidArgument(
      `sandbox ${sandbox.id} sets ${Object.keys(environment).length} environment variables; Substrate allows ` +
        `${MAX_ENV} per container and ateflow needs ${DRIVER_ENV_ENTRIES} of them, so pass at most ${allowed}`,
    );
  }
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
  if (typeof value !== 'string' || value.length > 253 || !DNS_SUBDOMAIN.test(value)) {
    throw invalidArgument(
      `platform_config.${TEMPLATE_KEY} must name an ActorTemplate (a DNS-1123 subdomain), got ${JSON.stringify(value)}`,
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
  workerSelector: Record<string, string>;
}

function readDriverConfig(config: Record<string, unknown> | undefined): DriverConfig {
  const result: DriverConfig = { workerSelector: {} };
  for (const [key, value] of Object.entries(config ?? {})) {
    switch (key) {
      case 'idle_timeout':
        result.idleTimeoutMs = readIdleTimeout(value);
        break;
      case 'worker_selector':
        result.workerSelector = readSelector(value);
        break;
      default:
        throw invalidArgument(
          `driver_config key "${key}" is not supported; ateflow understands idle_timeout and worker_selector`,
        );
    }
  }
  return result;
}

function readIdleTimeout(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value * 1000);
  if (typeof value === 'string') {
    try {
      return parseDuration(value);
    } catch (err) {
      throw invalidArgument(`driver_config.idle_timeout: ${(err as Error).message}`);
    }
  }
  throw invalidArgument(
    `driver_config.idle_timeout must be a duration such as "30m" or a number of seconds (0 disables), got ${JSON.stringify(value)}`,
  );
}

export function readSelector(
  value: unknown,
  field = 'driver_config.worker_selector',
): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(`${field} must be an object of label → value, got ${JSON.stringify(value)}`);
  }
  const selector: Record<string, string> = {};
  for (const [key, label] of Object.entries(value)) {
    const name = key.includes('/') ? key.slice(key.lastIndexOf('/') + 1) : key;
    const prefix = key.includes('/') ? key.slice(0, key.lastIndexOf('/')) : '';
    const keyOk =
      name !== '' && name.length <= 63 && LABEL_NAME.test(name) && (!prefix || DNS_SUBDOMAIN.test(prefix));
    if (!keyOk) throw invalidArgument(`${field}: "${key}" is not a valid label key`);
    if (typeof label !== 'string' || label.length > 63 || !LABEL_NAME.test(label)) {
      throw invalidArgument(
        `${field}.${key} must be a label value (string, at most 63 characters), got ${JSON.stringify(label)}`,
      );
    }
    selector[key] = label;
  }
  return selector;
}
