// The Reports page: the runbook's reports (post-rotation, weekly status, monthly performance,
// quarterly compliance) drawn as charts and tables, and downloaded as JSON, CSV or Markdown
// exactly as the server writes them (fetched with the token, saved from a Blob).

import { api, describeError } from './api.js';
import { h, replace, table, badge, loading, errorBox, pageHeading, eventLink } from './dom.js';
import { timeEl, num, rate, duration, days, percent, words, utc, localInputToRfc3339 } from './format.js';
import { barChart } from './charts.js';
import { saveBlob } from './download.js';
import { alertBadge } from './keys.js';
import { statusBadge } from './events.js';
import { sayDone, sayError } from './live.js';

const KINDS = [
  ['post_rotation', 'Post-rotation (each rotation: duration, counts, rate, errors)'],
  ['weekly', 'Weekly (key status summary)'],
  ['monthly', 'Monthly (rotation performance)'],
  ['quarterly', 'Quarterly (compliance audit)'],
];
const FORMATS = [['json', 'JSON', 'json'], ['csv', 'CSV', 'csv'], ['markdown', 'Markdown', 'md']];
const LEVEL_CLASS = { OK: 'level-ok', WARNING: 'level-warning', CRITICAL: 'level-critical' };

function chartFigure(title, svg) {
  return h('figure', { class: 'chart-figure' }, h('figcaption', null, title), svg);
}

function countBy(list, key, value = () => 1) {
  const totals = new Map();
  for (const item of list) totals.set(item[key], (totals.get(item[key]) || 0) + value(item));
  return [...totals].map(([label, v]) => ({ label, value: v, text: num(v) }));
}

function eventsTable(events, caption) {
  return table({
    caption,
    columns: ['Event', 'Key (versions)', 'Status', 'Trigger (by)', 'Created (UTC)', 'Duration', 'Migrated', 'Failed', 'Rate', 'Last error'],
    rows: events.map((e) => ({
      props: { testid: `report-event-${e.event_id}` },
      cells: [
        eventLink(e.event_id),
        h('span', null, e.key_type, h('br'), h('span', { class: 'muted' }, `v${e.from_version} → v${e.to_version}`)),
        statusBadge(e),
        h('span', null, e.trigger, h('br'), h('span', { class: 'muted wrap' }, e.actor)),
        timeEl(e.created_at), e.duration_secs === null ? '—' : duration(e.duration_secs),
        num(e.records.migrated), num(e.records.failed), rate(e.records_per_second),
        h('span', { class: 'wrap' }, e.last_error || '—'),
      ],
    })),
    testid: 'report-events',
  });
}

function migratedChart(events, testid) {
  return chartFigure('Records migrated per key',
    barChart({ title: 'Records migrated per key', items: countBy(events, 'key_type', (e) => e.records.migrated), testid }));
}

function rotationsChart(items) {
  return chartFigure('Rotations per key in the period',
    barChart({ title: 'Rotations per key in the period', items, testid: 'chart-rotations' }));
}

function postRotation(r) {
  return [
    h('p', { testid: 'report-summary' }, `${num(r.events.length)} rotations in the period.`),
    r.events.length ? chartFigure('Records migrated per rotation', barChart({
      title: 'Records migrated per rotation',
      items: r.events.map((e) => ({ label: `${e.key_type} v${e.to_version}`, value: e.records.migrated, text: `${num(e.records.migrated)} (${words(e.status)})` })),
      testid: 'chart-migrated',
    })) : null,
    eventsTable(r.events, 'Rotations in the period'),
  ];
}

function weekly(r) {
  const generated = new Date(r.generated_at).getTime();
  // The weekly report gives each key's age and due date; its interval is due minus creation.
  const ages = r.keys.map((k) => {
    const created = generated - k.primary_age_secs * 1000;
    const interval = (new Date(k.next_rotation_due).getTime() - created) / 1000;
    return {
      label: k.key_type, value: k.primary_age_secs / 86400, marker: interval / 86400, markerText: days(interval),
      text: `${days(k.primary_age_secs)} of ${days(interval)} (${k.alert_level})`, cls: LEVEL_CLASS[k.alert_level],
    };
  });
  return [
    chartFigure('Age of each primary version, against its rotation interval (tick)',
      barChart({ title: 'Age of each primary version against its rotation interval', items: ages, testid: 'chart-key-ages', markerName: 'interval' })),
    rotationsChart(r.keys.map((k) => ({ label: k.key_type, value: k.rotations_in_period, text: num(k.rotations_in_period) }))),
    table({
      caption: 'Key status',
      columns: ['Key', 'Primary', 'Age', 'Next due (UTC)', 'Alert', 'Reason', 'Versions', 'Rotations'],
      rows: r.keys.map((k) => ({
        props: { testid: `report-key-${k.key_type}` },
        cells: [k.key_type, `v${k.primary_version}`, days(k.primary_age_secs), timeEl(k.next_rotation_due),
          alertBadge(k.alert_level, null), h('span', { class: 'wrap' }, k.alert_reason),
          k.versions.map((v) => `v${v.version} ${v.state}`).join(', '), num(k.rotations_in_period)],
      })),
      testid: 'report-keys',
    }),
  ];
}

function monthly(r) {
  const stat = (label, value) => [h('dt', null, label), h('dd', null, value)];
  return [
    h('dl', { class: 'facts columns', testid: 'report-summary' },
      stat('Rotations', num(r.rotations)), stat('Finished', num(r.finished)), stat('Completed', num(r.completed)),
      stat('Failed', num(r.failed)), stat('Rolled back', num(r.rolled_back)),
      stat('Success rate', percent(r.success_rate)), stat('Records migrated', num(r.records_migrated)),
      stat('Migration rate', rate(r.records_per_second)), stat('Record error rate', percent(r.record_error_rate, 3))),
    rotationsChart(countBy(r.events, 'key_type')),
    migratedChart(r.events, 'chart-migrated'),
    eventsTable(r.events, 'Rotations in the period'),
  ];
}

function quarterly(r) {
  return [
    h('p', { testid: 'report-summary' }, `Standards: ${r.standards.join(', ')}. `,
      `${r.keys.filter((k) => k.compliant).length} of ${r.keys.length} keys compliant.`),
    rotationsChart(r.keys.map((k) => ({ label: k.key_type, value: k.rotations.length, text: num(k.rotations.length) }))),
    migratedChart(r.keys.flatMap((k) => k.rotations), 'chart-migrated'),
    table({
      caption: 'Compliance per key',
      columns: ['Key', 'Purpose', 'Interval', 'Grace', 'Rotations', 'Overdue periods', 'Versions in use past grace', 'Compliant'],
      rows: r.keys.map((k) => ({
        props: { testid: `report-key-${k.key_type}` },
        cells: [k.key_type, k.purpose.replace(/_/g, '/'), duration(k.policy.rotation_interval_secs), duration(k.policy.grace_period_secs),
          num(k.rotations.length),
          k.overdue_periods.length
            ? h('ul', { class: 'plain' }, k.overdue_periods.map((p) => h('li', null, `${utc(p.from)} to ${utc(p.to)} (${duration(p.secs)})`)))
            : 'none',
          k.versions_in_use_past_grace.length
            ? k.versions_in_use_past_grace.map((v) => `v${v.version}: ${num(v.records)} records`).join(', ')
            : 'none',
          k.compliant ? badge('compliant', 'ok') : badge('NOT compliant', 'critical')],
      })),
      testid: 'report-compliance',
    }),
  ];
}

const RENDER = { post_rotation: postRotation, weekly, monthly, quarterly };

function reportView(r) {
  const title = KINDS.find(([k]) => k === r.kind)?.[1] || r.kind;
  return h('article', { class: 'report', testid: 'report-view', 'data-kind': r.kind, 'aria-labelledby': 'report-title' },
    h('h2', { id: 'report-title' }, title),
    h('p', { class: 'muted' }, 'Period ', timeEl(r.from), ' to ', timeEl(r.to), ' (end excluded); generated ', timeEl(r.generated_at), '.'),
    (RENDER[r.kind] || (() => h('p', null, 'This report kind is not known to the console.')))(r));
}

export function mount(root, ctx) {
  const kind = h('select', { id: 'report-kind', testid: 'report-kind' }, KINDS.map(([v, t]) => h('option', { value: v }, t)));
  const from = h('input', { id: 'report-from', type: 'datetime-local', step: 1, testid: 'report-from' });
  const to = h('input', { id: 'report-to', type: 'datetime-local', step: 1, testid: 'report-to' });
  const form = h('form', { class: 'filters', testid: 'report-form', 'aria-label': 'Report' },
    h('div', { class: 'field' }, h('label', { for: 'report-kind' }, 'Kind'), kind),
    h('div', { class: 'field' }, h('label', { for: 'report-from' }, 'From (UTC, optional)'), from),
    h('div', { class: 'field' }, h('label', { for: 'report-to' }, 'To (UTC, optional: now)'), to),
    h('div', { class: 'field buttons' }, h('button', { type: 'submit', class: 'primary', testid: 'report-generate' }, 'Show report')));
  const downloads = h('div', { class: 'toolbar', role: 'group', 'aria-label': 'Download the report' },
    h('span', null, 'Download:'),
    FORMATS.map(([format, label, ext]) => h('button', {
      type: 'button', testid: `download-${format}`,
      on: { click: (ev) => download(format, ext, ev.currentTarget) },
    }, label)));
  const body = h('div', { class: 'page-body' });
  replace(root, h('header', { class: 'page-head' }, pageHeading('Reports', 'page-title')),
    h('p', { class: 'muted' }, 'Without dates, a report covers the last 1, 7, 30 or 90 days by kind.'),
    form, downloads, body);

  const params = () => ({ kind: kind.value, from: localInputToRfc3339(from.value), to: localInputToRfc3339(to.value) });

  async function show() {
    replace(body, loading('the report'));
    try {
      const report = await api.get('key-rotation/report', params());
      if (!ctx.alive()) return;
      replace(body, reportView(report));
    } catch (e) {
      if (ctx.alive()) replace(body, errorBox(e, show));
    }
  }

  async function download(format, ext, button) {
    button.disabled = true;
    try {
      const p = params();
      // The server names CSV and Markdown downloads; the fallback follows its pattern.
      const { blob, filename } = await api.download('key-rotation/report', { ...p, format }, `rekey-${p.kind}-report.${ext}`);
      saveBlob(blob, filename);
      sayDone(`Report saved as ${filename}.`);
    } catch (e) {
      sayError(`Downloading the report failed. ${describeError(e)}`);
    } finally {
      button.disabled = false;
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    show();
  });
  show();
  return () => {};
}
