// The Rekey console's entry point: sign-in (an admin token checked with GET /api/v1/whoami,
// kept in sessionStorage only), sign-out, and the hash router that mounts one page at a time
// and unmounts it (stopping its polling) when another is shown.
//
// Test ids (`data-testid`), for the browser tests:
//   Sign-in:   signin (section), signin-form, signin-token, signin-submit, signin-error,
//              signin-notice (why the user was signed out)
//   Frame:     nav-keys, nav-events, nav-schedule, nav-audit, nav-reports (the current one has
//              aria-current="page"), whoami, sign-out, page (the page container), page-title,
//              live (the aria-live region) holding live-success | live-info | live-error,
//              error + error-retry (a page or section that failed to load)
//   Dialog:    confirm-dialog, confirm-message, confirm-ok, confirm-cancel, confirm-error,
//              batch-size (the Execute dialog's number input)
//   Keys:      keys-summary, keys-refresh, key-<KEY> (one per key, e.g. key-TOKEN_ENCRYPTION),
//              and inside it: key-alert (OK/WARNING/CRITICAL), key-alert-reason, key-primary,
//              key-age, key-next-due, key-age-gauge, key-timeline (the SVG; its rows carry
//              data-version), key-records-to-migrate, key-impact (table), rotate-<KEY>
//   Events:    events-filters, events-filter-status, events-filter-key, events-updated,
//              events-table, events-empty, event-<event id> (row, data-status), and inside a
//              row or the event page: event-status, event-progress (data-done, data-total;
//              holds a <progress> while the total is known or the event runs), event-rate,
//              event-eta, event-failures, event-link, retry-button, execute-button,
//              rollback-button (only those the event allows), event-superseded (instead of
//              the buttons when a newer rotation of the key exists)
//   Event page (#/events/<id>): events-back, event-detail (data-event-id, data-status),
//              event-last-error, event-batch-size, event-targets, event-failed-ids
//   Schedule:  schedule-refresh, schedule-next-run, schedule-due-list, schedule-table,
//              schedule-key-<KEY> (row), schedule-due
//   Audit:     audit-filters, audit-filter-key, audit-filter-operation, audit-filter-principal,
//              audit-filter-from, audit-filter-to, audit-filter-limit, audit-apply, audit-reset,
//              audit-count, audit-table, audit-empty, audit-row-<seq>, audit-load-more,
//              export-json, export-csv, verify-chain, verify-box, verify-result (data-intact
//              "true"/"false"), verify-head-hash, verify-fault, verify-show-fault (shows the
//              first broken record, whose row gets class row-fault)
//   Reports:   report-form, report-kind, report-from, report-to, report-generate, report-view
//              (data-kind), report-summary, chart-key-ages, chart-rotations, chart-migrated,
//              report-events, report-event-<id>, report-keys, report-key-<KEY>,
//              report-compliance, download-json, download-csv, download-markdown

import { api, session, setUnauthorizedHandler, ApiError, describeError } from './api.js';
import { h, replace, errorBox } from './dom.js';
import { clearMessage } from './live.js';
import * as keys from './keys.js';
import * as events from './events.js';
import * as schedule from './schedule.js';
import * as audit from './audit.js';
import * as reports from './reports.js';

const PAGES = {
  keys: { module: keys, title: 'Keys' },
  events: { module: events, title: 'Rotations and migrations' },
  schedule: { module: schedule, title: 'Schedule' },
  audit: { module: audit, title: 'Audit' },
  reports: { module: reports, title: 'Reports' },
};
const DEFAULT_ROUTE = '#/keys';

const $ = (id) => document.getElementById(id);

// The page shown now: its cleanup, and the flag its async work checks before drawing.
let current = null;
let signedIn = false;

function unmountPage() {
  if (!current) return;
  current.state.alive = false;
  try {
    current.cleanup?.();
  } catch {
    // A page that fails to clean up must not block the next one.
  }
  current = null;
  replace($('page'));
}

/** `#/events/evt-1` → {name: 'events', params: {id: 'evt-1'}}; null for an unknown route. */
function parseRoute(hash) {
  const m = /^#\/([a-z]+)(?:\/([^/?#]+))?\/?$/.exec(hash || '');
  if (!m || !PAGES[m[1]]) return null;
  let id = null;
  try {
    id = m[2] ? decodeURIComponent(m[2]) : null;
  } catch {
    return null;
  }
  return { name: m[1], params: { id } };
}

function showPage({ focus = true } = {}) {
  if (!signedIn) return;
  const route = parseRoute(window.location.hash);
  if (!route) {
    // Unknown or empty: go to the first page without leaving a history entry.
    window.history.replaceState(null, '', DEFAULT_ROUTE);
    showPage({ focus });
    return;
  }
  unmountPage();
  for (const link of document.querySelectorAll('#nav a[data-page]')) {
    if (link.dataset.page === route.name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const page = PAGES[route.name];
  document.title = `${page.title}${route.params.id ? ` ${route.params.id}` : ''} · Rekey console`;
  const state = { alive: true };
  const ctx = {
    params: route.params,
    alive: () => state.alive,
    navigate: (hash) => { window.location.hash = hash; },
  };
  const root = $('page');
  root.dataset.page = route.name;
  let cleanup = null;
  try {
    cleanup = page.module.mount(root, ctx);
  } catch (e) {
    replace(root, errorBox(e, () => showPage()));
  }
  current = { state, cleanup };
  // Screen readers hear the new page's heading; keyboard users start from it.
  if (focus) root.querySelector('h1')?.focus();
}

function showSignIn(notice = '') {
  signedIn = false;
  unmountPage();
  $('nav').hidden = true;
  $('session').hidden = true;
  $('signin').hidden = false;
  $('signin-notice').textContent = notice;
  $('signin-error').textContent = '';
  $('signin-token').value = '';
  document.title = 'Sign in · Rekey console';
  $('signin-token').focus();
}

function showApp(who) {
  signedIn = true;
  $('signin').hidden = true;
  $('nav').hidden = false;
  $('session').hidden = false;
  $('whoami').textContent = who.id || 'admin';
  showPage();
}

export function signOut(notice = 'You are signed out.') {
  session.clear();
  clearMessage();
  showSignIn(notice);
}

/**
 * Who `token` is. A server without /whoami (older than the console) is asked an admin route
 * instead: 403 there means a client token.
 */
async function identify(token) {
  try {
    return await api.whoami(token);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    try {
      await api.probeAdmin(token);
      return { id: '', role: 'admin' };
    } catch (e2) {
      if (e2 instanceof ApiError && e2.status === 403) return { id: '', role: 'client' };
      throw e2;
    }
  }
}

/** What is wrong with a token, in words; empty when it is an admin token. */
function refusal(who) {
  if (who.role === 'admin') return '';
  if (who.role === 'client') return 'This is a client token: the console needs an admin token.';
  return `This token has the role "${who.role}": the console needs an admin token.`;
}

async function onSignIn(event) {
  event.preventDefault();
  const input = $('signin-token');
  const submit = document.querySelector('[data-testid="signin-submit"]');
  const error = $('signin-error');
  const token = input.value.trim();
  error.textContent = '';
  if (!token) {
    error.textContent = 'Paste a token first.';
    input.focus();
    return;
  }
  submit.disabled = true;
  try {
    const who = await identify(token);
    const problem = refusal(who);
    if (problem) {
      error.textContent = problem;
      input.focus();
      return;
    }
    session.save(token);
    input.value = '';
    clearMessage();
    showApp(who);
  } catch (e) {
    error.textContent = e instanceof ApiError && e.status === 401
      ? 'This is not a valid token for this server.'
      : describeError(e);
    input.focus();
  } finally {
    submit.disabled = false;
  }
}

/** On load: a token kept from earlier in this tab is checked again before any page shows. */
async function resume() {
  const token = session.token();
  if (!token) {
    showSignIn();
    return;
  }
  try {
    const who = await identify(token);
    const problem = refusal(who);
    if (problem) signOut(problem);
    else showApp(who);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      signOut('Your session ended: the server no longer accepts that token. Sign in again.');
      return;
    }
    // Unreachable or unavailable: keep the token and offer to try again.
    replace($('page'), errorBox(e, () => { replace($('page')); resume(); }));
  }
}

function start() {
  setUnauthorizedHandler(() => {
    if (signedIn) signOut('Your session ended: the server no longer accepts this token (401). Sign in again.');
  });
  $('signin-form').addEventListener('submit', onSignIn);
  $('sign-out').addEventListener('click', () => signOut());
  $('skip-link').addEventListener('click', (e) => {
    // A plain #main link would replace the route in the address.
    e.preventDefault();
    ($('page').querySelector('h1') || $('main')).focus();
  });
  window.addEventListener('hashchange', () => showPage());
  resume();
}

// Errors that no page caught are said in the live region, without data.
window.addEventListener('unhandledrejection', (e) => {
  const region = $('live');
  if (region) replace(region, h('p', { class: 'live-message live-error' }, h('strong', null, 'Error: '), describeError(e.reason)));
});

start();
