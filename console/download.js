// Saving files without navigating: the data is put in a Blob and an <a download> pointing at
// the Blob's own object URL is clicked. The page never goes to an API URL (which would need
// the token in it), and the object URL is revoked once the browser has taken the file.

/** Offers `blob` to the user as a download named `filename`. */
export function saveBlob(blob, filename) {
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10000);
}

/**
 * One CSV field (RFC 4180 quoting). A text that a spreadsheet would run as a formula
 * (=, +, -, @ first) is prefixed with an apostrophe, so an audit detail cannot execute in
 * the auditor's spreadsheet; the JSON export keeps every value exactly.
 */
function field(value) {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** `rows` (objects) as CSV with the given columns, header first, CRLF line ends. */
export function toCsv(columns, rows) {
  const lines = [columns.map(field).join(',')];
  for (const row of rows) lines.push(columns.map((c) => field(row[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
