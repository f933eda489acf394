/**
 * The dashboard in a real headless Chromium (Debian's /usr/bin/chromium through playwright-core; no
 * browser download), on the bundled sample fleet that `startDashboard` loads into an empty store:
 * the groups show with the portal's key icon and message, moving the time slider into HR's first
 * renewal window turns the machine that was offline then (HR-04) PendingNewKey, a command's change
 * reaches the page live through the change feed, and a screenshot is kept in test-artifacts/.
 *
 * Skipped, with the reason in its name, where /usr/bin/chromium is absent (.ci/run installs it).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard } from '../../src/api/index.js';
import { getJson, postJson, ROOT } from './support/fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const SKIP_REASON = hasChromium ? '' : ` [skipped: ${CHROMIUM} is absent; install it with apt-get install chromium]`;
if (!hasChromium) console.warn(`dashboard.browser.test.ts:${SKIP_REASON}`);
export const SCREENSHOT = join(ROOT, 'test-artifacts', 'dashboard-renewal-window.png');

let dir: string;
let dashboard: Awaited<ReturnType<typeof startDashboard>>;
let browser: BrowserContext | undefined;
let userDataDir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rekey-dashboard-'));
  const lines: string[] = [];
  dashboard = await startDashboard({ db: join(dir, 'rekey.db'), port: 0, print: (line) => lines.push(line), notice: () => undefined, server: { schedulerIntervalMs: 0 } });
  expect(dashboard.loadedSample).toBe(true);
  expect(lines).toEqual([`${dashboard.url}/`]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

describe('startDashboard', () => {
  it('loads the sample fleet into an empty store once; a store with data is only served', async () => {
    const groups = (await getJson(`${dashboard.url}/api/data/v9.2/flowmachinegroups?$select=name`)).body.value.map((g: { name: string }) => g.name);
    expect(groups).toEqual(['Branch-Lyon', 'Finance', 'HR', 'Lab']);
    const machines = (await getJson(`${dashboard.url}/api/data/v9.2/flowmachines?$count=true&$top=1`)).body['@odata.count'];
    expect(machines).toBe(15);
    const missed = (await getJson(`${dashboard.url}/api/data/v9.2/flowmachines?$filter=keydeliverystatus eq 3&$select=name`)).body.value;
    expect(missed.length).toBeGreaterThan(0);
    const toFix = (await getJson(`${dashboard.url}/api/data/v9.2/desktopflowconnections?$filter=${encodeURIComponent("status eq 'Fix connection'")}`)).body.value;
    expect(toFix.length).toBeGreaterThan(0);

    const head = await dashboard.context.store.headPosition();
    const again = await startDashboard({ db: dashboard.context.store.kind === 'sqlite' ? join(dir, 'rekey.db') : '', port: 0, print: () => undefined, notice: () => undefined, server: { schedulerIntervalMs: 0 } });
    try {
      expect(again.loadedSample).toBe(false);
      expect(await again.context.store.headPosition()).toBe(head);
    } finally {
      await again.close();
    }
  });
});

describe('the dashboard in headless Chromium', () => {
  it.skipIf(!hasChromium)(`shows the groups, travels into a renewal window where HR-04 is PendingNewKey, and follows the change feed${SKIP_REASON}`, async () => {
    userDataDir = mkdtempSync(join(tmpdir(), 'rekey-chromium-'));
    // A new, empty profile directory of our own (launchPersistentContext is how playwright takes one).
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 1000 },
    });
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });

    await page.goto(`${dashboard.url}/`);
    for (const group of ['Branch-Lyon', 'Finance', 'HR', 'Lab']) await page.locator(`[data-group="${group}"]`).waitFor();
    await page.locator('#live.on').waitFor(); // the change feed is connected
    // At the head of the log HR-04 has long missed that renewal; the portal's key icon and message show.
    await page.locator('[data-group="HR"] tr[data-machine="HR-04"][data-status="KeyExpired"]').waitFor();
    expect(await page.locator('[data-group="HR"] [data-keyicon]').count()).toBe(1);
    expect(await page.locator('[data-group="HR"] [data-portal-message]').innerText()).toContain('Machine group security has been updated. Re-generate a machine group password before adding a new machine.');
    expect(await page.locator('[data-group="HR"] svg[aria-label="timeline of HR"]').count()).toBe(1);

    // HR's first renewal window, from the row's own history.
    const history = (await getJson(`${dashboard.url}/api/history/flowmachinegroups/HR`)).body;
    const started = history.changes.find((c: { event: string }) => c.event === 'RenewalStarted');
    const inWindow = Date.parse(started.occurredAt) + 60 * 86_400_000;
    const before = Date.parse(started.occurredAt) - 30 * 86_400_000;

    await page.locator('#asof-slider').fill(String(before));
    await page.locator('[data-group="HR"] tr[data-machine="HR-04"][data-status="Default"]').waitFor();
    await page.locator('#asof-slider').fill(String(inWindow));
    await page.locator('[data-group="HR"][data-renewal="Renewing"] tr[data-machine="HR-04"][data-status="PendingNewKey"]').waitFor();
    await page.waitForFunction(() => document.body.getAttribute('data-loading') === 'false');
    expect(await page.locator('#asof-mode').innerText()).toBe('time travel');
    expect(await page.locator('[data-reminders] a[href="#/machine/HR-04"]').count()).toBe(1);
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);

    // Clicking HR-04's row explains it, as of the same instant, as GET /api/explain (and rekey explain) do.
    await page.locator('[data-group="HR"] tr[data-machine="HR-04"] td').nth(1).click();
    await page.locator('#explain[data-explain="flowmachines/HR-04"][data-state="ready"]').waitFor();
    const explained = (await getJson(`${dashboard.url}/api/explain/flowmachines/HR-04?asOf=${new Date(inWindow).toISOString()}`)).body;
    expect(explained.summary).toMatch(/^HR-04 is PendingNewKey/);
    expect(await page.locator('#explain [data-summary]').innerText()).toBe(explained.summary);
    expect(await page.locator('#explain [data-formula]').innerText()).toBe(explained.deadline.formula);
    expect(explained.deadline.formula).toMatch(/^E = min\(Key Creation Date /);
    expect(await page.locator('#explain ol.chain li').count()).toBe(explained.chain.length);
    expect(await page.locator('#explain ol.chain').innerText()).toContain('RenewalStarted');
    await page.screenshot({ path: join(ROOT, 'test-artifacts', 'dashboard-explain.png') });
    // A group's "Why?" button explains the group; Escape closes the panel.
    await page.locator('[data-group="HR"] button[data-explain-group="HR"]').click();
    await page.locator('#explain[data-explain="flowmachinegroups/HR"][data-state="ready"]').waitFor();
    expect(await page.locator('#explain [data-summary]').innerText()).toMatch(/^HR is renewing/);
    await page.keyboard.press('Escape');
    expect(await page.locator('#explain').isHidden()).toBe(true);

    // The machine page, as of the same instant: its connections card and "See all connections".
    await page.locator('[data-group="HR"] a[href="#/machine/HR-04"]').click();
    await page.locator('[data-machine-page="HR-04"]').waitFor();
    await page.locator('[data-connections-card] a', { hasText: 'See all connections' }).click();
    await page.locator('[data-connections-card] tr[data-connection="Onboarding"]').waitFor();
    await page.screenshot({ path: join(ROOT, 'test-artifacts', 'dashboard-machine-page.png'), fullPage: true });

    // Back to the head of the log, live: a command's change reaches the page through the change feed.
    await page.locator('#now-btn').click();
    await page.goto(`${dashboard.url}/#/group/Finance`);
    await page.locator('[data-group="Finance"]').waitFor();
    await page.locator('#live.on').waitFor();
    const finance = await getJson(`${dashboard.url}/api/data/v9.2/flowmachinegroups(name='Finance')?$select=rekey_proactivereencryption`);
    const target = !finance.body.rekey_proactivereencryption;
    await postJson(`${dashboard.url}/api/commands/setProactiveReencryption`, { group: 'Finance', enabled: target });
    await page.locator('[data-group="Finance"] .facts', { hasText: `Proactive re-encryption${target ? 'on' : 'off'}` }).waitFor();

    expect(problems).toEqual([]);
  });
});
