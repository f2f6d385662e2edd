// The one place the console talks to the server: every call carries the session's token as
// `Authorization: Bearer`, and every failure becomes an ApiError whose `describe()` is a
// sentence an operator can act on. Nothing here logs, and the token never goes into a URL.

const TOKEN_KEY = 'rekey.console.token';
const API_ROOT = '/api/v1/';
// A server that has not answered in this long is treated as unreachable, so a page never
// spins forever.
const TIMEOUT_MS = 30000;

/** The token lives in the tab's sessionStorage only: closing the tab forgets it. */
export const session = {
  token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch {
      return null;
    }
  },
  save(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // Storage disabled: there is nothing to clear.
    }
  },
};

/** A failed call: `status` 0 means the server could not be reached at all. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }

  /** Whether trying again later may succeed (offline, overloaded, restarting). */
  get retryable() {
    return this.status === 0 || this.status === 429 || this.status === 503 || this.status >= 500;
  }

  /** The failure said plainly, with what to do about it. */
  describe() {
    const said = this.message ? `: ${this.message}` : '';
    switch (this.status) {
      case 0:
        return `Cannot reach the Rekey server${said}. Check the network, then retry.`;
      case 401:
        return 'The server no longer accepts this token (401). Sign in again.';
      case 403:
        return `This token may not do that (403)${said}.`;
      case 404:
        return `Not found (404)${said}.`;
      case 409:
        return `Refused in the current state (409)${said}.`;
      case 429:
        return `Too many requests (429)${said}. Wait a moment, then retry.`;
      case 503:
        return `The server is unavailable for now (503)${said}. Retry in a few seconds.`;
      default:
        return `The server answered ${this.status}${this.code ? ` ${this.code}` : ''}${said}.`;
    }
  }
}

// Called when the server refuses the session's token (401): the app signs out. Set by app.js,
// so that this module does not need to know about pages.
let onUnauthorized = () => {};

export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

function url(path, params) {
  const u = new URL(API_ROOT + path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== '') u.searchParams.set(name, String(value));
  }
  return u;
}

/** The `{"error": {"code", "message"}}` of a failed answer, or what can be said without it. */
async function errorOf(response) {
  let code = '';
  let message = '';
  try {
    const body = await response.json();
    code = body?.error?.code || '';
    message = body?.error?.message || '';
  } catch {
    message = response.statusText || '';
  }
  return new ApiError(response.status, code, message);
}

/**
 * One call. `token` overrides the session's (sign-in checks a token before keeping it); such a
 * call never triggers the sign-out on 401, the sign-in page reports it instead.
 */
async function send(method, path, { params, body, token, accept = 'application/json' } = {}) {
  const bearer = token ?? session.token();
  const headers = { Accept: accept };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  let response;
  try {
    response = await fetch(url(path, params), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      signal: abort.signal,
    });
  } catch (e) {
    const why = e?.name === 'AbortError' ? `no answer within ${TIMEOUT_MS / 1000} s` : 'network error';
    throw new ApiError(0, 'NETWORK', why);
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (error.status === 401 && token === undefined) onUnauthorized(error);
    throw error;
  }
  return response;
}

async function json(response) {
  try {
    return await response.json();
  } catch {
    throw new ApiError(response.status, 'BAD_ANSWER', 'the answer was not JSON');
  }
}

/** The file name a Content-Disposition header gives, reduced to safe characters. */
function filenameOf(response, fallback) {
  const header = response.headers.get('Content-Disposition') || '';
  const star = /filename\*\s*=\s*(?:UTF-8'')?([^;]+)/i.exec(header);
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(header);
  let name = '';
  try {
    name = star ? decodeURIComponent(star[1].trim().replace(/^"|"$/g, '')) : plain ? plain[1].trim() : '';
  } catch {
    name = plain ? plain[1].trim() : '';
  }
  name = name.replace(/[\\/:*?"<>|\u0000-\u001f]/g, '_');
  return name || fallback;
}

export const api = {
  async get(path, params) {
    return json(await send('GET', path, { params }));
  },

  async post(path, body) {
    return json(await send('POST', path, { body }));
  },

  /** Who `token` (default: the session's) is; a 401 here does not sign out. */
  async whoami(token) {
    return json(await send('GET', 'whoami', { token }));
  },

  /** Checks a token against an admin route (for a server that has no /whoami). */
  async probeAdmin(token) {
    await send('GET', 'key-rotation/schedule', { token });
  },

  /** A file answer, as a Blob and the name the server gave it. */
  async download(path, params, fallbackName) {
    const response = await send('GET', path, { params, accept: '*/*' });
    const blob = await response.blob();
    return { blob, filename: filenameOf(response, fallbackName) };
  },
};

/** Says any failure plainly, ApiError or not (a bug must not show a stack trace). */
export function describeError(error) {
  if (error instanceof ApiError) return error.describe();
  return `Something went wrong in the console: ${error?.message || 'unknown error'}.`;
}
