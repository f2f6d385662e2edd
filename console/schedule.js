// The Schedule page: when the automated scheduler runs next, per key its last rotation and
// next due date, and what that next run will rotate (the keys due by then), so an operator
// can plan a maintenance window (runbook: "Review rotation schedule").

import { api } from './api.js';
import { h, replace, table, badge, loading, errorBox, pageHeading } from './dom.js';
import { timeEl, relative, duration, utc } from './format.js';

/** A six-field cron (`sec min hour day month weekday`) said in words when it is a daily one. */
export function cronWords(cron) {
  const f = String(cron || '').trim().split(/\s+/);
  if (f.length === 6 && f.slice(3).every((x) => x === '*') && f.slice(0, 3).every((x) => /^\d+$/.test(x))) {
    const [sec, min, hour] = f.map((x) => x.padStart(2, '0'));
    return `every day at ${hour}:${min}${sec !== '00' ? `:${sec}` : ''} UTC`;
  }
  return `cron "${cron}" (UTC)`;
}

function nextRunSection(schedule, due, now) {
  if (!schedule.scheduler_enabled) {
    return h('section', { class: 'card', testid: 'schedule-next-run', 'aria-labelledby': 'next-run-title' },
      h('h2', { id: 'next-run-title' }, 'Automated scheduler'),
      h('p', null, badge('disabled', 'warning'), ' The scheduler is off: no key is rotated automatically. ',
        'Keys that are due must be rotated by hand (Keys page, "Rotate now").'));
  }
  return h('section', { class: 'card', testid: 'schedule-next-run', 'aria-labelledby': 'next-run-title' },
    h('h2', { id: 'next-run-title' }, 'Next scheduler run'),
    h('p', { class: 'big' }, schedule.next_run ? timeEl(schedule.next_run, now) : 'not planned',
      schedule.next_run ? ` (${relative(schedule.next_run, now)})` : ''),
    h('p', { class: 'muted' }, `Runs ${cronWords(schedule.cron)}.`),
    h('h3', null, 'What that run will rotate'),
    due.length
      ? h('ul', { testid: 'schedule-due-list' }, due.map((k) =>
        h('li', { 'data-key': k.key_type }, h('strong', null, k.key_type), ` (primary v${k.primary_version}, `,
          k.due ? `due since ${utc(k.next_rotation_due)})` : `due ${utc(k.next_rotation_due)})`)))
      : h('p', { testid: 'schedule-due-list' }, 'Nothing: no key is due by then.'));
}

export function mount(root, ctx) {
  const body = h('div', { class: 'page-body' }, loading('the schedule'));
  const refresh = h('button', { type: 'button', testid: 'schedule-refresh', on: { click: () => load() } }, 'Refresh');
  replace(root, h('header', { class: 'page-head' }, pageHeading('Schedule', 'page-title'), refresh), body);

  async function load() {
    replace(body, loading('the schedule'));
    try {
      const schedule = await api.get('key-rotation/schedule');
      if (!ctx.alive()) return;
      const now = Date.now();
      const horizon = schedule.next_run ? new Date(schedule.next_run).getTime() : now;
      const byNextRun = (k) => k.due || new Date(k.next_rotation_due).getTime() <= horizon;
      const due = schedule.keys.filter(byNextRun);
      replace(body,
        nextRunSection(schedule, schedule.scheduler_enabled ? due : [], now),
        table({
          caption: 'Rotation schedule per key',
          columns: ['Key', 'Primary', 'Last rotation (UTC)', 'Next due (UTC)', 'Interval', 'Grace period', 'Due'],
          rows: schedule.keys.map((k) => ({
            props: { testid: `schedule-key-${k.key_type}` },
            cells: [
              k.key_type,
              `v${k.primary_version}`,
              timeEl(k.last_rotation, now),
              h('span', null, timeEl(k.next_rotation_due, now), h('br'), h('span', { class: 'muted' }, relative(k.next_rotation_due, now))),
              duration(k.rotation_interval_secs),
              duration(k.grace_period_secs),
              k.due ? badge('due now', 'warning', 'schedule-due')
                : byNextRun(k) ? badge('at next run', 'info', 'schedule-due') : badge('not yet', 'neutral', 'schedule-due'),
            ],
          })),
          testid: 'schedule-table',
        }));
    } catch (e) {
      if (ctx.alive()) replace(body, errorBox(e, load));
    }
  }

  load();
  return () => {};
}
