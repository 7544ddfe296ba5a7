// The API as the page calls it: the token (pasted once, kept in sessionStorage, or in
// localStorage when the user asks), the routes this build serves (routes.json, so a route
// not yet there is "not available" rather than a failed request), JSON errors as Errors.

const KEY = 'streamprobe.token';
let routes = new Set();

export function token() {
  return sessionStorage.getItem(KEY) || localStorage.getItem(KEY) || '';
}

export function setToken(value, remember) {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
  if (value) (remember ? localStorage : sessionStorage).setItem(KEY, value);
}

/** An API failure: its HTTP status and the probe's one-line error. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Reads routes.json: every "METHOD /path" this probe serves. */
export async function loadRoutes() {
  const r = await fetch('/assets/routes.json', { cache: 'no-cache' });
  routes = new Set(await r.json());
}

/** Whether the probe serves `route` ("GET /api/v1/alarms"). */
export function has(route) {
  return routes.has(route);
}

let onUnauthorised = () => {};
/** Called when a call is refused for want of the token. */
export function whenUnauthorised(f) { onUnauthorised = f; }

async function call(method, path, body) {
  const headers = {};
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, `the probe does not answer (${e.message})`);
  }
  const text = await r.text();
  let doc = null;
  try { doc = text ? JSON.parse(text) : null; } catch (_) { doc = null; }
  if (!r.ok) {
    if (r.status === 401) onUnauthorised(doc?.error);
    throw new ApiError(r.status, doc?.error || `${method} ${path}: HTTP ${r.status}`);
  }
  return doc;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body);

/** A query string of the keys of `q` that have a value. */
export function query(q) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** A flow id as a path segment (ids hold > and /). */
export const flowPath = (id) => `/api/v1/flows/${encodeURIComponent(id)}`;
