// Talking to nimbus's API: the bearer token (kept in sessionStorage only, never in a
// URL, a cookie or localStorage) and JSON requests with typed failures.

const TOKEN_KEY = 'squall.token';
/** How long one request may take before it is abandoned (logs wait up to 10 s). */
const TIMEOUT_MS = 15000;

/** The token, if the user gave one in this tab. */
export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Keep `text` as the token of this tab. */
export function setToken(text) {
  sessionStorage.setItem(TOKEN_KEY, text);
}

/** Forget the token. */
export function clearToken() {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage disabled: nothing was kept.
  }
}

/** A failed request: its HTTP status and the API's error text. */
export class ApiError extends Error {
  constructor(status, message, path) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.path = path;
  }
}

/** The error text of an API answer: Storm's `errorMessage`, else nimbus's `error`. */
function errorText(body, status) {
  if (body && typeof body === 'object') {
    const main = body.errorMessage || body.error;
    if (main) {
      const details = Array.isArray(body.details) && body.details.length ? ` (${body.details.join('; ')})` : '';
      return String(main) + details;
    }
  }
  return `HTTP ${status}`;
}

/**
 * `method path` with an optional JSON body; resolves to the parsed JSON answer, rejects
 * with an ApiError (status 0 when nimbus could not be reached).
 */
export async function request(path, { method = 'GET', body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), TIMEOUT_MS);
  if (signal) signal.addEventListener('abort', () => timeout.abort(), { once: true });
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: timeout.signal,
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    clearTimeout(timer);
    if (signal && signal.aborted) throw new ApiError(-1, 'cancelled', path);
    throw new ApiError(0, `nimbus did not answer (${e && e.name === 'AbortError' ? 'timed out' : 'network error'})`, path);
  }
  let parsed = null;
  try {
    const text = await response.text();
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) throw new ApiError(response.status, errorText(parsed, response.status), path);
  return parsed;
}

/** GET `path`. */
export function get(path, options) {
  return request(path, options);
}

/** POST `body` to `path`. */
export function post(path, body) {
  return request(path, { method: 'POST', body });
}

/** `/api/v1/...` with each part encoded. */
export function path(...parts) {
  return '/api/v1/' + parts.map((p) => encodeURIComponent(String(p))).join('/');
}
