// Inline SVG drawings, made from data by hand (no chart library, no CDN): a key's version
// timeline, a key's age against its policy, and horizontal bar charts for the reports. Colors
// come from classes in style.css (so the dark theme applies), and every mark has a text label
// or a <title>: nothing is said by color alone. Each SVG is role="img" with a label that says in
// words what it draws, for screen readers.

import { s } from './dom.js';
import { utcDate, utc, days } from './format.js';

const DAY_MS = 86400000;

function ms(iso) {
  return iso ? new Date(iso).getTime() : null;
}

function svgRoot(width, height, label, testid, extraClass) {
  return s('svg', {
    class: ['chart', extraClass],
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': label,
    testid,
    preserveAspectRatio: 'xMinYMin meet',
  });
}

/** A vertical marker line across `top..bottom` with a label above it. */
function marker(x, top, bottom, text, cls, anchor = 'middle') {
  return s('g', { class: ['marker', cls] },
    s('line', { x1: x, x2: x, y1: top, y2: bottom }),
    s('text', { x, y: top - 4, 'text-anchor': anchor }, text));
}

/**
 * A key's versions on one time axis: a row per version, a bar from its creation to its
 * retirement (or now), in segments by state (active, then deprecated), with its name and state
 * written beside it; "now", the rotation due date and the end of the grace period are marked.
 */
export function versionTimeline(key, nowMs = Date.now()) {
  const versions = [...(key.versions || [])].sort((a, b) => a.version - b.version);
  const due = ms(key.next_rotation_due);
  const graceEnd = due === null ? null : due + (key.grace_period_secs || 0) * 1000;
  const start = Math.min(...versions.map((v) => ms(v.created_at)), nowMs);
  const end = Math.max(nowMs, due ?? nowMs, graceEnd ?? nowMs, start + DAY_MS);
  const width = 1000;
  const labelW = 150;
  const right = 10;
  const top = 40;
  const row = 26;
  const height = top + versions.length * row + 22;
  const plotW = width - labelW - right;
  const x = (t) => labelW + ((t - start) / (end - start)) * plotW;
  const summary = versions
    .map((v) => `version ${v.version} ${v.state}, created ${utcDate(v.created_at)}`
      + (v.deprecated_at ? `, deprecated ${utcDate(v.deprecated_at)}` : '')
      + (v.retired_at ? `, retired ${utcDate(v.retired_at)}` : ''))
    .join('; ');
  const svg = svgRoot(width, height, `Timeline of ${key.key_type}: ${summary}. Rotation due ${utcDate(key.next_rotation_due)}.`,
    'key-timeline', 'timeline');

  versions.forEach((v, i) => {
    const y = top + i * row;
    const created = ms(v.created_at);
    const deprecated = ms(v.deprecated_at);
    const retired = ms(v.retired_at);
    const g = s('g', { class: 'version-row', 'data-version': v.version });
    g.append(s('title', null,
      `v${v.version} (${v.state}): created ${utc(v.created_at)}`
      + (v.deprecated_at ? `, deprecated ${utc(v.deprecated_at)}` : '')
      + (v.retired_at ? `, retired ${utc(v.retired_at)}` : '')));
    g.append(s('text', { x: 0, y: y + 16, class: 'row-label' }, `v${v.version} · ${v.state}`));
    // A version re-activated by a rollback keeps an old deprecated_at: while active, it is
    // active from its creation until now.
    const activeEnd = v.state === 'active' ? nowMs : (deprecated ?? retired ?? nowMs);
    const segments = [['active', created, activeEnd]];
    if (v.state !== 'active' && deprecated !== null) segments.push(['deprecated', deprecated, retired ?? nowMs]);
    for (const [state, from, to] of segments) {
      const x0 = x(from);
      const w = Math.max(3, x(to) - x0);
      g.append(s('rect', { x: x0, y: y + 4, width: w, height: row - 10, rx: 3, class: `seg seg-${state}` }));
    }
    if (retired !== null) {
      // An end cap with a cross: retired versions are refused for every operation.
      const xr = x(retired);
      g.append(s('path', { d: `M${xr - 5} ${y + 6} l10 12 m0 -12 l-10 12`, class: 'retired-cap' }));
    }
    svg.append(g);
  });

  const bottom = top + versions.length * row;
  // "now" and the due date are labelled above the rows, the end of the grace period below
  // them, so that the labels never run into each other however close the dates are.
  svg.append(marker(x(nowMs), top - 8, bottom, 'now', 'marker-now', 'end'));
  if (due !== null) {
    // Close to "now" (a key about due, or just overdue), the due label goes a line higher.
    const crowded = Math.abs(x(due) - x(nowMs)) < 140;
    svg.append(marker(x(due), crowded ? top - 22 : top - 8, bottom, `due ${utcDate(key.next_rotation_due)}`,
      'marker-due', x(due) > width - 120 ? 'end' : 'start'));
  }
  svg.append(s('text', { x: labelW, y: height - 4, class: 'axis-label' }, utcDate(new Date(start).toISOString())));
  if (graceEnd !== null && key.grace_period_secs > 0) {
    const xg = x(graceEnd);
    svg.append(s('g', { class: 'marker marker-grace' },
      s('line', { x1: xg, x2: xg, y1: top - 8, y2: bottom + 4 }),
      s('text', { x: xg, y: height - 4, 'text-anchor': 'end' }, `grace ends ${utcDate(new Date(graceEnd).toISOString())}`)));
  }
  return svg;
}

/**
 * The primary's age on a scale up to past the end of the grace period: a bar for the age in
 * the alert level's class, ticks at the due date and at the end of the grace period.
 */
export function ageGauge({ ageSecs, intervalSecs, graceSecs, level, label }) {
  const width = 360;
  const height = 48;
  const limit = intervalSecs + graceSecs;
  const max = Math.max(limit * 1.1, ageSecs * 1.05, 1);
  const x = (secs) => 4 + (secs / max) * (width - 8);
  const svg = svgRoot(width, height, label, 'key-age-gauge', 'gauge');
  svg.append(s('rect', { x: 4, y: 18, width: width - 8, height: 12, rx: 3, class: 'gauge-track' }));
  svg.append(s('rect', { x: x(intervalSecs), y: 18, width: Math.max(0, x(limit) - x(intervalSecs)), height: 12, class: 'gauge-grace' }));
  svg.append(s('rect', { x: 4, y: 18, width: Math.max(2, x(ageSecs) - 4), height: 12, rx: 3, class: `gauge-age level-${String(level).toLowerCase()}` }));
  svg.append(marker(x(intervalSecs), 14, 34, 'due', 'marker-due'));
  // The end of the grace period is labelled below the bar: above it, it would run into "due".
  svg.append(s('g', { class: 'marker marker-grace' },
    s('line', { x1: x(limit), x2: x(limit), y1: 14, y2: 34 }),
    s('text', { x: x(limit), y: 45, 'text-anchor': 'end' }, 'grace end')));
  svg.append(s('text', { x: 4, y: 45, class: 'axis-label' }, `age ${days(ageSecs)}`));
  return svg;
}

/**
 * A horizontal bar chart: one labelled bar per item with its value written after it, and
 * optionally a tick per item (e.g. the rotation interval a key's age is measured against).
 * `items`: [{label, value, text, marker, markerText, cls}].
 */
export function barChart({ title, items, testid, markerName }) {
  const width = 1000;
  const labelW = 200;
  const valueW = 230;
  const row = 28;
  const top = 8;
  const height = top + Math.max(1, items.length) * row + 8;
  const max = Math.max(1, ...items.map((i) => Math.max(i.value || 0, i.marker || 0)));
  const plotW = width - labelW - valueW;
  const x = (v) => labelW + (v / max) * plotW;
  const said = items.map((i) => `${i.label}: ${i.text ?? i.value}${i.marker ? `, ${markerName || 'limit'} ${i.markerText ?? i.marker}` : ''}`);
  const svg = svgRoot(width, height, `${title}. ${said.join('; ') || 'No data.'}`, testid, 'bars');
  if (!items.length) {
    svg.append(s('text', { x: 0, y: top + 18, class: 'axis-label' }, 'No data in this period.'));
    return svg;
  }
  items.forEach((item, i) => {
    const y = top + i * row;
    const g = s('g', null, s('title', null, said[i]));
    g.append(s('text', { x: labelW - 8, y: y + 18, 'text-anchor': 'end', class: 'row-label' }, item.label));
    g.append(s('rect', { x: labelW, y: y + 5, width: Math.max(2, x(item.value || 0) - labelW), height: row - 10, rx: 3, class: ['bar', item.cls] }));
    if (item.marker) {
      const xm = x(item.marker);
      g.append(s('line', { x1: xm, x2: xm, y1: y + 1, y2: y + row - 1, class: 'bar-marker' }));
    }
    const textX = Math.max(x(item.value || 0), item.marker ? x(item.marker) : 0) + 8;
    g.append(s('text', { x: textX, y: y + 18, class: 'value-label' }, item.text ?? String(item.value)));
    svg.append(g);
  });
  return svg;
}
