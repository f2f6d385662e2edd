// Confirmation before anything that changes keys or migrations. The <dialog> of index.html is
// opened with showModal(), so the browser traps focus inside it, makes the page behind inert,
// and closes it on Escape (which counts as Cancel). Buttons are plain buttons, not a form
// submission: the Content-Security-Policy's form-action 'none' must not get in the way.

import { h, replace } from './dom.js';

/**
 * Asks to confirm. `message` says what will happen; `details` (optional) are more lines;
 * `field` (optional) is an element such as a labelled input shown in the dialog, and
 * `validate()` (optional) returns an error text to keep the dialog open.
 * Resolves to true when confirmed, false when cancelled.
 */
export function confirmAction({ title, message, details = [], confirmLabel = 'Confirm', danger = false, field = null, validate = null }) {
  const dialog = document.getElementById('confirm');
  const ok = document.getElementById('confirm-ok');
  const cancel = document.getElementById('confirm-cancel');
  const problem = h('p', { class: 'field-error', role: 'alert', testid: 'confirm-error' });
  replace(document.getElementById('confirm-title'), title);
  replace(document.getElementById('confirm-message'), message);
  replace(document.getElementById('confirm-extra'),
    details.length ? h('ul', null, details.map((d) => h('li', null, d))) : null,
    field, problem);
  ok.textContent = confirmLabel;
  ok.className = danger ? 'danger' : 'primary';

  return new Promise((resolve) => {
    const done = (answer) => {
      ok.removeEventListener('click', onOk);
      cancel.removeEventListener('click', onCancel);
      dialog.removeEventListener('close', onClose);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onOk = () => {
      const error = validate ? validate() : '';
      if (error) {
        problem.textContent = error;
        return;
      }
      done(true);
    };
    const onCancel = () => done(false);
    // Escape closes the dialog without a button: that is a cancel.
    const onClose = () => done(false);
    ok.addEventListener('click', onOk);
    cancel.addEventListener('click', onCancel);
    dialog.addEventListener('close', onClose);
    dialog.showModal();
    // Focus the field if there is one, else Cancel: a stray Enter must not confirm.
    (field?.querySelector?.('input') || cancel).focus();
  });
}
