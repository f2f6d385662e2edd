// How the tests reach the console's elements: by the `data-testid` hooks console/app.js lists
// in the comment at its top. Every locator of the suite is here, so a renamed hook is one edit.

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

export const PAGES = ['keys', 'events', 'schedule', 'audit', 'reports'];

export const ui = {
  // Sign-in and the frame.
  signInForm: (page) => page.getByTestId('signin-form'),
  tokenInput: (page) => page.getByTestId('signin-token'),
  signInButton: (page) => page.getByTestId('signin-submit'),
  signInError: (page) => page.getByTestId('signin-error'),
  nav: (page, name) => page.getByTestId(`nav-${name}`),
  /** The heading of page `name` (the page container says which page it holds). */
  pageView: (page, name) => page.locator(`[data-testid="page"][data-page="${name}"] [data-testid="page-title"]`),
  signOut: (page) => page.getByTestId('sign-out'),
  whoami: (page) => page.getByTestId('whoami'),
  errorBox: (page) => page.getByTestId('error'),
  confirmDialog: (page) => page.getByTestId('confirm-dialog'),
  confirmOk: (page) => page.getByTestId('confirm-ok'),

  // Keys.
  keyRow: (page, key) => page.getByTestId(`key-${key}`),
  keyPrimary: (page, key) => ui.keyRow(page, key).getByTestId('key-primary'),
  rotateButtons: (page) => page.locator('[data-testid^="rotate-"]'),
  rotateButton: (page, key) => page.getByTestId(`rotate-${key}`),

  // Events: a row of the list, or the event's own page.
  eventRow: (page, id) =>
    page.getByTestId(`event-${id}`).or(page.locator(`[data-testid="event-detail"][data-event-id="${id}"]`)),
  eventStatus: (page, id) => ui.eventRow(page, id).getByTestId('event-status'),
  eventProgress: (page, id) => ui.eventRow(page, id).getByTestId('event-progress'),
  eventRetry: (page, id) => ui.eventRow(page, id).getByTestId('retry-button'),

  // Audit.
  auditRows: (page) => page.locator('[data-testid^="audit-row-"]'),
  auditVerify: (page) => page.getByTestId('verify-chain'),
  auditVerifyResult: (page) => page.getByTestId('verify-result'),

  // Reports.
  reportKind: (page) => page.getByTestId('report-kind'),
  reportDownload: (page, format) => page.getByTestId(`download-${format}`),
};

/** Opens /ui/ and signs in with `token`; waits for the Keys page unless `expectDenied`. */
export async function signIn(page, server, token, { expectDenied = false } = {}) {
  await page.goto(server.uiUrl);
  await ui.tokenInput(page).fill(token);
  await ui.signInButton(page).click();
  if (!expectDenied) await visible(ui.pageView(page, 'keys'));
}

/** Goes to a page through the navigation and waits for it. */
export async function openPage(page, name) {
  await ui.nav(page, name).click();
  await visible(ui.pageView(page, name));
}

/** Accepts the console's confirmation dialog, once it is open. */
export async function confirm(page) {
  await visible(ui.confirmDialog(page));
  await ui.confirmOk(page).click();
  await ui.confirmDialog(page).waitFor({ state: 'hidden' });
}

/** Waits until `locator` is visible (default 15 s). */
export async function visible(locator, timeout = 15_000) {
  await locator.first().waitFor({ state: 'visible', timeout });
  return locator;
}

/** Retries `check` (an async function that asserts) until it passes or `timeout` ms pass. */
export async function eventually(check, { timeout = 15_000, interval = 100 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > end) throw error;
    }
    await sleep(interval);
  }
}

/** The trimmed text of `locator` (the first match). */
export async function text(locator) {
  return ((await locator.first().textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

export { assert };
