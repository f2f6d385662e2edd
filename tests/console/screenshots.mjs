// Screenshots of the web console for the documentation, made by hand (CI does not run this):
//
//   node tests/console/screenshots.mjs               (writes docs/console/<page>.png)
//   node tests/console/screenshots.mjs --out DIR     (writes them elsewhere)
//
// Starts a real `rekey serve` with its application database (harness.mjs), rotates two keys
// with migrations so that the pages have something to show, signs in in headless Chromium and
// saves each page at 1280×800: signin, keys, events, schedule, audit, reports.

import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { launchBrowser, newContext, REPO_ROOT, requireConsole, startServer, TARGETS } from './harness.mjs';
import { confirm, openPage, signIn, ui, visible } from './ui.mjs';

const outFlag = process.argv.indexOf('--out');
const out = outFlag > 0 ? resolve(process.argv[outFlag + 1]) : join(REPO_ROOT, 'docs', 'console');
mkdirSync(out, { recursive: true });

const server = await startServer();
const browser = await launchBrowser();
try {
  await requireConsole(server);
  // A rotation of DATABASE_ENCRYPTION through the API, finished before the session starts.
  const { event: earlier } = await server.api('/api/v1/key-rotation/schedule', {
    method: 'POST',
    body: { key_type: TARGETS.orders.key, force: true },
  });
  await server.waitForEvent(earlier.event_id, 'completed');

  const context = await newContext(browser, { colorScheme: 'light' });
  const page = await context.newPage();
  const shot = async (name) => {
    // Charts and badges settle; no spinner in the picture.
    await page.waitForFunction(() => !document.querySelector('.loading'), null, { timeout: 15_000 }).catch(() => {});
    await page.evaluate(() => document.activeElement?.blur?.());
    // The "Done: …" of the last action is not part of the page.
    const dismiss = page.getByTestId('live').getByRole('button', { name: 'Dismiss message' });
    if (await dismiss.isVisible()) await dismiss.click();
    const path = join(out, `${name}.png`);
    await page.screenshot({ path });
    console.log(`saved ${path}`);
  };

  await page.goto(server.uiUrl);
  await visible(ui.tokenInput(page));
  await shot('signin');

  await signIn(page, server, server.adminToken);
  // TOKEN_ENCRYPTION rotated from the Keys page, as an operator does, and followed to its end.
  await ui.rotateButton(page, TARGETS.users.key).click();
  const answered = page.waitForResponse((r) => r.url().endsWith('/api/v1/key-rotation/schedule') && r.request().method() === 'POST');
  await confirm(page);
  const { event } = await (await answered).json();
  await server.waitForEvent(event.event_id, 'completed');

  await openPage(page, 'keys');
  await shot('keys');
  await openPage(page, 'events');
  await visible(ui.eventRow(page, event.event_id));
  await shot('events');
  await openPage(page, 'schedule');
  await shot('schedule');
  await openPage(page, 'audit');
  await ui.auditVerify(page).click();
  await visible(ui.auditVerifyResult(page));
  await shot('audit');
  await openPage(page, 'reports');
  await ui.reportKind(page).selectOption('post_rotation');
  await page.getByTestId('report-generate').click();
  await visible(page.getByTestId('report-view'));
  await shot('reports');
  await context.close();
} finally {
  await browser.close();
  await server.stop();
}
