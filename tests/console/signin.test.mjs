// Serving /ui (its security headers), signing in with the admin token and seeing the five runbook
// keys, refusing a bad token and a client token, and signing out.

import { after, before, describe, test } from 'node:test';

import { launchBrowser, newContext, Recorder, requireConsole, RUNBOOK_KEYS, startServer } from './harness.mjs';
import { assert, eventually, openPage, PAGES, signIn, text, ui, visible } from './ui.mjs';

const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** The directives of a Content-Security-Policy, normalised: {directive: "sources"}. */
function directives(policy) {
  return Object.fromEntries(
    policy
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name.toLowerCase(), sources.join(' ')]),
  );
}

describe('the console: serving, sign-in and sign-out', () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer({ fill: false });
    await requireConsole(server);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('/ui redirects to /ui/, and every /ui response has the CSP, nosniff, no-referrer and no-store', async () => {
    const redirect = await server.fetch('/ui', { token: null });
    assert.ok([301, 302, 303, 307, 308].includes(redirect.status), `GET /ui answered ${redirect.status}, not a redirect`);
    assert.match(redirect.headers.get('location') ?? '', /(^|\/\/[^/]+)\/ui\/$/, 'GET /ui redirects to /ui/');

    const index = await server.fetch('/ui/', { token: null });
    assert.equal(index.status, 200, 'GET /ui/ answers 200 without a token (the token is asked for by the page)');
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
    const html = await index.text();
    assert.match(html, /<script[^>]+type="module"[^>]+src="[^"]*app\.js"/, 'index.html loads app.js as a module');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script in index.html');
    assert.doesNotMatch(html, /<style[\s>]|\sstyle="/i, 'no inline style in index.html');
    assert.doesNotMatch(html, /https?:\/\/(?!127\.0\.0\.1|localhost)/i, 'no CDN or other outside address in index.html');

    // Every /ui answer, the redirect and a missing file's 404 included: all problems at once.
    const problems = [];
    for (const path of ['/ui', '/ui/', '/ui/index.html', '/ui/app.js', '/ui/style.css', '/ui/no-such-file.js']) {
      const answer = await server.fetch(path, { token: null });
      const h = answer.headers;
      const where = `${path} (${answer.status})`;
      const csp = h.get('content-security-policy');
      if (!csp) problems.push(`${where}: no Content-Security-Policy`);
      else if (JSON.stringify(directives(csp)) !== JSON.stringify(directives(CSP))) problems.push(`${where}: Content-Security-Policy ${csp}`);
      if (h.get('x-content-type-options') !== 'nosniff') problems.push(`${where}: X-Content-Type-Options ${h.get('x-content-type-options')}`);
      if (h.get('referrer-policy') !== 'no-referrer') problems.push(`${where}: Referrer-Policy ${h.get('referrer-policy')}`);
      if (!/no-store/.test(h.get('cache-control') ?? '')) problems.push(`${where}: Cache-Control ${h.get('cache-control')}`);
    }
    assert.deepEqual(problems, [], 'every /ui response carries the CSP of the contract, nosniff, no-referrer and no-store');
    const app = await server.fetch('/ui/app.js', { token: null });
    assert.equal(app.status, 200);
    assert.match(app.headers.get('content-type') ?? '', /^(text|application)\/javascript/);
  });

  test('signing in with the admin token shows the five runbook keys, with no CSP violation or page error', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const recorder = new Recorder().attach(page);
    try {
      await signIn(page, server, server.adminToken);
      for (const key of RUNBOOK_KEYS) {
        await visible(ui.keyRow(page, key));
        assert.match(await text(ui.keyRow(page, key)), new RegExp(key), `the card of ${key} names it`);
        assert.equal(await text(ui.keyPrimary(page, key)), 'v1', `${key}: primary version 1 on a new server`);
      }
      assert.equal(await ui.rotateButtons(page).count(), RUNBOOK_KEYS.length, 'the five keys, no other');
      const who = await server.api('/api/v1/whoami');
      assert.equal(who.role, 'admin');
      assert.equal(await text(ui.whoami(page)), who.id || 'admin', 'the signed-in identity is shown');
      // Each page of the console opens (no error box) while signed in.
      for (const name of PAGES) {
        await openPage(page, name);
        assert.equal(await ui.errorBox(page).count(), 0, `the ${name} page shows no error: ${await ui.errorBox(page).allTextContents()}`);
      }
      const violations = recorder.console.filter((m) => /Content Security Policy|Refused to/i.test(m));
      assert.deepEqual(violations, [], 'no Content-Security-Policy violation (inline script or style)');
      assert.deepEqual(recorder.errors, [], 'no uncaught error in the page');
    } finally {
      await context.close();
    }
  });

  test('a wrong token is refused on the sign-in page and not kept', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    try {
      await signIn(page, server, `adm_${'x'.repeat(40)}`, { expectDenied: true });
      await eventually(async () => assert.match(await text(ui.signInError(page)), /not (a )?valid|401|unknown|invalid/i));
      assert.equal(await ui.nav(page, 'keys').isVisible(), false, 'no navigation for a refused token');
      assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a refused token is not kept');
    } finally {
      await context.close();
    }
  });

  test('a client token is refused the admin pages, with the message that the console needs an admin token', async () => {
    const clientToken = server.createClientToken();
    // The server itself refuses it every admin route.
    for (const [method, path, body] of [
      ['GET', '/api/v1/key-rotation/status'],
      ['GET', '/api/v1/key-rotation/events'],
      ['POST', '/api/v1/key-rotation/schedule', { key_type: 'TOKEN_ENCRYPTION', force: true }],
      ['GET', '/api/v1/key-rotation/report?kind=quarterly'],
      ['GET', '/api/v1/audit'],
      ['POST', '/api/v1/audit/verify'],
    ]) {
      const answer = await server.fetch(path, { method, body, token: clientToken });
      assert.equal(answer.status, 403, `${method} ${path} with a client token`);
      assert.ok((await answer.json()).error?.message, `${method} ${path}: the error says why`);
    }
    const whoami = await server.api('/api/v1/whoami', { token: clientToken });
    assert.equal(whoami.role, 'client');

    const context = await newContext(browser);
    const page = await context.newPage();
    try {
      await signIn(page, server, clientToken, { expectDenied: true });
      await eventually(async () =>
        assert.match(await text(ui.signInError(page)), /client token.*needs an admin token/i, 'the message says an admin token is needed'));
      for (const name of PAGES) {
        assert.equal(await ui.nav(page, name).isVisible(), false, `no ${name} navigation for a client token`);
        assert.equal(await ui.pageView(page, name).isVisible(), false, `no ${name} page for a client token`);
      }
      assert.equal(await ui.rotateButtons(page).count(), 0, 'no key shown to a client token');
      // Going straight to a page's address does not show it either.
      for (const name of PAGES) {
        await page.goto(`${server.uiUrl}#/${name}`);
        await visible(ui.tokenInput(page));
        assert.equal(await ui.pageView(page, name).isVisible(), false, `#/${name} shows no page to a client token`);
      }
    } finally {
      await context.close();
    }
  });

  test('signing out clears sessionStorage and returns to the sign-in page', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    try {
      await signIn(page, server, server.adminToken);
      const stored = await page.evaluate(() => Object.values(sessionStorage));
      assert.ok(stored.includes(server.adminToken), 'the session token is kept in sessionStorage');
      assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
      await ui.signOut(page).click();
      await visible(ui.tokenInput(page));
      assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'sign-out empties sessionStorage');
      // A reload after sign-out stays signed out.
      await page.reload();
      await visible(ui.tokenInput(page));
      assert.equal(await ui.pageView(page, 'keys').isVisible(), false);
    } finally {
      await context.close();
    }
  });
});
