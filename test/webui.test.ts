// The Temporal Web UI, checked as a person would: `ateflow dev`'s stack runs a short scenario,
// then headless Chromium (Debian's chromium with playwright-core; no browser download) opens
// the workflow list filtered by SandboxState and one sandbox's history with its named lifecycle
// activities and their summaries. Screenshots are kept under test-results/.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { connectFacade, type FacadeClient } from '../src/driver/client';
import type { Sandbox } from '../src/gen/ateflow';
import { unary, within } from '../src/grpc/unary';
import { gateway, gatewaySandbox } from './helpers/stack';
import { startTestDevStack, type TestDevStack } from './helpers/dev-stack';
import { skippable } from './helpers/skip';

const CHROMIUM = process.env.ATEFLOW_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = resolve(__dirname, '..', 'test-results');
const { after, before, describe, it } = skippable(
  existsSync(CHROMIUM)
    ? false
    : `no Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium) or set ATEFLOW_CHROMIUM`,
);

describe('the Temporal Web UI shows ateflow sandboxes', () => {
  let dev: TestDevStack;
  let facade: FacadeClient;
  let browser: BrowserContext;
  let page: Page;
  let profile: string;
  const running = randomUUID();
  const stopped = randomUUID();

  const waitState = async (id: string, state: string) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const s = await unary<Sandbox>((cb) =>
        facade.ops.getSandbox({ sandboxId: id }, new Metadata(), within(10_000), cb),
      );
      if (s.state === state) return s;
      assert.ok(Date.now() < deadline, `${id} is ${s.state}, not ${state}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  before(async () => {
    dev = await startTestDevStack(0.02);
    facade = connectFacade(dev.stack.driverSocket);
    const gw = gateway(facade, 20_000);
    // A short scenario: two sandboxes, one stopped, one migrated to another pool.
    await gw.create(gatewaySandbox(running, { name: 'ui-running', workspace: 'webui' }));
    await gw.create(gatewaySandbox(stopped, { name: 'ui-stopped', workspace: 'webui' }));
    await Promise.all([waitState(running, 'RUNNING'), waitState(stopped, 'RUNNING')]);
    await gw.stop(stopped);
    await unary((cb) =>
      facade.ops.migrate(
        { sandboxId: running, workerSelector: { pool: 'highmem' }, replaceSelector: true, reason: 'ui test' },
        new Metadata(),
        within(20_000),
        cb,
      ),
    );
    await waitState(stopped, 'SUSPENDED');
    // And a stop hold (quarantine) on the stopped one.
    await unary((cb) =>
      facade.ops.hold(
        { sandboxId: stopped, reason: 'ui test quarantine' },
        new Metadata(),
        within(20_000),
        cb,
      ),
    );

    mkdirSync(ARTIFACTS, { recursive: true });
    profile = mkdtempSync(join(tmpdir(), 'ateflow-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1600, height: 1300 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(20_000);
  });

  after(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    facade?.close();
    await dev?.teardown();
  });

  it('lists sandboxes filtered by SandboxState', async () => {
    const query = encodeURIComponent(`SandboxState="RUNNING"`);
    await page.goto(`${dev.stack.webUiUrl}/namespaces/default/workflows?query=${query}`);
    await page.getByText(`sandbox/${running}`).first().waitFor();
    const text = await page.locator('body').innerText();
    await page.screenshot({ path: join(ARTIFACTS, 'webui-sandboxes-running.png'), fullPage: true });
    assert.ok(!text.includes(`sandbox/${stopped}`), 'the stopped sandbox is listed under RUNNING');

    await page.goto(
      `${dev.stack.webUiUrl}/namespaces/default/workflows?query=${encodeURIComponent(`SandboxState="SUSPENDED"`)}`,
    );
    await page.getByText(`sandbox/${stopped}`).first().waitFor();
    const suspended = await page.locator('body').innerText();
    await page.screenshot({ path: join(ARTIFACTS, 'webui-sandboxes-suspended.png'), fullPage: true });
    assert.ok(!suspended.includes(`sandbox/${running}`), 'the running sandbox is listed under SUSPENDED');
  });

  it('shows held sandboxes: SandboxHold in the list, the hold on the status line', async () => {
    const query = encodeURIComponent('SandboxHold IS NOT NULL');
    await page.goto(`${dev.stack.webUiUrl}/namespaces/default/workflows?query=${query}`);
    await page.getByText(`sandbox/${stopped}`).first().waitFor();
    await showSandboxColumns(page);
    const row = await page
      .locator('tr', { hasText: `sandbox/${stopped}` })
      .first()
      .innerText();
    assert.match(row, /ui-stopped/, 'the held sandbox is listed by name');
    assert.match(row, /SUSPENDED/, 'the held sandbox is listed with its state');
    assert.match(row, /ui test quarantine/, 'the held sandbox is listed with its hold');
    const listed = await page.locator('body').innerText();
    assert.ok(!listed.includes(`sandbox/${running}`), 'the sandbox without a hold is listed as held');
    await page.screenshot({ path: join(ARTIFACTS, 'webui-sandboxes-held.png'), fullPage: true });

    await page.goto(
      `${dev.stack.webUiUrl}/namespaces/default/workflows/${encodeURIComponent(`sandbox/${stopped}`)}`,
    );
    await page.getByText('User Metadata').first().click();
    const seen = await framesTextMatching(page, /SUSPENDED, held: ui test quarantine/);
    assert.match(seen, /SUSPENDED, held: ui test quarantine/);
    assert.match(seen, /sandbox ui-stopped in webui/);
    await page.screenshot({ path: join(ARTIFACTS, 'webui-sandbox-held.png'), fullPage: true });
  });

  it("shows one sandbox's history: named lifecycle activities with readable summaries", async () => {
    await page.goto(
      `${dev.stack.webUiUrl}/namespaces/default/workflows/${encodeURIComponent(`sandbox/${running}`)}`,
    );
    for (const activity of ['applySandboxTemplate', 'createActor', 'resumeActor', 'suspendActor'])
      await page.getByText(activity).first().waitFor();
    await page.getByText(`create actor ${running}`).first().waitFor();
    await page.getByText('ui-running to migrate').first().waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'webui-sandbox-history.png'), fullPage: true });
    // Who the sandbox is: the workflow's static summary and details (User Metadata tab).
    await page.getByText('User Metadata').first().click();
    const seen = await framesTextMatching(page, /sandbox ui-running in webui[\s\S]*OpenShell sandbox/);
    assert.match(seen, /sandbox ui-running in webui/);
    assert.match(seen, /OpenShell sandbox ui-running \(id /);
    await page.screenshot({ path: join(ARTIFACTS, 'webui-sandbox-metadata.png'), fullPage: true });
  });
});

/**
 * The page's text including its frames (the UI renders summaries and details as markdown inside
 * sandboxed iframes), once it matches `pattern` or after 20 s.
 */
async function framesTextMatching(page: Page, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 20_000;
  let seen = '';
  while (Date.now() < deadline && !pattern.test(seen)) {
    const texts = await Promise.all(
      [page.mainFrame(), ...page.frames()].map((f) =>
        f
          .locator('body')
          .innerText()
          .catch(() => ''),
      ),
    );
    seen = texts.join('\n');
    if (!pattern.test(seen)) await new Promise((r) => setTimeout(r, 250));
  }
  return seen;
}

/**
 * The README's list columns for sandboxes (Configure Columns; the UI keeps them per browser):
 * name, state, hold and workspace next to the workflow id, without run id, type and end.
 */
async function showSandboxColumns(page: Page): Promise<void> {
  await page.getByTestId('workflows-summary-table-configuration-button').click();
  for (const column of ['SandboxName', 'SandboxState', 'SandboxHold', 'SandboxWorkspace'])
    await page.getByTestId(`orderable-list-item-${column}-add-button`).click();
  for (const column of ['Run ID', 'Type', 'End'])
    await page.getByTestId(`orderable-list-item-${column}-remove-button`).click();
  await page.getByTestId('drawer-close-button').click();
  await page.getByText('Configure Workflows Table').waitFor({ state: 'hidden' });
  await page.locator('th', { hasText: 'SandboxName' }).first().waitFor();
}
