// How far a migration is and how long it has left. The event says how many records were
// migrated but not how many there are in all: that comes from the key's impact (records still
// under other versions), read once per event and then at most once a minute, since counting
// them scans the application's tables; the polls in between only read the event.

import { api } from './api.js';
import { isActive } from './event-actions.js';

const TOTAL_TTL_MS = 60000;
const RATE_WINDOW_MS = 20000;

// event id → {total, at, target}: the estimated total of the event's current direction.
const totals = new Map();
// event id → [{t, m}]: migrated counts seen at poll times.
const samples = new Map();

/** The version records are moving to: the to-version, or the from-version while rolling back. */
function targetVersion(e) {
  return e.rolling_back ? e.from_version : e.to_version;
}

function wantsTotal(e) {
  return isActive(e) || e.status === 'failed';
}

/**
 * Reads the impact of each key with an event that needs a (fresh) total: one read per key
 * however many of its events need it. A failed read leaves the total unknown: the progress then
 * shows counts only.
 */
export async function refreshTotals(events, now = Date.now()) {
  const dueByKey = new Map();
  for (const e of events) {
    const cached = totals.get(e.event_id);
    const stale = !cached || cached.target !== targetVersion(e) || now - cached.at > TOTAL_TTL_MS;
    if (!wantsTotal(e) || !stale) continue;
    if (!dueByKey.has(e.key_type)) dueByKey.set(e.key_type, []);
    dueByKey.get(e.key_type).push(e);
  }
  await Promise.all([...dueByKey].map(async ([key, due]) => {
    let impact;
    try {
      impact = await api.get(`key-rotation/impact/${encodeURIComponent(key)}`);
    } catch {
      return; // Unknown total: counts only.
    }
    for (const e of due) {
      // The impact counts what is not yet on the key's primary: only about the event moving
      // records to that version.
      if (impact.primary_version !== targetVersion(e)) continue;
      const migrated = e.totals?.migrated || 0;
      totals.set(e.event_id, { total: migrated + (impact.records_to_migrate || 0), at: now, target: targetVersion(e) });
    }
  }));
}

/**
 * Throughput seen between polls. The server's records_per_second counts working time only
 * (not the pauses of its rate limit), so an ETA from it would be far too hopeful; what the
 * console sees move over the last seconds is what an operator waits through.
 */
function observedRate(event, now) {
  const migrated = event.totals?.migrated || 0;
  const list = (samples.get(event.event_id) || []).filter((p) => now - p.t <= RATE_WINDOW_MS && p.m <= migrated);
  list.push({ t: now, m: migrated });
  samples.set(event.event_id, list);
  const secs = (now - list[0].t) / 1000;
  return secs >= 1.5 ? (migrated - list[0].m) / secs : null;
}

/** The rate to show and to count the time left with: seen, else the server's within its limit. */
export function effectiveRate(event, now = Date.now()) {
  if (!isActive(event)) return event.records_per_second || 0;
  const seen = observedRate(event, now);
  if (seen !== null) return seen;
  const work = event.records_per_second || 0;
  return event.rate_limit > 0 ? Math.min(work, event.rate_limit) : work;
}

/**
 * `done` records migrated of `total` (null: unknown), the fraction done and the seconds left
 * (null: unknown), as `rekey rotate --wait` counts them.
 */
export function progressOf(event, rps = event.records_per_second || 0) {
  const done = event.totals?.migrated || 0;
  if (event.status === 'completed') return { done, total: done, fraction: 1, eta: 0 };
  const cached = totals.get(event.event_id);
  let total = null;
  if (cached && cached.target === targetVersion(event) && event.status !== 'rolled_back') {
    total = Math.max(done, cached.total);
    // Nothing left to count while the worker has not finished a target: the count is not to be
    // trusted (a target unreadable just now), so say nothing rather than 100%.
    if (total === done && !(event.targets || []).every((t) => t.done)) total = null;
  }
  const fraction = total ? done / total : total === 0 ? 1 : null;
  const eta = total !== null && rps > 0 && isActive(event) ? (total - done) / rps : null;
  return { done, total, fraction, eta };
}
