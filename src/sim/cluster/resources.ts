// The Kubernetes objects the simulated cluster is made of, in the shape of the real CRDs
// (ate.dev/v1alpha1 ActorTemplate, WorkerPool, SandboxConfig) plus core Nodes and Secrets.
// Parsing applies the CRD defaults and validation rules, and reports problems the way the
// Kubernetes API does: `<Kind>.ate.dev "<name>" is invalid: <field>: <reason>`.
import { z } from 'zod';

export const ATE_API_VERSION = 'ate.dev/v1alpha1';

const labels = z.record(z.string(), z.string());
const dnsLabel = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a lowercase RFC 1123 label');
const dnsSubdomain = z
  .string()
  .max(253)
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    'must be a lowercase RFC 1123 subdomain',
  );
const pinnedImage = z.string().min(1).includes('@', { message: 'must be pinned by digest (contain "@")' });
const sandboxClass = z.enum(['gvisor', 'microvm']).default('gvisor');

const metadata = z.object({
  name: dnsSubdomain,
  namespace: dnsLabel.default('default'),
  labels: labels.optional(),
  annotations: labels.optional(),
  uid: z.string().optional(),
  creationTimestamp: z.string().optional(),
  generation: z.number().optional(),
  resourceVersion: z.string().optional(),
});
const clusterMetadata = metadata.omit({ namespace: true });

const labelSelector = z.object({
  matchLabels: labels.optional(),
  matchExpressions: z
    .array(
      z.object({
        key: z.string().min(1),
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});

const envVar = z
  .object({
    name: z.string().regex(/^[\x20-\x3c\x3e-\x7e]+$/, 'must be printable ASCII without "="'),
    value: z.string().optional(),
    valueFrom: z
      .object({
        secretKeyRef: z.object({
          name: dnsSubdomain,
          key: z.string().regex(/^[-._a-zA-Z0-9]+$/),
          optional: z.boolean().optional(),
        }),
      })
      .optional(),
  })
  .refine((e) => (e.value === undefined) !== (e.valueFrom === undefined), {
    message: 'exactly one of value or valueFrom must be set',
  });

const container = z.object({
  name: dnsLabel,
  image: pinnedImage,
  command: z.array(z.string()).max(64).optional(),
  env: z.array(envVar).max(32).optional(),
  readyz: z
    .object({
      httpGet: z.object({
        path: z.string().max(1024).startsWith('/').default('/readyz'),
        port: z.number().int().min(1).max(65535),
      }),
    })
    .optional(),
  volumeMounts: z
    .array(z.object({ name: dnsLabel, mountPath: z.string().startsWith('/') }))
    .max(32)
    .optional(),
});

const snapshotScope = z.enum(['Full', 'Data']).default('Full');

export const actorTemplateSpecSchema = z
  .object({
    pauseImage: pinnedImage,
    containers: z.array(container).max(10).optional(),
    snapshotsConfig: z
      .object({ location: z.string().min(1), onPause: snapshotScope, onCommit: snapshotScope })
      .refine((s) => s.onPause === 'Full' || s.onCommit === 'Data', {
        message: 'onCommit must be a subset of onPause',
      }),
    sandboxClass,
    workerSelector: labelSelector.optional(),
    volumes: z
      .array(z.object({ name: dnsLabel, durableDir: z.object({}).optional() }))
      .max(32)
      .optional(),
  })
  .superRefine((spec, ctx) => {
    const durable = (spec.volumes ?? []).filter((v) => v.durableDir);
    if (durable.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['volumes'],
        message: 'at most one durableDir volume is allowed',
      });
    }
    if (durable.length > 0 && spec.sandboxClass === 'microvm') {
      ctx.addIssue({
        code: 'custom',
        path: ['volumes'],
        message: 'durableDir is not supported with microvm',
      });
    }
  });

const condition = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
  observedGeneration: z.number().optional(),
});

export const templatePhases = ['', 'ResumeGoldenActor', 'WaitGoldenActor', 'Ready', 'Failed'] as const;
export type TemplatePhase = (typeof templatePhases)[number];

const actorTemplateStatus = z.object({
  phase: z.enum(templatePhases).optional(),
  goldenActorID: z.string().optional(),
  takeGoldenSnapshotAt: z.string().optional(),
  goldenSnapshot: z.string().optional(),
  conditions: z.array(condition).optional(),
});

export const actorTemplateSchema = z.object({
  apiVersion: z.literal(ATE_API_VERSION).default(ATE_API_VERSION),
  kind: z.literal('ActorTemplate').default('ActorTemplate'),
  metadata,
  spec: actorTemplateSpecSchema,
  status: actorTemplateStatus.optional(),
});

export const workerPoolSchema = z.object({
  apiVersion: z.literal(ATE_API_VERSION).default(ATE_API_VERSION),
  kind: z.literal('WorkerPool').default('WorkerPool'),
  metadata,
  spec: z.object({
    replicas: z.number().int().min(0),
    ateomImage: z.string().min(1).default('ko://github.com/agent-substrate/substrate/cmd/ateom-gvisor'),
    sandboxClass,
    sandboxConfigName: z.string().optional(),
    template: z.object({ nodeSelector: labels.optional() }).optional(),
  }),
});

export const sandboxConfigSchema = z.object({
  apiVersion: z.literal(ATE_API_VERSION).default(ATE_API_VERSION),
  kind: z.literal('SandboxConfig').default('SandboxConfig'),
  metadata: clusterMetadata,
  spec: z.object({
    sandboxClass,
    default: z.boolean().default(false),
    assets: z
      .record(z.string(), z.record(z.string(), z.object({ url: z.string(), sha256: z.string() })))
      .optional(),
  }),
});

export const nodeSchema = z.object({
  apiVersion: z.literal('v1').default('v1'),
  kind: z.literal('Node').default('Node'),
  metadata: clusterMetadata,
});

export const secretSchema = z.object({
  apiVersion: z.literal('v1').default('v1'),
  kind: z.literal('Secret').default('Secret'),
  metadata,
  data: labels.optional(),
  stringData: labels.optional(),
});

export type ActorTemplate = z.infer<typeof actorTemplateSchema>;
export type ActorTemplateSpec = z.infer<typeof actorTemplateSpecSchema>;
export type ActorTemplateStatus = NonNullable<ActorTemplate['status']>;
export type LabelSelector = z.infer<typeof labelSelector>;
export type WorkerPool = z.infer<typeof workerPoolSchema>;
export type SandboxConfig = z.infer<typeof sandboxConfigSchema>;
export type Node = z.infer<typeof nodeSchema>;
export type Secret = z.infer<typeof secretSchema>;

/** A Kubernetes-style "is invalid" error for an object that failed validation. */
export class InvalidObjectError extends Error {
  constructor(kind: string, name: string, problems: string[]) {
    super(`${kind} "${name || '<unnamed>'}" is invalid: ${problems.join(', ')}`);
    this.name = 'InvalidObjectError';
  }
}

const GROUPS: Record<string, string> = {
  ActorTemplate: 'ActorTemplate.ate.dev',
  WorkerPool: 'WorkerPool.ate.dev',
  SandboxConfig: 'SandboxConfig.ate.dev',
  Node: 'Node',
  Secret: 'Secret',
};

/** Parses `raw` with `schema`, throwing InvalidObjectError with field paths on failure. */
export function parseObject<S extends z.ZodType>(schema: S, kind: string, raw: unknown): z.infer<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const name = (raw as { metadata?: { name?: unknown } } | undefined)?.metadata?.name;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
    return `${path.replace(/^\./, '') || '<root>'}: ${issue.message}`;
  });
  throw new InvalidObjectError(GROUPS[kind] ?? kind, typeof name === 'string' ? name : '', problems);
}

/** Whether a full metav1.LabelSelector matches `labels` (nil/empty selects everything). */
export function labelSelectorMatches(
  selector: LabelSelector | undefined,
  target: Record<string, string>,
): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (target[key] !== value) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(target, req.key);
    const value = target[req.key];
    const values = req.values ?? [];
    if (req.operator === 'In' && !(has && values.includes(value))) return false;
    if (req.operator === 'NotIn' && has && values.includes(value)) return false;
    if (req.operator === 'Exists' && !has) return false;
    if (req.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}
