// The console's one aria-live region: results of actions and their errors are written here,
// so that a screen reader says them and a sighted user sees them in the same place. Errors are
// prefixed with "Error:" (never told by color alone).

import { h, replace } from './dom.js';

function region() {
  return document.getElementById('live');
}

function show(kind, text, extra) {
  const el = region();
  if (!el) return;
  const prefix = kind === 'error' ? 'Error: ' : kind === 'success' ? 'Done: ' : '';
  replace(el,
    h('div', { class: ['live-message', `live-${kind}`], testid: `live-${kind}` },
      h('span', null, prefix ? h('strong', null, prefix) : null, text),
      extra || null,
      h('button', {
        type: 'button', class: 'link-button', 'aria-label': 'Dismiss message',
        on: { click: () => clearMessage() },
      }, 'Dismiss')));
}

/** A result: "Done: rotation started". */
export function sayDone(text, extra) {
  show('success', text, extra);
}

/** Neutral news: "Refreshing…". */
export function sayInfo(text, extra) {
  show('info', text, extra);
}

/** A failure, said plainly. */
export function sayError(text, extra) {
  show('error', text, extra);
}

export function clearMessage() {
  const el = region();
  if (el) el.replaceChildren();
}
