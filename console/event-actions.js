// The runbook's three remedies for a rotation event — Retry (a failed migration), Execute
// (run now with another batch size) and Roll back — each behind a dialog that says what will
// happen, and each reported in the live region. Shared by the events list and the event page.

import { api, describeError } from './api.js';
import { h } from './dom.js';
import { num } from './format.js';
import { confirmAction } from './dialog.js';
import { sayDone, sayError, sayInfo } from './live.js';

export const BATCH_MIN = 1;
export const BATCH_MAX = 100000;

const FINISHED = new Set(['completed', 'rolled_back']);

export function isActive(event) {
  return event.status === 'pending' || event.status === 'in_progress';
}

/**
 * Which actions the server would accept for this event (it checks again and may refuse).
 * A `superseded` event (a newer rotation of its key exists) can no longer be retried,
 * executed or rolled back.
 */
export function allowed(event, superseded = false) {
  if (superseded) return { retry: false, execute: false, rollback: false };
  return {
    retry: event.status === 'failed',
    execute: !FINISHED.has(event.status),
    rollback: event.status !== 'rolled_back' && !event.rolling_back,
  };
}

function label(event) {
  return `${event.key_type} v${event.from_version} → v${event.to_version}`;
}

async function perform(button, doing, call, done, after) {
  if (button) button.disabled = true;
  sayInfo(doing);
  try {
    const event = await call();
    sayDone(done(event));
    after?.(event);
  } catch (e) {
    sayError(describeError(e));
  } finally {
    if (button?.isConnected) button.disabled = false;
  }
}

export async function retry(event, button, after) {
  const failed = event.totals?.failed || 0;
  const ok = await confirmAction({
    title: `Retry event ${event.event_id}?`,
    message: `This resumes the failed migration of ${label(event)} from its checkpoint: `
      + `records not yet examined${failed ? ` and the ${num(failed)} that failed` : ''} are migrated to v${event.to_version}.`,
    details: event.last_error ? [`Last error: ${event.last_error}`] : [],
    confirmLabel: 'Retry migration',
  });
  if (!ok) return;
  await perform(button, `Retrying ${event.event_id}…`,
    () => api.post(`key-rotation/retry/${encodeURIComponent(event.event_id)}`),
    (e) => `event ${e.event_id} is running again (${e.status.replace(/_/g, ' ')}).`, after);
}

export async function execute(event, button, after) {
  const input = h('input', {
    id: 'batch-size', name: 'batch_size', type: 'number', min: BATCH_MIN, max: BATCH_MAX, step: 1,
    required: true, inputmode: 'numeric', testid: 'batch-size', value: String(event.batch_size || 1000),
  });
  const field = h('div', { class: 'field' },
    h('label', { for: 'batch-size' }, `Batch size (records per batch, ${BATCH_MIN} to ${num(BATCH_MAX)})`),
    input);
  const ok = await confirmAction({
    title: `Execute event ${event.event_id} now?`,
    message: `This runs the migration of ${label(event)} now`
      + (event.status === 'failed' ? ', resuming it from its checkpoint,' : '')
      + ` with the batch size below from now on (it is ${num(event.batch_size)} records per batch).`,
    details: ['Smaller batches put less load on the database; larger ones finish sooner.'],
    confirmLabel: 'Execute',
    field,
    validate: () => {
      const n = Number(input.value);
      return Number.isInteger(n) && n >= BATCH_MIN && n <= BATCH_MAX
        ? '' : `The batch size must be a whole number from ${BATCH_MIN} to ${num(BATCH_MAX)}.`;
    },
  });
  if (!ok) return;
  const batchSize = Number(input.value);
  await perform(button, `Executing ${event.event_id}…`,
    () => api.post('key-rotation/execute', { event_id: event.event_id, batch_size: batchSize }),
    (e) => `event ${e.event_id} runs with batches of ${num(e.batch_size)} records (${e.status.replace(/_/g, ' ')}).`, after);
}

export async function rollback(event, button, after) {
  const migrated = event.totals?.migrated || 0;
  const ok = await confirmAction({
    title: `Roll back event ${event.event_id}?`,
    message: `This makes v${event.from_version} of ${event.key_type} primary again, deprecates v${event.to_version}, `
      + `and migrates the records already moved to v${event.to_version} (${num(migrated)} so far) back to v${event.from_version}.`,
    details: [
      'No key material is destroyed; the event ends "rolled back".',
      `The server refuses if ${event.key_type} was rotated again since, or if v${event.from_version} is retired.`,
    ],
    confirmLabel: 'Roll back',
    danger: true,
  });
  if (!ok) return;
  await perform(button, `Rolling back ${event.event_id}…`,
    () => api.post(`key-rotation/rollback/${encodeURIComponent(event.event_id)}`),
    (e) => `event ${e.event_id} is rolling back to v${e.from_version}.`, after);
}

/** The action buttons the event allows, each with its test id. */
export function actionButtons(event, after, superseded = false) {
  if (superseded) {
    return h('p', { class: 'muted', testid: 'event-superseded' }, 'Superseded by a newer rotation of this key.');
  }
  const can = allowed(event);
  const button = (testid, text, cls, fn) => {
    const b = h('button', { type: 'button', class: cls, testid, 'aria-label': `${text} ${event.event_id}` }, text);
    b.addEventListener('click', () => fn(event, b, after));
    return b;
  };
  return h('div', { class: 'actions' },
    can.retry ? button('retry-button', 'Retry', 'primary', retry) : null,
    can.execute ? button('execute-button', 'Execute…', null, execute) : null,
    can.rollback ? button('rollback-button', 'Roll back', 'danger', rollback) : null);
}
