// Shared by /dashboard and /explorer: the API token (session storage), GraphQL over
// POST /graphql, error messages with their code, DOM and number helpers.
// Plain ES module, no framework; the page's CSP allows only scripts served from /assets.

const TOKEN_KEY = 'domainflow.token';

/** The API token of this browser tab, or '' (kept in sessionStorage: gone when the tab closes). */
export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

function storeToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage disabled: the token lives only as long as the page.
  }
}

/** Headers every data request carries. */
export function authHeaders(extra = {}) {
  const token = getToken();
  return token ? { ...extra, Authorization: `Bearer ${token}` } : { ...extra };
}

/** An API failure: the server's message and its `extensions.code`. */
export class ApiError extends Error {
  constructor(message, code, status, extensions = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code || 'ERROR';
    this.status = status;
    this.extensions = extensions;
  }
}

/** Turns an `{errors: [...]}` body into an ApiError (first error; the others are counted). */
export function errorFromBody(body, status) {
  const errors = Array.isArray(body && body.errors) ? body.errors : [];
  if (errors.length === 0) {
    return new ApiError(`The server answered HTTP ${status}.`, `HTTP_${status}`, status);
  }
  const first = errors[0];
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
  const ext = first.extensions || {};
  return new ApiError(`${first.message}${more}`, ext.code, status, ext);
}

/**
 * Runs a GraphQL operation with POST /graphql and returns its `data`. Any error in the
 * response (even beside partial data) throws an ApiError: these pages never show half a page.
 */
export async function gql(query, variables = {}, { signal } = {}) {
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: authHeaders({ 'Content-Type': 'application/json', Accept: 'application/json' }),
      body: JSON.stringify({ query, variables }),
      signal,
    });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError('The server could not be reached.', 'NETWORK_ERROR', 0);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered HTTP ${response.status} without JSON.`, `HTTP_${response.status}`, response.status);
  }
  if (!response.ok || (body.errors && body.errors.length)) {
    throw errorFromBody(body, response.status);
  }
  return body.data;
}

/** Creates an element: `el('a', {href: '/'}, 'text', child)`. Text is never parsed as HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** What a person should do about an error code, when there is something to say. */
function advice(code) {
  switch (code) {
    case 'UNAUTHENTICATED':
      return 'Enter a valid API token in the box at the top of the page.';
    case 'FORBIDDEN':
      return 'The token lacks the scope this needs (“read” for data, “metrics” for the dashboard).';
    case 'RATE_LIMITED':
      return 'Too many requests: wait a moment and try again.';
    case 'NETWORK_ERROR':
      return 'Is the server running?';
    case 'SERVICE_UNAVAILABLE':
      return 'The database is unreachable or busy; the server retries by itself.';
    default:
      return '';
  }
}

/**
 * Shows `err` in `box` (an element with role="alert" or aria-live): message, code and advice,
 * followed by `extra` nodes (e.g. a link to the first page). Empty `err` hides the box.
 */
export function showError(box, err, ...extra) {
  box.replaceChildren();
  if (!err) {
    box.hidden = true;
    return;
  }
  const code = err.code || (err.name === 'AbortError' ? 'ABORTED' : 'ERROR');
  const hint = advice(code);
  box.append(
    el('strong', {}, 'Error: '),
    err.message || String(err),
    el('span', { class: 'code', title: 'extensions.code' }, code),
    ...(hint ? [el('div', {}, hint)] : []),
    ...extra.filter(Boolean),
  );
  box.hidden = false;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const decimal2 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2, minimumFractionDigits: 2 });

export function fmtInt(n) {
  return n === null || n === undefined || Number.isNaN(n) ? '–' : integer.format(n);
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '–';
  return `${ms < 10 ? decimal2.format(ms) : decimal1.format(ms)} ms`;
}

export function fmtBytes(bytes) {
  if (bytes === null || bytes === undefined || Number.isNaN(bytes)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${integer.format(value)} B` : `${decimal1.format(value)} ${units[unit]}`;
}

export function fmtPercent(p) {
  return p === null || p === undefined || Number.isNaN(p) ? '–' : `${decimal1.format(p)} %`;
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

export function fmtTime(iso) {
  if (!iso) return '–';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toISOString().replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC');
}

/**
 * Wires the page header: marks the current nav link and runs the token form. `onChange` is
 * called after the token was set or cleared (pages reload their data with it).
 */
export function initChrome(onChange) {
  const path = location.pathname.replace(/\/+$/, '');
  for (const link of document.querySelectorAll('.nav a')) {
    if (link.getAttribute('href') === path) link.setAttribute('aria-current', 'page');
  }
  const form = document.getElementById('token-form');
  const input = document.getElementById('token');
  const clear = document.getElementById('token-clear');
  const state = document.getElementById('token-state');
  if (!form || !input) return;
  const describe = () => {
    state.textContent = getToken() ? 'token set for this tab' : 'no token';
  };
  input.value = getToken();
  describe();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    storeToken(input.value.trim());
    input.value = getToken();
    describe();
    if (onChange) onChange();
  });
  clear.addEventListener('click', () => {
    storeToken('');
    input.value = '';
    describe();
    if (onChange) onChange();
  });
}
