// ValidateSandboxCreate / CreateSandbox input planning: what the gateway sends becomes workflow
// input, or a status the gateway passes to its user verbatim.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { DriverSandbox } from '../src/gen/compute_driver';
import { planSandbox, type PlanSettings } from '../src/driver/create-plan';
import { DriverError } from '../src/driver/errors';

const settings: PlanSettings = {
  defaultImage: 'ghcr.io/example/base:latest',
  defaultIdleTimeoutMs: 1_800_000,
  defaultKeepAliveMs: 0,
  templateNamespace: 'openshell-sandboxes',
  defaultAtespace: 'openshell',
  gatewayEndpoint: 'http://gateway.example:8080',
  limits: { transitionTimeoutMs: 120_000, capacityBudgetMs: 90_000, templateReadyTimeoutMs: 120_000 },
};
const ID = '3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e';
const PINNED = `registry.example/sbx@sha256:${'a'.repeat(64)}`;

function sandbox(overrides: {
  id?: string;
  workspace?: string;
  image?: string;
  driverConfig?: Record<string, unknown>;
  platformConfig?: Record<string, unknown>;
  cpu?: string;
  gpu?: boolean;
}): DriverSandbox {
  return DriverSandbox.fromPartial({
    id: overrides.id ?? ID,
    name: 'bright-otter',
    workspace: overrides.workspace ?? 'team-a',
    spec: {
      logLevel: 'info',
      environment: { FOO: 'spec', OPENSHELL_SANDBOX_TOKEN: 'forged' },
      command: ['/bin/bash', '-l'],
      tty: true,
      sandboxToken: '',
      resourceRequirements: overrides.gpu ? { gpu: {} } : undefined,
      template: {
        image: overrides.image ?? PINNED,
        labels: { team: 'a' },
        environment: { FOO: 'template', BAR: 'template', OPENSHELL_GATEWAY_TLS_SERVER_NAME: 'evil' },
        resources: { cpuRequest: overrides.cpu ?? '', cpuLimit: '', memoryRequest: '', memoryLimit: '' },
        driverConfig: overrides.driverConfig,
        platformConfig: overrides.platformConfig,
      },
    },
  });
}

function rejection(fn: () => unknown): { code: number; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DriverError, `expected a DriverError, got ${String(err)}`);
    return { code: err.code, message: err.message };
  }
  assert.fail('expected a rejection');
}

describe('create plan', () => {
  it('maps a gateway sandbox onto an actor and a synthesized template', () => {
    const input = planSandbox(sandbox({}), settings);
    assert.equal(input.sandboxId, ID);
    assert.equal(input.sandboxName, 'bright-otter');
    assert.equal(input.workspace, 'team-a');
    assert.deepEqual(input.actor, { atespace: 'team-a', name: ID });
    assert.equal(input.idleTimeoutMs, 1_800_000);
    assert.deepEqual(input.labels, { team: 'a' });
    assert.equal(input.template.kind, 'synthesized');
    if (input.template.kind !== 'synthesized') return;
    assert.deepEqual(input.template.ref, { namespace: 'openshell-sandboxes', name: `oshl-${ID}` });
    assert.deepEqual(input.template.spec.command, ['/bin/bash', '-l']);
    assert.equal(input.template.spec.tty, true);
    // spec environment wins over the template's; driver-only variables are stripped
    assert.deepEqual(input.template.spec.environment, { FOO: 'spec', BAR: 'template' });
    assert.equal(input.template.spec.sealedToken, '');
  });

  it('uses the default atespace for a workspace that is not a DNS-1123 label', () => {
    assert.equal(planSandbox(sandbox({ workspace: 'Team_A' }), settings).actor.atespace, 'openshell');
    assert.equal(planSandbox(sandbox({ workspace: '' }), settings).actor.atespace, 'openshell');
  });

  it('uses a named template from platform_config or its annotations', () => {
    for (const platformConfig of [
      { substrate_actor_template: 'gpu-golden' },
      { annotations: { substrate_actor_template: 'gpu-golden' } },
    ]) {
      const input = planSandbox(sandbox({ platformConfig, gpu: true, image: 'any:tag' }), settings);
      // The sandbox still gets a template of its own: the named one's spec plus its identity.
      assert.equal(input.template.kind, 'synthesized');
      if (input.template.kind !== 'synthesized') return;
      assert.deepEqual(input.template.ref, { namespace: 'openshell-sandboxes', name: `oshl-${ID}` });
      assert.deepEqual(input.template.spec.base, { namespace: 'openshell-sandboxes', name: 'gpu-golden' });
      assert.equal(input.template.spec.gatewayEndpoint, 'http://gateway.example:8080');
    }
  });

  it('reads keep_alive from driver_config, else the default', () => {
    assert.equal(
      planSandbox(sandbox({ driverConfig: { keep_alive: '10m' } }), settings).keepAliveMs,
      600_000,
    );
    assert.equal(planSandbox(sandbox({ driverConfig: { keep_alive: 45 } }), settings).keepAliveMs, 45_000);
    assert.equal(planSandbox(sandbox({}), { ...settings, defaultKeepAliveMs: 300_000 }).keepAliveMs, 300_000);
    assert.throws(
      () => planSandbox(sandbox({ driverConfig: { keep_alive: 'later' } }), settings),
      (err: DriverError) =>
        err.code === status.INVALID_ARGUMENT &&
        /driver_config.keep_alive: "later" is not a duration/.test(err.message),
    );
  });

  it('reads idle_timeout and worker_selector from driver_config', () => {
    const input = planSandbox(
      sandbox({ driverConfig: { idle_timeout: '1h30m', worker_selector: { 'ate.dev/pool': 'big' } } }),
      settings,
    );
    assert.equal(input.idleTimeoutMs, 5_400_000);
    assert.deepEqual(input.workerSelector, { 'ate.dev/pool': 'big' });
    assert.equal(planSandbox(sandbox({ driverConfig: { idle_timeout: 0 } }), settings).idleTimeoutMs, 0);
    assert.equal(
      planSandbox(sandbox({ driverConfig: { idle_timeout: 90 } }), settings).idleTimeoutMs,
      90_000,
    );
  });

  it('refuses an unpinned default image, naming the setting to change', () => {
    const err = rejection(() => planSandbox(sandbox({ image: settings.defaultImage }), settings));
    assert.equal(err.code, status.FAILED_PRECONDITION);
    assert.match(err.message, /not pinned by digest.*--from <image>@sha256:<digest>.*ATEFLOW_DEFAULT_IMAGE/);
  });

  it('refuses every create while the gateway endpoint is unknown', () => {
    const err = rejection(() => planSandbox(sandbox({}), { ...settings, gatewayEndpoint: '' }));
    assert.equal(err.code, status.FAILED_PRECONDITION);
    assert.match(err.message, /set ATEFLOW_GATEWAY_ENDPOINT/);
  });

  const rejections: [string, Parameters<typeof sandbox>[0], number, RegExp][] = [
    [
      'an id that is not a DNS-1123 label',
      { id: 'Not_A_Label' },
      status.INVALID_ARGUMENT,
      /cannot name a Substrate actor: actor names must be DNS-1123 labels/,
    ],
    ['an id longer than 63 characters', { id: 'a'.repeat(64) }, status.INVALID_ARGUMENT, /DNS-1123/],
    [
      'an image without a digest',
      { image: 'ubuntu:24.04' },
      status.FAILED_PRECONDITION,
      /"ubuntu:24.04" is not pinned by digest.*@sha256:<digest>/,
    ],
    [
      'an unknown driver_config key',
      { driverConfig: { cpus: 4 } },
      status.INVALID_ARGUMENT,
      /driver_config key "cpus" is not supported; ateflow understands idle_timeout, keep_alive and worker_selector/,
    ],
    [
      'a bad idle_timeout',
      { driverConfig: { idle_timeout: 'soon' } },
      status.INVALID_ARGUMENT,
      /driver_config.idle_timeout: "soon" is not a duration/,
    ],
    [
      'a worker_selector that is not an object',
      { driverConfig: { worker_selector: 'big' } },
      status.INVALID_ARGUMENT,
      /worker_selector must be an object/,
    ],
    [
      'a worker_selector value that is not a label',
      { driverConfig: { worker_selector: { pool: 'has space' } } },
      status.INVALID_ARGUMENT,
      /worker_selector.pool must be a label value/,
    ],
    [
      'a GPU without a named template',
      { gpu: true },
      status.FAILED_PRECONDITION,
      /asks for a GPU.*platform_config.substrate_actor_template/,
    ],
    [
      'a CPU request',
      { cpu: '2' },
      status.FAILED_PRECONDITION,
      /cpuRequest=2.*sizes sandboxes by worker pool/,
    ],
    [
      'a template name that is not a DNS-1123 subdomain',
      { platformConfig: { substrate_actor_template: 'Bad Name' } },
      status.INVALID_ARGUMENT,
      /must name an ActorTemplate/,
    ],
  ];
  for (const [what, overrides, code, message] of rejections) {
    it(`rejects ${what}`, () => {
      const err = rejection(() => planSandbox(sandbox(overrides), settings));
      assert.equal(err.code, code);
      assert.match(err.message, message);
    });
  }

  it('rejects a request without sandbox or template', () => {
    assert.equal(rejection(() => planSandbox(undefined, settings)).code, status.INVALID_ARGUMENT);
    const bare = DriverSandbox.fromPartial({ id: ID });
    assert.match(rejection(() => planSandbox(bare, settings)).message, /has no spec.template/);
  });
});
