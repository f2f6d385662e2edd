// The secrets check: after a console session on a server that encrypted values and rotated a key
// (with a migration of its target), no token, key material or plaintext appears in any URL the
// page visited or requested, in localStorage (which stays empty), in sessionStorage other than
// the session token itself, in a cookie, or in any console message; and the console's
// responses carry the security headers.

import { after, before, describe, test } from 'node:test';

import { launchBrowser, leaks, newContext, Recorder, requireConsole, startServer, TARGETS } from './harness.mjs';
import { assert, confirm, openPage, PAGES, signIn, text, ui, visible } from './ui.mjs';

describe('the console: no secret in a URL, storage or the console log', () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    await requireConsole(server);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a session that rotated leaves no token, key material or plaintext in URLs, storage or console messages', async (t) => {
    // Secrets of this server besides its admin token and the plaintexts of the application
    // table (harness.mjs): a client token, a value encrypted with the CLI, a data key.
    const clientToken = server.createClientToken('console secrets check');
    const cliPlaintext = `cli-plaintext-${Date.now()}-do-not-leak`;
    const cliCiphertext = server.cli(['encrypt', '--key', 'SESSION_ENCRYPTION'], { input: cliPlaintext }).trim();
    assert.ok(cliCiphertext.length > 20);
    const dataKey = JSON.parse(server.cli(['--json', 'datakey', '--key', 'FILE_ENCRYPTION']));
    assert.ok(dataKey.plaintext_key, 'rekey datakey prints the plaintext key');
    server.extraSecrets = [clientToken, cliPlaintext, dataKey.plaintext_key];
    const secrets = server.secrets();
    assert.ok(secrets.length >= TARGETS.users.rows + 4, 'the secrets to look for');

    const context = await newContext(browser);
    const page = await context.newPage();
    const recorder = new Recorder().attach(page);
    const storages = [];
    const snapshot = async (when) => {
      storages.push({
        when,
        local: await page.evaluate(() => Object.entries(localStorage)),
        session: await page.evaluate(() => Object.entries(sessionStorage)),
        cookie: await page.evaluate(() => document.cookie),
        // What the page shows or holds: its markup and the values of its fields (but the token
        // field itself, which keeps a refused token for the user to correct).
        dom: await page.evaluate(() =>
          [
            document.documentElement.outerHTML,
            ...[...document.querySelectorAll('input, textarea, select')].filter((f) => f.dataset.testid !== 'signin-token').map((f) => f.value),
          ].join('\n')),
        tokenField: await page.evaluate(() => document.querySelector('[data-testid="signin-token"]')?.value ?? ''),
      });
    };
    const uiHeaders = [];
    page.on('response', (response) => {
      if (new URL(response.url()).pathname.startsWith('/ui')) uiHeaders.push({ url: response.url(), headers: response.headers(), status: response.status() });
    });

    try {
      // A client token tried first, in the same tab: refused, and not kept.
      await signIn(page, server, clientToken, { expectDenied: true });
      await visible(ui.signInError(page));
      await snapshot('after the client token was refused');

      await signIn(page, server, server.adminToken);
      await snapshot('after signing in');

      // A forced rotation of the key with the migration target, followed to its end.
      const target = TARGETS.users;
      await ui.rotateButton(page, target.key).click();
      await visible(ui.confirmDialog(page));
      const answered = page.waitForResponse((r) => r.url().endsWith('/api/v1/key-rotation/schedule') && r.request().method() === 'POST');
      await confirm(page);
      const { event } = await (await answered).json();
      await server.waitForEvent(event.event_id, 'completed');
      await snapshot('after the rotation');

      // Every page, and what each offers that reads the trail or makes a file.
      for (const name of PAGES) {
        await openPage(page, name);
        await snapshot(`on the ${name} page`);
      }
      await openPage(page, 'events');
      await visible(ui.eventRow(page, event.event_id));
      await openPage(page, 'audit');
      await ui.auditVerify(page).click();
      await visible(ui.auditVerifyResult(page));
      assert.match(await text(ui.auditVerifyResult(page)), /intact/i);
      await openPage(page, 'reports');
      for (const format of ['json', 'csv', 'markdown']) {
        const downloading = page.waitForEvent('download');
        await ui.reportDownload(page, format).click();
        await (await downloading).path();
      }
      // A reload keeps the session (sessionStorage) without putting anything else anywhere.
      await page.reload();
      await visible(ui.pageView(page, 'keys').or(ui.nav(page, 'keys')));
      await snapshot('after a reload');

      await ui.signOut(page).click();
      await visible(ui.tokenInput(page));
      await snapshot('after signing out');
      assert.deepEqual(await context.cookies(), [], 'no cookie was set');
    } finally {
      await context.close();
    }

    // URLs: every frame navigation and every request.
    assert.ok(recorder.urls.length > 10, 'the session made requests');
    assert.deepEqual(leaks(secrets, recorder.urls), [], 'no secret in any URL visited or requested');
    assert.deepEqual(leaks(secrets, recorder.referers), [], 'no secret in a Referer header');
    for (const url of recorder.urls) {
      const u = new URL(url);
      if (u.protocol === 'blob:' || u.protocol === 'data:' || u.protocol === 'about:') continue;
      assert.equal(u.host, server.http, `every request stays on the server (no CDN): ${url}`);
      const params = [...u.searchParams.keys(), ...new URLSearchParams(u.hash.replace(/^#[^?]*\??/, '')).keys()];
      for (const name of params) {
        assert.doesNotMatch(name, /token|auth|bearer|secret|password|credential/i, `no credential parameter in ${u.pathname}${u.search}${u.hash}`);
      }
    }

    // The console log (every message, of every level) and uncaught errors.
    t.diagnostic(`${recorder.urls.length} URLs and ${recorder.console.length} console messages checked`);
    assert.deepEqual(leaks(secrets, recorder.console), [], 'no secret in a console message');
    assert.deepEqual(leaks(secrets, recorder.errors), [], 'no secret in a page error');

    // Storage: localStorage always empty, no cookie; sessionStorage holds the session token
    // and nothing else that is secret.
    for (const { when, local, session, cookie, dom } of storages) {
      assert.deepEqual(leaks(secrets, [dom]), [], `no secret in the page's markup or fields ${when}`);
      assert.deepEqual(local, [], `localStorage is empty ${when}`);
      assert.equal(cookie, '', `no cookie ${when}`);
      const others = session.filter(([, value]) => value !== server.adminToken).map(([k, v]) => `${k}=${v}`);
      assert.deepEqual(leaks(secrets, others), [], `sessionStorage holds no secret but the session token ${when}`);
      assert.ok(!session.some(([, v]) => v === clientToken), `a refused client token is not kept ${when}`);
    }
    const signedIn = storages.find((s) => s.when === 'after signing in');
    assert.equal(signedIn.tokenField, '', 'the token field is emptied once signed in');
    assert.equal(storages.at(-1).tokenField, '', 'the token field is empty after signing out');
    assert.ok(signedIn.session.some(([, v]) => v === server.adminToken), 'the session token is in sessionStorage');
    assert.deepEqual(storages.at(-1).session, [], 'sign-out leaves sessionStorage empty');

    // The security headers of every /ui response the browser got.
    assert.ok(uiHeaders.length > 0);
    for (const { url, headers } of uiHeaders) {
      assert.match(headers['content-security-policy'] ?? '', /default-src 'self'/, `CSP on ${url}`);
      assert.match(headers['content-security-policy'] ?? '', /script-src 'self'/, `CSP on ${url}`);
      assert.equal(headers['x-content-type-options'], 'nosniff', `nosniff on ${url}`);
      assert.equal(headers['referrer-policy'], 'no-referrer', `no-referrer on ${url}`);
    }
  });
});
