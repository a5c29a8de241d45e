// Builds the per-sandbox ActorTemplate (architecture §6, compute-driver reference §6.2).
//
// ateapi has no per-actor environment and ActorTemplate specs are immutable, so a sandbox's
// identity (id, name, gateway endpoint, token, main process) can only live in a template of its
// own: `oshl-<sandbox id>`, built either from an image or from a pre-provisioned template named in
// platform_config (its spec copied, the identity added). The identity variables are driver-owned:
// they win over the user's environment, which can never set them.
//
// The main container runs the supervisor through a small entry script (ENTRY_SCRIPT) that
//   - waits while /run/ate/actor-id names another actor: Substrate's template controller boots
//     every new template once as a "golden actor" (atespace ate-golden, a random id) to take a
//     snapshot; that copy must not register with the gateway as this sandbox;
//   - moves the token from the environment into a 0600 file (OPENSHELL_SANDBOX_TOKEN_FILE), so the
//     raw bearer is not in the supervisor's environment or its children's.
import { createHash } from 'node:crypto';
import type { SynthesizedTemplateSpec, TemplateRef } from '../workflows/messages';
import { OWNER_ANNOTATION, type ActorTemplate, type ActorTemplateSpec, type EnvVar } from './template-store';

export interface SynthesisSettings {
  pauseImage: string;
  snapshotLocation: string;
  /** OPENSHELL_ENDPOINT for specs that carry none (recorded before the facade chose it). */
  gatewayEndpoint: string;
  /** The supervisor binary inside the sandbox image (the simulator runs it from the host). */
  supervisorPath: string;
}

export interface SandboxIdentity {
  sandboxId: string;
  sandboxName: string;
}

/** Where the supervisor's embedded SSH daemon listens (OpenShell's container default). */
export const SSH_SOCKET_PATH = '/run/openshell/ssh.sock';
export const TOKEN_FILE = '/run/openshell/sandbox.jwt';
export const TOKEN_SECRET_KEY = 'sandbox.jwt';
export const ownerOf = (sandboxId: string) => `sandbox/${sandboxId}`;

/**
 * The token's Secret is named after its content: a re-created sandbox (same id, new token) gets a
 * new Secret, so Substrate's ~30 s Secret cache can never hand it the previous token.
 */
export function tokenSecretRef(template: TemplateRef, token: string): TemplateRef {
  const digest = createHash('sha256').update(token).digest('hex').slice(0, 12);
  return { namespace: template.namespace, name: `${template.name}-token-${digest}` };
}

/** Upstream allows at most 32 env entries per container. */
export const MAX_ENV = 32;
/** Entries the driver adds itself (identity, main process, log level, user env, token). */
export const DRIVER_ENV_ENTRIES = 8;

/** Variables the driver owns; a user value for any of them is dropped. */
const RESERVED_ENV = /^(OPENSHELL_SANDBOX_TOKEN.*|OPENSHELL_GATEWAY_TLS_SERVER_NAME)$/;
const IDENTITY_ENV = new Set([
  'OPENSHELL_SANDBOX_ID',
  'OPENSHELL_SANDBOX',
  'OPENSHELL_ENDPOINT',
  'OPENSHELL_SSH_SOCKET_PATH',
  'OPENSHELL_MAIN_PROCESS_SPEC',
  'OPENSHELL_LOG_LEVEL',
  'OPENSHELL_USER_ENVIRONMENT',
]);
/** True for a variable only the driver may set: a user value could impersonate another sandbox. */
export const isDriverOwned = (name: string) => RESERVED_ENV.test(name) || IDENTITY_ENV.has(name);

export const ENTRY_SCRIPT = [
  'while id=$(cat /run/ate/actor-id 2>/dev/null) && [ "$id" != "$OPENSHELL_SANDBOX_ID" ]; do sleep 0.2; done',
  'umask 077; mkdir -p /run/openshell',
  'if [ -n "$OPENSHELL_SANDBOX_TOKEN" ]; then',
  `  printf %s "$OPENSHELL_SANDBOX_TOKEN" > ${TOKEN_FILE}; export OPENSHELL_SANDBOX_TOKEN_FILE=${TOKEN_FILE}`,
  'fi',
  'unset OPENSHELL_SANDBOX_TOKEN',
  'exec "$@"',
].join('\n');

/** The entry script in front of `command` (argv after `sh -c script $0`). */
export const entryCommand = (command: string[]) => [
  '/bin/sh',
  '-c',
  ENTRY_SCRIPT,
  'ateflow-entry',
  ...command,
];

/**
 * The sandbox's own template. `base` is the pre-provisioned template named in platform_config
 * (read by the caller), or undefined to build one from `spec.image`. `tokenSecret` is the Secret
 * holding the token, if there is one.
 */
export function synthesizeTemplate(
  ref: TemplateRef,
  identity: SandboxIdentity,
  spec: SynthesizedTemplateSpec,
  settings: SynthesisSettings,
  base: ActorTemplate | undefined,
  tokenSecret: TemplateRef | undefined,
): ActorTemplate {
  const gatewayEndpoint = spec.gatewayEndpoint || settings.gatewayEndpoint;
  if (!gatewayEndpoint) {
    throw new Error(
      'ATEFLOW_GATEWAY_ENDPOINT is not set, so the sandbox could not reach the OpenShell gateway: ' +
        'set it to the gateway address as sandboxes see it (e.g. http://gateway.example:8080)',
    );
  }
  const driverOwned: Record<string, string> = {
    OPENSHELL_SANDBOX_ID: identity.sandboxId,
    OPENSHELL_SANDBOX: identity.sandboxName,
    OPENSHELL_ENDPOINT: gatewayEndpoint,
    OPENSHELL_SSH_SOCKET_PATH: SSH_SOCKET_PATH,
    OPENSHELL_MAIN_PROCESS_SPEC: JSON.stringify({ version: 1, command: spec.command, tty: spec.tty }),
    OPENSHELL_LOG_LEVEL: spec.logLevel || 'warn',
    OPENSHELL_USER_ENVIRONMENT: JSON.stringify(spec.environment),
  };
  const [main, ...sidecars] = base?.spec.containers ?? [{ name: 'supervisor', image: spec.image }];
  if (!main) throw new Error(`ActorTemplate ${base?.metadata.name} has no containers`);
  const isUserVariable = (name: string) => !isDriverOwned(name);
  // The base template's own variables, then the sandbox's (spec wins), then the driver's.
  const fromBase = (main.env ?? []).filter((e) => isUserVariable(e.name));
  const user = {
    ...Object.fromEntries(fromBase.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!])),
    ...Object.fromEntries(Object.entries(spec.environment).filter(([name]) => isUserVariable(name))),
  };
  const env: EnvVar[] = [
    ...Object.entries({ ...user, ...driverOwned })
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, value]) => ({ name, value })),
    ...fromBase.filter((e) => e.valueFrom && !(e.name in user)),
  ];
  if (tokenSecret) {
    env.push({
      name: 'OPENSHELL_SANDBOX_TOKEN',
      valueFrom: { secretKeyRef: { name: tokenSecret.name, key: TOKEN_SECRET_KEY } },
    });
  }
  if (env.length > MAX_ENV) {
    throw new Error(
      `the sandbox needs ${env.length} environment variables, Substrate allows ${MAX_ENV} per container ` +
        `(ateflow uses ${DRIVER_ENV_ENTRIES} of them): pass fewer`,
    );
  }
  let templateSpec: ActorTemplateSpec;
  if (base) {
    // A base template without a command starts its image's entrypoint, which cannot be wrapped.
    const command = main.command?.length ? entryCommand(main.command) : undefined;
    templateSpec = { ...structuredClone(base.spec), containers: [{ ...main, env, command }, ...sidecars] };
  } else {
    templateSpec = {
      pauseImage: settings.pauseImage,
      containers: [
        { name: 'supervisor', image: spec.image, command: entryCommand([settings.supervisorPath]), env },
      ],
      // Placement stays on the actor (CreateActor/UpdateActor selectors), which can change later;
      // a template selector would be immutable.
      snapshotsConfig: { location: settings.snapshotLocation },
    };
  }
  return {
    apiVersion: 'ate.dev/v1alpha1',
    kind: 'ActorTemplate',
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'ateflow' },
      annotations: {
        [OWNER_ANNOTATION]: ownerOf(identity.sandboxId),
        ...(base ? { 'ateflow.dev/base-template': `${base.metadata.namespace}/${base.metadata.name}` } : {}),
      },
    },
    spec: templateSpec,
  };
}
