// Building the page from data without innerHTML: every value the server sends is set as text,
// so a key name or audit detail can never become markup. Styles are set through classes only
// (the Content-Security-Policy forbids inline style attributes).

import { ApiError, describeError } from './api.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, props) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    else if (name === 'text') el.textContent = String(value);
    else if (name === 'testid') el.setAttribute('data-testid', value);
    else if (name === 'on') for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn);
    else if (name === 'value') {
      // The attribute is the default a form reset returns to; the property is what shows.
      el.setAttribute('value', value);
      if ('value' in el) el.value = value;
    }
    else el.setAttribute(name, value === true ? '' : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element: `h('button', {class: 'x', on: {click}}, 'Label')`. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  apply(el, props);
  append(el, children);
  return el;
}

/** An SVG element, same calling convention as `h`. */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, props);
  append(el, children);
  return el;
}

/** Replaces an element's content. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * A table with column headers (`<th scope="col">`) and, when `rowHeader` is set, the first
 * cell of each row as `<th scope="row">`. `rows` are arrays of cells, or `{cells, props}`.
 */
export function table({ caption, columns, rows, rowHeader = true, testid, className }) {
  const head = h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col' }, c))));
  const body = h('tbody', null,
    rows.map((row) => {
      const { cells, props } = Array.isArray(row) ? { cells: row, props: null } : row;
      return h('tr', props, cells.map((cell, i) =>
        i === 0 && rowHeader ? h('th', { scope: 'row' }, cell) : h('td', null, cell)));
    }));
  return h('div', { class: 'table-wrap' },
    h('table', { class: className, testid }, caption ? h('caption', null, caption) : null, head, body));
}

/** A badge for a state word: the word itself is shown, the color only repeats it. */
export function badge(word, kind, testid) {
  return h('span', { class: ['badge', `badge-${kind || 'neutral'}`], testid }, word);
}

/** A loading line that screen readers announce politely. */
export function loading(what) {
  return h('p', { class: 'loading', role: 'status' }, `Loading ${what}…`);
}

/**
 * A failure in place of the content it prevented, said plainly, with a Retry button when
 * trying again can help.
 */
export function errorBox(error, retry) {
  // A 401 signs out (app.js), so a Retry would only fail again.
  const canRetry = retry && !(error instanceof ApiError && error.status === 401);
  return h('div', { class: 'error-box', role: 'alert', testid: 'error' },
    h('p', null, h('strong', null, 'Error: '), describeError(error)),
    canRetry ? h('button', { type: 'button', testid: 'error-retry', on: { click: retry } }, 'Retry') : null);
}

/** A page's heading: focusable so that the router can move focus to it for screen readers. */
export function pageHeading(text, testid) {
  return h('h1', { tabindex: '-1', class: 'page-title', testid }, text);
}

/**
 * Runs `render` (which replaces part of `root`) and puts the keyboard focus back on the
 * equivalent element afterwards, found by its `data-testid` within its row's: a periodic
 * refresh must not throw a keyboard user back to the top of the page.
 */
export function preserveFocus(root, render) {
  const active = document.activeElement;
  let selector = null;
  if (active && root.contains(active) && active.dataset?.testid) {
    const row = active.parentElement?.closest('[data-testid]');
    const own = `[data-testid="${CSS.escape(active.dataset.testid)}"]`;
    selector = row && root.contains(row) ? `[data-testid="${CSS.escape(row.dataset.testid)}"] ${own}` : own;
  }
  render();
  if (selector) root.querySelector(selector)?.focus();
}

/**
 * A link to an event's page showing its id shortened (`evt-77ced310…`) so wide tables stay
 * readable; the whole id is its tooltip and accessible name.
 */
export function eventLink(id) {
  const short = id.length > 16 ? `${id.slice(0, 12)}…` : id;
  return h('a', { href: `#/events/${encodeURIComponent(id)}`, title: id, 'aria-label': id, 'data-event-id': id }, short);
}
