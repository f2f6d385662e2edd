// How numbers, times and durations read on every page. The server speaks UTC (RFC 3339 to the
// second) and whole seconds; the console shows UTC too, so that what an operator reads matches
// the audit trail, the CLI and the reports to the second.

import { h } from './dom.js';

const DAY = 86400;

/** `2026-12-03 18:50:06 UTC`, or a dash for no time. */
export function utc(iso) {
  if (!iso) return '—';
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return String(iso);
  return `${t.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** `2026-12-03` (UTC). */
export function utcDate(iso) {
  return iso ? utc(iso).slice(0, 10) : '—';
}

/** A `<time>` element showing UTC, with the relative time as its tooltip. */
export function timeEl(iso, now = Date.now()) {
  if (!iso) return '—';
  return h('time', { datetime: iso, title: relative(iso, now) }, utc(iso));
}

/** A length of time in the largest sensible units: `90 days`, `3 h 5 min`, `42 s`. */
export function duration(secs) {
  if (secs === null || secs === undefined || !Number.isFinite(secs)) return '—';
  const neg = secs < 0;
  let s = Math.round(Math.abs(secs));
  let text;
  if (s >= 2 * DAY) text = `${Math.floor(s / DAY)} days`;
  else if (s >= DAY) {
    const hours = Math.floor((s % DAY) / 3600);
    text = hours ? `1 day ${hours} h` : '1 day';
  } else if (s >= 3600) {
    const min = Math.floor((s % 3600) / 60);
    text = `${Math.floor(s / 3600)} h${min ? ` ${min} min` : ''}`;
  } else if (s >= 60) {
    const rest = s % 60;
    text = `${Math.floor(s / 60)} min${rest ? ` ${rest} s` : ''}`;
  } else text = `${s} s`;
  return neg ? `-${text}` : text;
}

/** Days with one decimal below ten days: for ages against a policy in days. */
export function days(secs) {
  if (secs < DAY) return duration(secs);
  const d = secs / DAY;
  return `${d < 10 ? d.toFixed(1) : Math.round(d)} days`;
}

/** `in 3 days` or `5 h ago`. */
export function relative(iso, now = Date.now()) {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const secs = (t - now) / 1000;
  if (Math.abs(secs) < 1) return 'now';
  return secs > 0 ? `in ${duration(secs)}` : `${duration(-secs)} ago`;
}

/** Grouped thousands: `12,345`. */
export function num(n) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return '—';
  return Number(n).toLocaleString('en-US');
}

/** A rate of records per second, to a sensible precision. */
export function rate(perSecond) {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '—';
  return `${perSecond < 10 ? perSecond.toFixed(1) : num(Math.round(perSecond))} records/s`;
}

/** A ratio 0..1 as a percentage. */
export function percent(ratio, digits = 1) {
  if (!Number.isFinite(ratio)) return '—';
  return `${(ratio * 100).toFixed(digits)}%`;
}

/** The words of a status such as `in_progress` or `rolled_back`. */
export function words(status) {
  return String(status || '').replace(/_/g, ' ');
}

/**
 * The value of an `<input type="datetime-local">`, read as UTC (the labels say so), as RFC 3339;
 * empty stays empty.
 */
export function localInputToRfc3339(value) {
  if (!value) return '';
  const withSeconds = value.length === 16 ? `${value}:00` : value;
  return `${withSeconds}Z`;
}

/** The reverse: an RFC 3339 time as the value of a datetime-local input, in UTC. */
export function rfc3339ToLocalInput(iso) {
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? '' : t.toISOString().slice(0, 16);
}
