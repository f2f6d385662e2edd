// The Keys page: every key against its rotation policy (age, due date, alert level and why),
// its versions on a timeline, the records still stored under each version, and "Rotate now",
// the runbook's emergency rotation (assess impact, then force a rotation, then follow it).

import { api, describeError } from './api.js';
import { h, replace, table, badge, loading, errorBox, pageHeading } from './dom.js';
import { timeEl, relative, days, duration, num, utc } from './format.js';
import { versionTimeline, ageGauge } from './charts.js';
import { confirmAction } from './dialog.js';
import { sayDone, sayInfo, sayError } from './live.js';

const LEVEL_KIND = { OK: 'ok', WARNING: 'warning', CRITICAL: 'critical' };

/** The alert level as a badge that says its word. */
export function alertBadge(level, testid = 'key-alert') {
  return badge(level, LEVEL_KIND[level] || 'neutral', testid);
}

function stateBadge(state) {
  return badge(state, `state-${state}`);
}

/** Records stored under all versions of a key (what a new rotation has to migrate). */
function storedRecords(impact) {
  return (impact?.versions || []).reduce((sum, v) => sum + (v.records || 0), 0);
}

function impactSection(key, impact) {
  const byVersion = new Map((impact.versions || []).map((v) => [v.version, v.records]));
  const rows = [...key.versions].sort((a, b) => b.version - a.version).map((v) => ({
    props: { 'data-version': v.version },
    cells: [`v${v.version}`, stateBadge(v.state), num(byVersion.get(v.version) || 0)],
  }));
  const targets = impact.targets || [];
  return [
    h('p', { testid: 'key-records-to-migrate' },
      impact.records_to_migrate
        ? `${num(impact.records_to_migrate)} records are still stored under versions other than the primary v${impact.primary_version}: they are to be migrated to it.`
        : `Every stored record uses the primary v${impact.primary_version}.`),
    table({ caption: 'Records stored under each version', columns: ['Version', 'State', 'Records'], rows, testid: 'key-impact' }),
    targets.length
      ? h('details', { class: 'targets' },
        h('summary', null, `By migration target (${targets.length})`),
        table({
          columns: ['Target', 'Records per version', 'Unreadable'],
          rows: targets.map((t) => [t.target,
            t.versions.map((v) => `v${v.version}: ${num(v.records)}`).join(', ') || 'none',
            num(t.unreadable)]),
        }))
      : h('p', { class: 'muted' }, 'No migration target is configured for this key.'),
  ];
}

function keyCard(key, now, ctx) {
  const id = `key-${key.key_type}`;
  const impactBox = h('section', { class: 'impact', 'aria-label': `Records of ${key.key_type}` }, loading('records per version'));
  const state = { impact: null };
  const rotate = h('button', {
    type: 'button', class: 'danger', testid: `rotate-${key.key_type}`,
    on: { click: () => rotateNow(key, state.impact, rotate, ctx) },
  }, 'Rotate now');
  const ageText = `Primary v${key.primary_version} is ${days(key.primary_age_secs)} old; `
    + `rotation every ${duration(key.rotation_interval_secs)}, grace period ${duration(key.grace_period_secs)}.`;

  const card = h('article', { class: 'card key-card', testid: id, 'aria-labelledby': `${id}-title` },
    h('header', { class: 'card-head' },
      h('h2', { id: `${id}-title` }, key.key_type),
      h('span', { class: 'muted' }, `${key.purpose.replace(/_/g, '/')} · ${key.algorithm}`),
      alertBadge(key.alert_level),
      h('span', { class: 'spacer' }),
      rotate),
    h('p', { class: ['alert-reason', `level-text-${LEVEL_KIND[key.alert_level] || 'neutral'}`], testid: 'key-alert-reason' },
      h('strong', null, `${key.alert_level}: `), key.alert_reason),
    h('div', { class: 'key-grid' },
      h('div', { class: 'key-facts' },
        h('dl', { class: 'facts' },
          h('dt', null, 'Primary version'), h('dd', { testid: 'key-primary' }, `v${key.primary_version}`),
          h('dt', null, 'Age of primary'), h('dd', { testid: 'key-age' }, `${days(key.primary_age_secs)} of ${duration(key.rotation_interval_secs)} (+ ${duration(key.grace_period_secs)} grace)`),
          h('dt', null, 'Last rotation'), h('dd', null, timeEl(key.last_rotation, now)),
          h('dt', null, 'Next rotation due'), h('dd', { testid: 'key-next-due' }, timeEl(key.next_rotation_due, now), ` (${relative(key.next_rotation_due, now)})`)),
        h('figure', { class: 'gauge-figure' },
          ageGauge({
            ageSecs: key.primary_age_secs, intervalSecs: key.rotation_interval_secs,
            graceSecs: key.grace_period_secs, level: key.alert_level, label: ageText,
          }),
          h('figcaption', { class: 'visually-hidden' }, ageText))),
      impactBox),
    h('figure', { class: 'timeline-figure' },
      versionTimeline(key, now),
      h('figcaption', null, 'Versions over time: ',
        h('span', { class: 'legend legend-active' }, 'active'), ' ',
        h('span', { class: 'legend legend-deprecated' }, 'deprecated (decrypts only)'), ' ',
        h('span', { class: 'legend legend-retired' }, '✕ retired (refused)'))));

  const loadImpact = async () => {
    replace(impactBox, loading('records per version'));
    try {
      state.impact = await api.get(`key-rotation/impact/${encodeURIComponent(key.key_type)}`);
      if (!ctx.alive()) return;
      replace(impactBox, impactSection(key, state.impact));
    } catch (e) {
      if (ctx.alive()) replace(impactBox, errorBox(e, loadImpact));
    }
  };
  return { card, loadImpact };
}

async function rotateNow(key, impact, button, ctx) {
  const next = Math.max(...key.versions.map((v) => v.version)) + 1;
  const stored = impact ? storedRecords(impact) : null;
  const older = key.versions.filter((v) => v.state !== 'retired').map((v) => `v${v.version}`).join(', ');
  const records = stored === null
    ? 'the records stored under older versions (their number could not be read)'
    : `the ${num(stored)} records stored under older versions (${older})`;
  const confirmed = await confirmAction({
    title: `Rotate ${key.key_type} now?`,
    message: `This creates version ${next} of ${key.key_type}, makes it primary and starts migrating ${records} to v${next}.`,
    details: [
      `v${key.primary_version} becomes deprecated: it still decrypts, but encrypts nothing new.`,
      'This is an emergency (forced) rotation: it happens even if the key is not due, and is recorded in the audit trail under your token.',
      'If it goes wrong, the rotation can be rolled back from its event.',
    ],
    confirmLabel: `Rotate ${key.key_type}`,
    danger: true,
  });
  if (!confirmed) return;
  button.disabled = true;
  sayInfo(`Rotating ${key.key_type}…`);
  try {
    const answer = await api.post('key-rotation/schedule', { key_type: key.key_type, force: true });
    if (answer.rotated && answer.event) {
      sayDone(`${key.key_type} rotated to v${answer.event.to_version}; migration event ${answer.event.event_id} started.`);
      ctx.navigate(`#/events/${encodeURIComponent(answer.event.event_id)}`);
    } else {
      sayInfo(`${key.key_type} was not rotated: ${answer.reason || 'the server gave no reason'}.`);
    }
  } catch (e) {
    sayError(`Rotating ${key.key_type} failed. ${describeError(e)}`);
  } finally {
    button.disabled = false;
  }
}

function summary(keys) {
  const count = (level) => keys.filter((k) => k.alert_level === level).length;
  return h('p', { class: 'summary', testid: 'keys-summary' },
    `${keys.length} keys: `, alertBadge('OK', null), ` ${count('OK')}  `,
    alertBadge('WARNING', null), ` ${count('WARNING')}  `,
    alertBadge('CRITICAL', null), ` ${count('CRITICAL')}`);
}

export function mount(root, ctx) {
  const body = h('div', { class: 'page-body' });
  const refresh = h('button', { type: 'button', testid: 'keys-refresh', on: { click: () => load() } }, 'Refresh');
  replace(root, h('header', { class: 'page-head' }, pageHeading('Keys', 'page-title'), refresh), body);

  async function load() {
    replace(body, loading('keys'));
    try {
      const status = await api.get('key-rotation/status');
      if (!ctx.alive()) return;
      const now = new Date(status.generated_at).getTime() || Date.now();
      // The keys that need attention first: CRITICAL, then WARNING, then OK, by name within.
      const rank = (k) => ({ CRITICAL: 0, WARNING: 1, OK: 2 }[k.alert_level] ?? 3);
      const sorted = [...status.keys].sort((a, b) => rank(a) - rank(b) || a.key_type.localeCompare(b.key_type));
      const cards = sorted.map((k) => keyCard(k, now, ctx));
      replace(body,
        h('p', { class: 'muted' }, 'As of ', h('time', { datetime: status.generated_at }, utc(status.generated_at)), '.'),
        summary(status.keys),
        status.keys.length ? cards.map((c) => c.card) : h('p', null, 'This server manages no key yet.'));
      await Promise.all(cards.map((c) => c.loadImpact()));
    } catch (e) {
      if (ctx.alive()) replace(body, errorBox(e, load));
    }
  }

  load();
  return () => {};
}
