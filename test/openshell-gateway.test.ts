// The real, unmodified OpenShell gateway (2f7fb655) and CLI driving ateflow's facade over its Unix
// socket: the gateway connects to it as its external compute driver, the CLI lists through it,
// the driver's refusal of an unpinned image reaches the user verbatim, and a gateway restart on
// the same state comes back. Skips only when the binaries are absent (scripts/openshell.sh).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpenShellBinaries } from '../src/openshell/binaries';
import { errorText, runOpenShell } from '../src/openshell/cli';
import { startGateway, type RunningGateway } from '../src/openshell/gateway';
import { openShellSkip, requireOpenShell } from './helpers/openshell';
import { skippable } from './helpers/skip';
import { startFacadeStack, type FacadeStack } from './helpers/stack';

const { after, before, describe, it } = skippable(openShellSkip);

describe('the real OpenShell gateway over the facade', () => {
  let bins: OpenShellBinaries;
  let facade: FacadeStack;
  let gw: RunningGateway;
  const stateDir = mkdtempSync(join(tmpdir(), 'ateflow-gateway-'));
  const cli = (...args: string[]) => runOpenShell(bins.cli, gw.cliEnv, args, { timeoutMs: 30_000 });
  const connectedLines = () =>
    gw
      .log()
      .split('\n')
      .filter((l) => l.includes('Compute driver connected'));

  before(async () => {
    bins = requireOpenShell();
    facade = await startFacadeStack();
    const started = Date.now();
    gw = await startGateway({ stateDir, driverSocket: facade.settings.socketPath, binary: bins.gateway });
    console.log(`gateway listening on ${gw.endpoint} after ${Date.now() - started} ms`);
  });
  after(async () => {
    await gw?.stop();
    await facade?.teardown();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('connects to the facade as its external compute driver', () => {
    const lines = connectedLines();
    assert.equal(lines.length, 1, gw.log());
    assert.match(lines[0], /configured_driver=ateflow advertised_driver=ateflow in_tree=false/);
  });

  it('`openshell sandbox list` works', async () => {
    const r = await cli('sandbox', 'list');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /No sandboxes found/);
  });

  it("shows the driver's refusal of an unpinned image to the user", async () => {
    const r = await cli('sandbox', 'create', '--name', 'x', '--from', 'busybox:latest', '--', 'sleep', '1');
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    const message = errorText(r.stderr);
    assert.match(message, /FAILED_PRECONDITION|not in a state required/); // tonic's text for code 9
    assert.match(message, /image \\?"busybox:latest\\?" is not pinned by digest/);
    assert.match(message, /--from <image>@sha256:<digest>/);
    const names = await cli('sandbox', 'list', '--names');
    assert.equal(names.code, 0, names.stderr);
    assert.doesNotMatch(names.stdout, /^x$/m);
  });

  it('comes back after a restart on the same port and state', async () => {
    const before = gw.pid;
    const started = Date.now();
    await gw.restart();
    console.log(`gateway restarted in ${Date.now() - started} ms`);
    assert.notEqual(gw.pid, before);
    assert.equal(connectedLines().length, 2);
    const r = await cli('sandbox', 'list');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /No sandboxes found/);
  });
});
