// The Audit page, for auditors: the hash-chained audit trail filtered by key, operation,
// principal and time, paged with "Load more" (after_seq), the chain verified on demand, and
// the records shown exported as JSON or CSV (made in the browser: no URL carries the token).

import { api, describeError } from './api.js';
import { h, replace, table, badge, loading, errorBox, pageHeading, eventLink } from './dom.js';
import { timeEl, num, localInputToRfc3339, utc } from './format.js';
import { saveBlob, toCsv } from './download.js';
import { sayDone, sayError } from './live.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const COLUMNS = ['seq', 'at', 'principal', 'operation', 'key_name', 'key_version', 'event_id', 'outcome',
  'records', 'detail', 'request_id', 'prev_hash', 'hash'];
// The operations the server records (denials are recorded under the refused route's name).
const OPERATIONS = ['Rotate (scheduled)', 'Rotate (manual)', 'Rotate (emergency)', 'Rollback', 'ExecuteEvent',
  'RetryEvent', 'RollbackEvent', 'Migration completed', 'Migration failed', 'Migration rolled_back',
  'CreateToken', 'RevokeToken', 'VerifyAudit', 'RetireVersion', 'ImportKey', 'data_plane.summary'];
const OUTCOME_KIND = { success: 'ok', denied: 'warning', failed: 'critical' };

function input(id, labelText, props) {
  return h('div', { class: 'field' }, h('label', { for: id }, labelText), h('input', { id, name: id, ...props }));
}

function filterForm() {
  return h('form', { class: 'filters', testid: 'audit-filters', 'aria-label': 'Filter audit records' },
    input('audit-key', 'Key', { type: 'text', testid: 'audit-filter-key', placeholder: 'any key' }),
    input('audit-operation', 'Operation', { type: 'text', testid: 'audit-filter-operation', list: 'audit-operations', placeholder: 'any operation' }),
    h('datalist', { id: 'audit-operations' }, OPERATIONS.map((o) => h('option', { value: o }))),
    input('audit-principal', 'Principal', { type: 'text', testid: 'audit-filter-principal', placeholder: 'any principal' }),
    input('audit-from', 'From (UTC)', { type: 'datetime-local', step: 1, testid: 'audit-filter-from' }),
    input('audit-to', 'To (UTC, exclusive)', { type: 'datetime-local', step: 1, testid: 'audit-filter-to' }),
    input('audit-limit', 'Records per page', { type: 'number', min: 1, max: MAX_LIMIT, step: 1, value: String(DEFAULT_LIMIT), testid: 'audit-filter-limit' }),
    h('div', { class: 'field buttons' },
      h('button', { type: 'submit', class: 'primary', testid: 'audit-apply' }, 'Search'),
      h('button', { type: 'reset', testid: 'audit-reset' }, 'Clear')));
}

function recordRow(r, faultSeq) {
  const fault = r.seq === faultSeq;
  return {
    props: { testid: `audit-row-${r.seq}`, 'data-seq': r.seq, class: fault ? 'row-fault' : null },
    cells: [
      fault ? h('span', null, String(r.seq), ' ', badge('first broken', 'critical')) : String(r.seq),
      timeEl(r.at),
      r.principal,
      r.operation,
      r.key_name ? `${r.key_name}${r.key_version ? ` v${r.key_version}` : ''}` : '—',
      r.event_id ? eventLink(r.event_id) : '—',
      badge(r.outcome, OUTCOME_KIND[r.outcome]),
      r.records === null || r.records === undefined ? '—' : num(r.records),
      h('span', { class: 'wrap' }, r.detail || '—'),
      h('code', { title: `hash ${r.hash}\nprevious ${r.prev_hash}` }, r.hash.slice(0, 12)),
    ],
  };
}

function verifyResult(v, showFault) {
  if (v.intact) {
    return h('div', { class: 'verify ok', testid: 'verify-result', 'data-intact': 'true' },
      h('p', null, badge('INTACT', 'ok'), ` The chain is intact: ${num(v.rows)} records checked.`),
      h('p', null, 'Head hash: ', h('code', { testid: 'verify-head-hash', class: 'wrap' }, v.head_hash || '—')),
      h('p', { class: 'muted' }, 'Keep this head hash outside the database: if it ever stops matching, '
        + 'the chain was rewritten from some record on.'));
  }
  return h('div', { class: 'verify broken', role: 'alert', testid: 'verify-result', 'data-intact': 'false' },
    h('p', null, badge('BROKEN', 'critical'),
      h('strong', null, ` The chain is broken at record ${v.fault_seq ?? '?'}`),
      ` (${num(v.rows)} records checked).`),
    h('p', null, 'First fault: ', h('span', { testid: 'verify-fault' }, v.first_fault || 'not described')),
    h('p', { class: 'muted' }, 'Records from that one on cannot be trusted: compare them with a backup or export.'),
    v.fault_seq ? h('button', { type: 'button', testid: 'verify-show-fault', on: { click: () => showFault(v.fault_seq) } },
      `Show record ${v.fault_seq}`) : null);
}

export function mount(root, ctx) {
  const form = filterForm();
  const results = h('div', { class: 'page-body' });
  const count = h('p', { class: 'muted', testid: 'audit-count', role: 'status' });
  const more = h('button', { type: 'button', testid: 'audit-load-more', hidden: true }, 'Load more');
  const exportJson = h('button', { type: 'button', testid: 'export-json', disabled: true }, 'Export JSON');
  const exportCsv = h('button', { type: 'button', testid: 'export-csv', disabled: true }, 'Export CSV');
  const verifyButton = h('button', { type: 'button', class: 'primary', testid: 'verify-chain' }, 'Verify chain');
  const verifyBox = h('div', { 'aria-live': 'polite', testid: 'verify-box' });
  replace(root,
    h('header', { class: 'page-head' }, pageHeading('Audit trail', 'page-title')),
    h('section', { class: 'card', 'aria-labelledby': 'verify-title' },
      h('h2', { id: 'verify-title' }, 'Integrity'),
      h('p', null, 'Each record carries the hash of the one before it. Verifying recomputes the whole chain '
        + '(and is itself recorded in the trail).'),
      verifyButton, verifyBox),
    form,
    h('div', { class: 'toolbar' }, count, h('span', { class: 'spacer' }), exportJson, exportCsv),
    results,
    more);

  let records = [];
  let query = {};
  let faultSeq = null;

  const field = (id) => form.querySelector(`#${id}`).value.trim();

  function readQuery() {
    const limit = Number(field('audit-limit') || DEFAULT_LIMIT);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new Error(`records per page must be a whole number from 1 to ${MAX_LIMIT}`);
    }
    return {
      key: field('audit-key'),
      operation: field('audit-operation'),
      principal: field('audit-principal'),
      from: localInputToRfc3339(field('audit-from')),
      to: localInputToRfc3339(field('audit-to')),
      limit,
    };
  }

  function render() {
    replace(results, records.length
      ? table({
        caption: 'Audit records, oldest first',
        columns: ['Seq', 'Time (UTC)', 'Principal', 'Operation', 'Key', 'Event', 'Outcome', 'Records', 'Detail', 'Hash'],
        rows: records.map((r) => recordRow(r, faultSeq)),
        testid: 'audit-table', className: 'audit',
      })
      : h('p', { testid: 'audit-empty' }, 'No audit record matches these filters.'));
    count.textContent = records.length
      ? `${num(records.length)} records shown (seq ${records[0].seq} to ${records[records.length - 1].seq}).`
      : '';
    exportJson.disabled = exportCsv.disabled = records.length === 0;
  }

  /**
   * Loads the first page of `query` (starting after `startAfter` if given), or with `append`
   * the page after the last record shown.
   */
  async function load(append = false, startAfter = null) {
    const params = { ...query };
    if (append && records.length) params.after_seq = records[records.length - 1].seq;
    else if (startAfter !== null) params.after_seq = startAfter;
    if (!append) replace(results, loading('audit records'));
    more.disabled = true;
    try {
      const page = await api.get('audit', params);
      if (!ctx.alive()) return;
      records = append ? records.concat(page) : page;
      render();
      // A full page means there may be more.
      more.hidden = page.length < query.limit;
    } catch (e) {
      if (!ctx.alive()) return;
      if (append) sayError(`Loading more audit records failed. ${describeError(e)}`);
      else replace(results, errorBox(e, () => load(false)));
    } finally {
      more.disabled = false;
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    try {
      query = readQuery();
    } catch (e) {
      sayError(`Cannot search: ${e.message}.`);
      return;
    }
    load(false);
  });
  // After the browser clears the fields, search again with none.
  form.addEventListener('reset', () => setTimeout(() => form.requestSubmit(), 0));
  more.addEventListener('click', () => load(true));

  verifyButton.addEventListener('click', async () => {
    verifyButton.disabled = true;
    replace(verifyBox, loading('the verification (every record is rehashed)'));
    try {
      const v = await api.post('audit/verify');
      if (!ctx.alive()) return;
      faultSeq = v.intact ? null : v.fault_seq;
      replace(verifyBox, verifyResult(v, showFault));
      if (records.length) render();
    } catch (e) {
      if (ctx.alive()) replace(verifyBox, errorBox(e, () => verifyButton.click()));
    } finally {
      verifyButton.disabled = false;
    }
  });

  const exportName = (ext) => {
    const span = records.length ? `seq-${records[0].seq}-${records[records.length - 1].seq}` : 'empty';
    return `rekey-audit-${span}.${ext}`;
  };
  exportJson.addEventListener('click', () => {
    saveBlob(new Blob([`${JSON.stringify(records, null, 2)}\n`], { type: 'application/json' }), exportName('json'));
    sayDone(`${num(records.length)} audit records exported as JSON (${utc(new Date().toISOString())}).`);
  });
  exportCsv.addEventListener('click', () => {
    saveBlob(new Blob([toCsv(COLUMNS, records)], { type: 'text/csv' }), exportName('csv'));
    sayDone(`${num(records.length)} audit records exported as CSV.`);
  });

  // The broken record and the few after it, whatever the filters were.
  async function showFault(seq) {
    for (const el of form.querySelectorAll('input')) el.value = '';
    form.querySelector('#audit-limit').value = '10';
    query = readQuery();
    await load(false, Math.max(0, seq - 1));
    results.querySelector(`[data-testid="audit-row-${seq}"]`)?.scrollIntoView({ block: 'center' });
  }

  query = readQuery();
  load(false);
  return () => {};
}
