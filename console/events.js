// Rotations and migrations: the list of rotation events and the page of one event, with
// progress (records done of the total still to move), rate, time left and failures. Both
// refresh every 2 s while a migration runs, and stop when it ends or the page is left.

import { api } from './api.js';
import { h, replace, table, badge, loading, errorBox, pageHeading, preserveFocus } from './dom.js';
import { timeEl, num, rate, duration, words, utc } from './format.js';
import { actionButtons, isActive } from './event-actions.js';
import { refreshTotals, effectiveRate, progressOf } from './progress.js';

const POLL_MS = 2000;
const STATUS_KIND = {
  pending: 'info', in_progress: 'info', completed: 'ok', failed: 'critical', rolled_back: 'warning',
};
const STATUSES = ['pending', 'in_progress', 'completed', 'failed', 'rolled_back'];

export function statusBadge(event) {
  const text = event.rolling_back && isActive(event) ? `${words(event.status)} (rolling back)` : words(event.status);
  return badge(text, STATUS_KIND[event.status], 'event-status');
}

const SUPERSEDE_LOOKBACK = 50;

/**
 * The events (of a newest-first list) that a later rotation of the same key superseded: the
 * server refuses to retry, execute or roll those back. A later rotation that was itself rolled
 * back does not count, since the key is back where the earlier event left it.
 */
function supersededIds(events) {
  const liveNewer = new Set();
  const ids = new Set();
  for (const e of events) {
    if (liveNewer.has(e.key_type)) ids.add(e.event_id);
    if (e.status !== 'rolled_back') liveNewer.add(e.key_type);
  }
  return ids;
}

function progressCell(event, p) {
  const text = p.total === null
    ? `${num(p.done)} migrated, ${num(event.totals?.total || 0)} examined`
    : `${num(p.done)} / ${num(p.total)} records`;
  // Without a value a <progress> shows "working": right while the event runs. A finished
  // event with no known total gets no bar at all (an empty one would read as "nothing done").
  let bar = null;
  if (p.fraction !== null || isActive(event)) {
    bar = h('progress', { max: 1, 'aria-label': `Progress of ${event.event_id}` });
    if (p.fraction !== null) bar.value = p.fraction;
  }
  return h('div', { class: 'progress', testid: 'event-progress', 'data-done': p.done, 'data-total': p.total ?? '' }, bar,
    h('span', null, text, p.fraction !== null ? ` (${Math.floor(p.fraction * 100)}%)` : ''));
}

function etaText(event, p) {
  if (event.status === 'completed') return 'done';
  if (!isActive(event)) return '—';
  return p.eta === null ? 'unknown' : `about ${duration(Math.max(1, p.eta))}`;
}

function failuresText(event) {
  const failed = event.totals?.failed || 0;
  if (!failed && !event.last_error) return 'none';
  return `${num(failed)} failed${event.last_error ? `: ${event.last_error}` : ''}`;
}

/**
 * Runs `tick` now and then every POLL_MS while it returns true and the page is shown.
 * `restart()` starts over at once (after a filter change or an action); a tick still under
 * way from before a restart does not schedule another.
 */
function poller(ctx, tick) {
  let timer = null;
  let generation = 0;
  const run = async (mine) => {
    timer = null;
    // Never redraw under an open confirmation dialog: its action is about what it showed.
    const again = document.getElementById('confirm')?.open ? true : await tick();
    if (again && ctx.alive() && mine === generation) timer = setTimeout(() => run(mine), POLL_MS);
  };
  const stop = () => {
    generation += 1;
    if (timer) clearTimeout(timer);
    timer = null;
  };
  return {
    restart: () => { stop(); run(generation); },
    stop,
  };
}

function listView(root, ctx) {
  const status = h('select', { id: 'events-status', testid: 'events-filter-status' },
    h('option', { value: '' }, 'Every status'), STATUSES.map((st) => h('option', { value: st }, words(st))));
  const key = h('input', { id: 'events-key', type: 'text', testid: 'events-filter-key', placeholder: 'every key', pattern: '[A-Za-z0-9_.\\-]{1,64}' });
  const form = h('form', { class: 'filters', testid: 'events-filters', 'aria-label': 'Filter events' },
    h('div', { class: 'field' }, h('label', { for: 'events-status' }, 'Status'), status),
    h('div', { class: 'field' }, h('label', { for: 'events-key' }, 'Key'), key),
    h('button', { type: 'submit' }, 'Apply'));
  const note = h('p', { class: 'muted', testid: 'events-updated' });
  const body = h('div', { class: 'page-body' }, loading('events'));
  replace(root, h('header', { class: 'page-head' }, pageHeading('Rotations and migrations', 'page-title')), form, note, body);

  const render = (events) => {
    const superseding = supersededIds(events);
    const rows = events.map((e) => {
      const rps = effectiveRate(e);
      const p = progressOf(e, rps);
      const superseded = superseding.has(e.event_id);
      return {
        props: { testid: `event-${e.event_id}`, 'data-status': e.status },
        cells: [
          h('span', null, h('a', { href: `#/events/${encodeURIComponent(e.event_id)}`, testid: 'event-link' }, e.event_id),
            h('br'), h('span', { class: 'muted' }, timeEl(e.created_at))),
          h('span', null, e.key_type, h('br'), h('span', { class: 'muted' }, `v${e.from_version} → v${e.to_version}`)),
          statusBadge(e),
          progressCell(e, p),
          h('span', { testid: 'event-rate' }, rate(rps)),
          h('span', { testid: 'event-eta' }, etaText(e, p)),
          h('span', { testid: 'event-failures', class: 'wrap' }, failuresText(e)),
          actionButtons(e, () => poll.restart(), superseded),
        ],
      };
    });
    preserveFocus(body, () => replace(body, events.length
      ? table({
        caption: 'Rotation events, newest first',
        columns: ['Event (created, UTC)', 'Key (versions)', 'Status', 'Progress', 'Rate', 'Time left', 'Failures', 'Actions'],
        rows, testid: 'events-table', className: 'events',
      })
      : h('p', { testid: 'events-empty' }, 'No rotation event matches.')));
  };

  async function tick() {
    try {
      const events = await api.get('key-rotation/events', { status: status.value, key_type: key.value.trim(), limit: 50 });
      await refreshTotals(events);
      if (!ctx.alive()) return false;
      render(events);
      const running = events.some(isActive);
      note.textContent = `Updated ${utc(new Date().toISOString())}.`
        + (running ? ' A migration is running: this list refreshes every 2 seconds.' : '');
      return running;
    } catch (e) {
      if (ctx.alive()) replace(body, errorBox(e, () => poll.restart()));
      return false;
    }
  }

  const poll = poller(ctx, tick);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    poll.restart();
  });
  poll.restart();
  return () => poll.stop();
}

function targetsTable(event) {
  if (!event.targets?.length) return h('p', { class: 'muted' }, 'This key has no migration target: there are no records to move.');
  return table({
    caption: 'Progress per migration target',
    columns: ['Target', 'Examined', 'Migrated', 'Already current', 'Skipped', 'Failed', 'Finished', 'Checkpoint'],
    rows: event.targets.map((t) => [t.target, num(t.counts.total), num(t.counts.migrated), num(t.counts.already_current),
      num(t.counts.skipped), num(t.counts.failed), t.done ? 'yes' : 'no', t.checkpoint || '—']),
    testid: 'event-targets',
  });
}

function failedIds(event) {
  const ids = (event.targets || []).flatMap((t) => t.failed_ids.map((id) => `${t.target}: ${id}`));
  if (!ids.length) return null;
  return h('details', { class: 'failed-ids', testid: 'event-failed-ids' },
    h('summary', null, `Records that failed (${num(ids.length)})`),
    h('ul', null, ids.map((id) => h('li', null, h('code', null, id)))));
}

function detailView(root, ctx, id) {
  const body = h('div', { class: 'page-body' }, loading('the event'));
  replace(root,
    h('p', null, h('a', { href: '#/events', testid: 'events-back' }, '← All rotations and migrations')),
    h('header', { class: 'page-head' }, pageHeading(`Event ${id}`, 'page-title')),
    body);

  const render = (e, superseded) => {
    const rps = effectiveRate(e);
    const p = progressOf(e, rps);
    const duration_ = e.started_at ? ((e.finished_at ? new Date(e.finished_at) : new Date()) - new Date(e.started_at)) / 1000 : null;
    preserveFocus(body, () => replace(body,
      h('section', { class: 'card', testid: 'event-detail', 'data-event-id': e.event_id, 'data-status': e.status, 'aria-label': 'Event' },
        h('div', { class: 'card-head' }, h('h2', null, `${e.key_type} v${e.from_version} → v${e.to_version}`), statusBadge(e),
          h('span', { class: 'spacer' }), actionButtons(e, () => poll.restart(), superseded)),
        progressCell(e, p),
        e.last_error ? h('p', { class: 'error-text', role: e.status === 'failed' ? 'alert' : null, testid: 'event-last-error' },
          h('strong', null, 'Last error: '), e.last_error) : null,
        h('dl', { class: 'facts columns' },
          h('dt', null, 'Status'), h('dd', null, words(e.status), e.rolling_back ? ' (rolling back)' : ''),
          h('dt', null, 'Trigger'), h('dd', null, e.trigger),
          h('dt', null, 'Started by'), h('dd', null, e.actor),
          h('dt', null, 'Created'), h('dd', null, timeEl(e.created_at)),
          h('dt', null, 'Started'), h('dd', null, timeEl(e.started_at)),
          h('dt', null, 'Finished'), h('dd', null, timeEl(e.finished_at)),
          h('dt', null, 'Running for'), h('dd', null, duration_ === null ? '—' : duration(duration_)),
          h('dt', null, 'Rate'), h('dd', { testid: 'event-rate' }, rate(rps)),
          h('dt', null, 'Time left'), h('dd', { testid: 'event-eta' }, etaText(e, p)),
          h('dt', null, 'Rate while working'), h('dd', null, rate(e.records_per_second)),
          h('dt', null, 'Batch size'), h('dd', { testid: 'event-batch-size' }, `${num(e.batch_size)} records`),
          h('dt', null, 'Rate limit'), h('dd', null, e.rate_limit ? `${num(e.rate_limit)} records/s` : 'none'),
          h('dt', null, 'Failures'), h('dd', { testid: 'event-failures' }, num(e.totals?.failed || 0)),
          h('dt', null, 'Already current'), h('dd', null, num(e.totals?.already_current || 0)),
          h('dt', null, 'Skipped'), h('dd', null, num(e.totals?.skipped || 0))),
        targetsTable(e),
        failedIds(e))));
  };

  async function tick() {
    try {
      const e = await api.get(`key-rotation/events/${encodeURIComponent(id)}`);
      // Superseded when a newer event of the same key exists (the server refuses actions then).
      const ofKey = await api.get('key-rotation/events', { key_type: e.key_type, limit: SUPERSEDE_LOOKBACK }).catch(() => null);
      // Not among the key's newest events at all: many rotations came after it.
      const superseded = ofKey ? (supersededIds(ofKey).has(e.event_id) || !ofKey.some((x) => x.event_id === e.event_id)) : false;
      if (!superseded) await refreshTotals([e]);
      if (!ctx.alive()) return false;
      render(e, superseded);
      return isActive(e);
    } catch (err) {
      if (ctx.alive()) replace(body, errorBox(err, () => poll.restart()));
      return false;
    }
  }

  const poll = poller(ctx, tick);
  poll.restart();
  return () => poll.stop();
}

export function mount(root, ctx) {
  return ctx.params.id ? detailView(root, ctx, ctx.params.id) : listView(root, ctx);
}
