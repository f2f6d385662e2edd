// The operator's work in the console against one server and its application database: a forced
// rotation from the Keys page watched to `completed`, a failed migration retried from the
// Events page, the audit chain verified, and the quarterly report downloaded in each format.

import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';

import { launchBrowser, newContext, requireConsole, RUNBOOK_KEYS, sqlite, startServer, TARGETS } from './harness.mjs';
import { assert, confirm, eventually, openPage, signIn, text, ui, visible } from './ui.mjs';

/** "1,234" → 1234. */
const int = (s) => Number(String(s).replace(/[,\s\u202f\u00a0]/g, ''));

describe('the console: rotation, retry, audit and reports', () => {
  let server;
  let browser;
  let context;
  let page;

  before(async () => {
    server = await startServer();
    await requireConsole(server);
    browser = await launchBrowser();
    context = await newContext(browser);
    page = await context.newPage();
    await signIn(page, server, server.adminToken);
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await server?.stop();
  });

  test('a forced rotation from the Keys page (confirmed) migrates the target, its progress shown live to completed', async (t0) => {
    const t = TARGETS.users;
    assert.deepEqual(server.versionsIn(t), { v1: t.rows });
    await openPage(page, 'keys');
    await visible(ui.keyRow(page, t.key));

    // Cancelling the confirmation rotates nothing.
    await ui.rotateButton(page, t.key).click();
    await visible(ui.confirmDialog(page));
    await page.keyboard.press('Escape');
    await ui.confirmDialog(page).waitFor({ state: 'hidden' });
    const status = await server.api('/api/v1/key-rotation/status');
    assert.equal(status.keys.find((k) => k.key_type === t.key).primary_version, 1, 'a cancelled rotation changes nothing');

    // A marker that a reload would lose: the progress must come without one.
    await page.evaluate(() => {
      window.__consoleTestNoReload = 'still here';
    });
    await ui.rotateButton(page, t.key).click();
    await visible(ui.confirmDialog(page));
    const answered = page.waitForResponse(
      (r) => r.url().endsWith('/api/v1/key-rotation/schedule') && r.request().method() === 'POST',
    );
    await confirm(page);
    const response = await answered;
    assert.equal(response.status(), 200, `POST /schedule answered ${response.status()}`);
    const request = JSON.parse(response.request().postData());
    assert.deepEqual(request, { key_type: t.key, force: true }, 'the console forces the rotation of that key');
    const { event } = await response.json();
    assert.ok(event?.event_id, 'the rotation started an event');

    // Follow the event where the console shows it: it opens the event's page itself, else the
    // Events page lists it.
    await visible(ui.eventRow(page, event.event_id), 5000).catch(() => openPage(page, 'events'));
    await visible(ui.eventRow(page, event.event_id));
    const statuses = [];
    const progresses = [];
    const etas = [];
    const end = Date.now() + 60_000;
    for (;;) {
      const s = await text(ui.eventStatus(page, event.event_id)).catch(() => '');
      const p = await text(ui.eventProgress(page, event.event_id)).catch(() => '');
      if (s && s !== statuses.at(-1)) statuses.push(s);
      if (p && p !== progresses.at(-1)) progresses.push(p);
      const eta = await text(ui.eventRow(page, event.event_id).getByTestId('event-eta')).catch(() => '');
      if (eta && eta !== etas.at(-1)) etas.push(eta);
      if (/completed/i.test(s) && /(\d[\d,]*)\s*\/\s*(\d[\d,]*)/.test(p) && p.includes(String(t.rows))) {
        const [, done, total] = /(\d[\d,]*)\s*\/\s*(\d[\d,]*)/.exec(p);
        if (int(done) === t.rows && int(total) === t.rows) break;
      }
      assert.ok(Date.now() < end, `the event reaches completed with ${t.rows} / ${t.rows} shown; statuses seen ${JSON.stringify(statuses)}, progress ${JSON.stringify(progresses)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(
      statuses.some((s) => /pending|in.progress/i.test(s)),
      `the status was seen before completion (pending or in progress), then changed: ${JSON.stringify(statuses)}`,
    );
    t0.diagnostic(`statuses seen: ${statuses.join(' → ')}; progress seen: ${progresses.join(' → ')}; time left seen: ${etas.join(' → ')}`);
    for (const p of progresses) {
      const m = /(\d[\d,]*)\s*\/\s*(\d[\d,]*)/.exec(p);
      if (!m) continue;
      assert.ok(int(m[1]) <= int(m[2]) && int(m[2]) > 0 && int(m[2]) <= t.rows, `a sensible done / total (of ${t.rows} rows): ${p}`);
    }
    assert.ok(progresses.length >= 2, `the records done/total were seen changing: ${JSON.stringify(progresses)}`);
    assert.equal(
      await page.evaluate(() => window.__consoleTestNoReload),
      'still here',
      'the progress came without a reload',
    );
    const done = await server.waitForEvent(event.event_id, 'completed');
    assert.equal(done.totals.migrated, t.rows);
    assert.deepEqual(server.versionsIn(t), { v2: t.rows }, 'every row of the application table is on version 2');
    // The Keys page shows the new primary version.
    await openPage(page, 'keys');
    await eventually(async () => assert.equal(await text(ui.keyPrimary(page, t.key)), 'v2'));
  });

  test('a failed migration is retried from the Events page and completes', async () => {
    const t = TARGETS.orders;
    // The table disappears (a botched deploy): the migration of a forced rotation fails.
    sqlite(server.appDb, [[`ALTER TABLE ${t.table} RENAME TO ${t.table}_moved`, []]]);
    const { event } = await server.api('/api/v1/key-rotation/schedule', {
      method: 'POST',
      body: { key_type: t.key, force: true },
    });
    const failed = await server.waitForEvent(event.event_id, 'failed');
    assert.match(failed.last_error, new RegExp(t.name.replace('.', '\\.')));

    await openPage(page, 'events');
    await visible(ui.eventRow(page, event.event_id));
    await eventually(async () => assert.match(await text(ui.eventStatus(page, event.event_id)), /failed/i));
    assert.match(
      await text(ui.eventRow(page, event.event_id)),
      /no such table/i,
      'the failed event shows its error',
    );

    // Restored; the retry, from the console, resumes it.
    sqlite(server.appDb, [[`ALTER TABLE ${t.table}_moved RENAME TO ${t.table}`, []]]);
    const answered = page.waitForResponse(
      (r) => r.url().endsWith(`/api/v1/key-rotation/retry/${event.event_id}`) && r.request().method() === 'POST',
    );
    await ui.eventRetry(page, event.event_id).click();
    await confirm(page);
    const response = await answered;
    assert.equal(response.status(), 200, `POST /retry answered ${response.status()}: ${await response.text()}`);
    await eventually(async () => assert.match(await text(ui.eventStatus(page, event.event_id)), /completed/i), { timeout: 60_000 });
    await eventually(async () => assert.match(await text(ui.eventProgress(page, event.event_id)), new RegExp(`${t.rows}\\s*/\\s*${t.rows}`)));
    const done = await server.waitForEvent(event.event_id, 'completed');
    assert.equal(done.totals.migrated, t.rows);
    assert.deepEqual(server.versionsIn(t), { v2: t.rows });
  });

  test('the audit page lists the rotations and verifies the chain: intact, rows > 0', async () => {
    await openPage(page, 'audit');
    await eventually(async () => {
      const rows = await ui.auditRows(page).allTextContents();
      assert.ok(rows.length > 0, 'the audit page lists records');
      assert.ok(rows.some((r) => r.includes('TOKEN_ENCRYPTION')), 'the rotation of TOKEN_ENCRYPTION is in the trail');
    });
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/v1/audit/verify') && r.request().method() === 'POST');
    await ui.auditVerify(page).click();
    const response = await answered;
    assert.equal(response.status(), 200);
    const verdict = await response.json();
    assert.equal(verdict.intact, true, `the chain is intact: ${JSON.stringify(verdict)}`);
    assert.ok(verdict.rows > 0);
    await visible(ui.auditVerifyResult(page));
    assert.equal(await ui.auditVerifyResult(page).getAttribute('data-intact'), 'true');
    const shown = await text(ui.auditVerifyResult(page));
    assert.match(shown, /intact/i, `the result says intact: ${shown}`);
    assert.doesNotMatch(shown, /not intact|broken|tamper/i, `the result says intact: ${shown}`);
    const count = /(\d[\d,]*)\s*(rows|records)/i.exec(shown);
    assert.ok(count && int(count[1]) > 0, `the result shows how many rows were checked: ${shown}`);
    assert.equal(int(count[1]), verdict.rows, 'the rows shown are those verified');
  });

  test('the quarterly report downloads as JSON, CSV and Markdown', async () => {
    await openPage(page, 'reports');
    await ui.reportKind(page).selectOption('quarterly');
    const files = {};
    for (const format of ['json', 'csv', 'markdown']) {
      const answered = page.waitForResponse((r) => r.url().includes('/api/v1/key-rotation/report'));
      const downloading = page.waitForEvent('download');
      await ui.reportDownload(page, format).click();
      const [response, download] = await Promise.all([answered, downloading]);
      const url = new URL(response.url());
      assert.equal(url.searchParams.get('kind'), 'quarterly', `the ${format} download asks for the quarterly report`);
      if (format !== 'json') assert.equal(url.searchParams.get('format'), format);
      const path = await download.path();
      files[format] = { name: download.suggestedFilename(), body: await readFile(path, 'utf8') };
    }

    assert.match(files.json.name, /\.json$/i);
    const report = JSON.parse(files.json.body);
    assert.equal(report.kind, 'quarterly');
    const token = report.keys.find((k) => k.key_type === 'TOKEN_ENCRYPTION');
    assert.ok(token, 'the JSON report covers TOKEN_ENCRYPTION');
    assert.ok(token.rotations.length >= 1, 'the JSON report has the rotation made in this session');

    assert.match(files.csv.name, /\.csv$/i);
    assert.doesNotMatch(files.csv.body, /^\s*[{[]/, 'the CSV is not JSON');
    const [header, ...lines] = files.csv.body.trim().split(/\r?\n/).map((l) => l.split(','));
    assert.ok(header.includes('key_type') && header.includes('rotations'), `the CSV's header: ${header}`);
    const csvRotations = Object.fromEntries(lines.map((l) => [l[header.indexOf('key_type')], Number(l[header.indexOf('rotations')])]));
    assert.deepEqual(Object.keys(csvRotations).sort(), [...RUNBOOK_KEYS].sort(), 'one CSV row per key');
    assert.ok(csvRotations.TOKEN_ENCRYPTION >= 1 && csvRotations.DATABASE_ENCRYPTION >= 1, `the CSV counts the rotations made: ${JSON.stringify(csvRotations)}`);

    assert.match(files.markdown.name, /\.md$/i);
    assert.doesNotMatch(files.markdown.body, /^\s*[{[]/, 'the Markdown is not JSON');
    assert.match(files.markdown.body, /^#\s+.*quarterly/im, 'the Markdown has the report heading');
    for (const key of RUNBOOK_KEYS) assert.match(files.markdown.body, new RegExp(`^\\|\\s*${key}\\s*\\|`, 'm'), `the Markdown has a table row of ${key}`);
  });
});
