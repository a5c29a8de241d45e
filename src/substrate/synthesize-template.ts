// Builds the per-sandbox ActorTemplate (architecture §6, compute-driver reference §6): the
// OpenShell identity environment is driver-owned and wins over user values; the raw token stays
// out of the spec (a Secret reference instead).
import type { SynthesizedTemplateSpec, TemplateRef } from '../workflows/messages';
import { OWNER_ANNOTATION, type ActorTemplate, type EnvVar } from './template-store';

export interface SynthesisSettings {
  pauseImage: string;
  snapshotLocation: string;
  /** OPENSHELL_ENDPOINT as seen from inside the sandbox; empty leaves it unset. */
  gatewayEndpoint: string;
}

export interface SandboxIdentity {
  sandboxId: string;
  sandboxName: string;
}

export const TOKEN_SECRET_KEY = 'sandbox.jwt';
export const tokenSecretRef = (template: TemplateRef): TemplateRef => ({
  namespace: template.namespace,
  name: `${template.name}-token`,
});
export const ownerOf = (sandboxId: string) => `sandbox/${sandboxId}`;

/** Upstream allows at most 32 env entries per container. */
export const MAX_ENV = 32;

export function synthesizeTemplate(
  ref: TemplateRef,
  identity: SandboxIdentity,
  spec: SynthesizedTemplateSpec,
  settings: SynthesisSettings,
): ActorTemplate {
  const driverOwned: Record<string, string> = {
    OPENSHELL_SANDBOX_ID: identity.sandboxId,
    OPENSHELL_SANDBOX: identity.sandboxName,
    OPENSHELL_MAIN_PROCESS_SPEC: JSON.stringify({ version: 1, command: spec.command, tty: spec.tty }),
    OPENSHELL_LOG_LEVEL: spec.logLevel || 'warn',
    OPENSHELL_USER_ENVIRONMENT: JSON.stringify(spec.environment),
  };
  if (settings.gatewayEndpoint) driverOwned.OPENSHELL_ENDPOINT = settings.gatewayEndpoint;
  const env: EnvVar[] = Object.entries({ ...spec.environment, ...driverOwned })
    .filter(([name]) => name !== 'OPENSHELL_SANDBOX_TOKEN' && name !== 'OPENSHELL_GATEWAY_TLS_SERVER_NAME')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, value }));
  if (spec.sealedToken) {
    env.push({
      name: 'OPENSHELL_SANDBOX_TOKEN',
      valueFrom: { secretKeyRef: { name: tokenSecretRef(ref).name, key: TOKEN_SECRET_KEY } },
    });
  }
  if (env.length > MAX_ENV) {
    throw new Error(`the sandbox needs ${env.length} environment variables; Substrate allows ${MAX_ENV}`);
  }
  return {
    apiVersion: 'ate.dev/v1alpha1',
    kind: 'ActorTemplate',
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'ateflow' },
      annotations: { [OWNER_ANNOTATION]: ownerOf(identity.sandboxId) },
    },
    spec: {
      pauseImage: settings.pauseImage,
      containers: [{ name: 'supervisor', image: spec.image, env }],
      // Placement stays on the actor (CreateActor/UpdateActor selectors), which can change later;
      // a template selector would be immutable.
      snapshotsConfig: { location: settings.snapshotLocation },
    },
  };
}
