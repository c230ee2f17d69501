// Squall's web UI: hash routing, the login form, the live refresh loop (every 2 s,
// paused while the tab is hidden) and the header.

import { get, path, token, setToken, clearToken, ApiError } from './api.js';
import { el, clear, replace, say, sayPending, unsay } from './dom.js';
import * as cluster from './cluster.js';
import * as topology from './topology.js';
import * as component from './component.js';
import * as logs from './logs.js';

const REFRESH_MS = 2000;
const WINDOW_KEY = 'squall.window';

const main = document.getElementById('app');
const crumbs = document.getElementById('crumbs');
const live = document.getElementById('live');
const logout = document.getElementById('logout');
const clusterName = document.getElementById('cluster-name');

let generation = 0; // bumped on every navigation: stale refreshes drop their results
let page = null;
let timer = null;
let refreshing = false;
let again = false;
let refreshError = false;
let refreshes = 0;

/** The route of the current hash: {page, params}. */
function parse() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [p, q] = hash.split('?');
  const parts = p.split('/').filter(Boolean).map((x) => {
    try {
      return decodeURIComponent(x);
    } catch {
      return x;
    }
  });
  const query = new URLSearchParams(q || '');
  if (parts[0] === 'topology' && parts.length >= 2) {
    const id = parts[1];
    if (parts[2] === 'component' && parts.length === 4) return { mod: component, params: { id, component: parts[3], query } };
    if (parts[2] === 'logs' && parts.length === 3) return { mod: logs, params: { id, query } };
    if (parts.length === 2) return { mod: topology, params: { id, query } };
  }
  if (parts.length === 0) return { mod: cluster, params: { query } };
  return null;
}

const ctx = {
  window(value) {
    if (value !== undefined) sessionStorage.setItem(WINDOW_KEY, value);
    const w = sessionStorage.getItem(WINDOW_KEY);
    return topology.WINDOWS.some(([v]) => v === w) ? w : '600';
  },
  refreshNow() {
    schedule(0);
  },
  crumbs(list) {
    const items = [el('a', { href: '#/', id: 'nav-cluster' }, 'Cluster')];
    for (const c of list) {
      items.push(el('span', { class: 'sep', 'aria-hidden': 'true' }, '›'));
      items.push(c.href ? el('a', { href: c.href }, c.text) : el('span', { class: 'here' }, c.text));
    }
    replace(crumbs, items);
  },
  clusterName(name, version) {
    clusterName.textContent = name;
    clusterName.title = version ? `nimbus ${name}, Squall ${version}` : name;
  },
};

function schedule(delay) {
  clearTimeout(timer);
  timer = setTimeout(tick, delay);
}

async function tick() {
  if (!page) return;
  if (document.hidden) {
    live.dataset.state = 'paused';
    live.textContent = 'paused';
    return; // visibilitychange starts it again
  }
  if (refreshing) {
    again = true;
    return;
  }
  const mine = generation;
  refreshing = true;
  try {
    await page.refresh();
    if (mine !== generation) return;
    document.body.dataset.page = page.name;
    refreshes += 1;
    document.body.dataset.refreshes = String(refreshes);
    live.dataset.state = 'live';
    live.textContent = `live · ${new Date().toLocaleTimeString()}`;
    if (refreshError) {
      refreshError = false;
      unsay();
    }
  } catch (e) {
    if (mine !== generation) return;
    if (e instanceof ApiError && e.status === 401) {
      login(token() ? `Your token is no longer accepted: ${e.message}` : null);
      return;
    }
    refreshError = true;
    live.dataset.state = 'error';
    live.textContent = 'not updating';
    const what = e instanceof ApiError && e.status === 403 ? 'You are not allowed to read this'
      : e instanceof ApiError && e.status === 404 ? 'Not found (killed and removed, or never there)'
        : 'Could not load this page';
    say(`${what}: ${e.message}`, 'error');
  } finally {
    if (mine === generation) refreshing = false;
  }
  if (mine !== generation) return;
  if (again) {
    again = false;
    schedule(0);
  } else {
    schedule(REFRESH_MS);
  }
}

/**
 * Whether this nimbus answers without a token (`nimbus.authentication: none`): asked
 * once, with one request, before a page sends its several.
 */
let open = null;

async function needsLogin() {
  if (token() || open === true) return false;
  try {
    await get(path('cluster', 'summary'));
    open = true;
    return false;
  } catch (e) {
    return e instanceof ApiError && e.status === 401;
  }
}

/** Put nimbus's host:port and version in the header (once; failures are ignored). */
async function nameCluster() {
  try {
    const [nim, cluster] = await Promise.all([get(path('nimbus', 'summary')), get(path('cluster', 'summary'))]);
    const first = (nim.nimbuses || [])[0];
    if (first) ctx.clusterName(`${first.host}:${first.port}`, cluster.stormVersion);
  } catch {
    // The page's own refresh reports what is wrong.
  }
}

/** Show the page of the current hash (the login form first when a token is needed). */
async function show() {
  generation += 1;
  const mine = generation;
  if (await needsLogin()) {
    if (mine === generation) login(null);
    return;
  }
  if (mine !== generation) return;
  if (!clusterName.textContent) nameCluster();
  generation += 1;
  refreshing = false;
  again = false;
  clearTimeout(timer);
  page = null;
  clear(main);
  unsay();
  sayPending();
  refreshError = false;
  delete document.body.dataset.page;
  document.title = 'Squall';
  const r = parse();
  logout.hidden = !token();
  if (!r) {
    ctx.crumbs([{ text: 'not found' }]);
    main.append(el('section', { class: 'card' }, el('h1', {}, 'No such page'),
      el('p', {}, 'Go back to the ', el('a', { href: '#/' }, 'cluster'), '.')));
    return;
  }
  page = r.mod.mount(main, r.params, ctx);
  schedule(0);
}

/** The login form (shown on a 401). */
function login(reason) {
  generation += 1;
  clearTimeout(timer);
  page = null;
  clearToken();
  logout.hidden = true;
  clear(main);
  unsay();
  ctx.crumbs([]);
  live.dataset.state = 'off';
  live.textContent = 'signed out';
  const input = el('input', { id: 'login-token', type: 'password', autocomplete: 'off', spellcheck: 'false',
    required: true, 'aria-describedby': 'login-help' });
  const error = el('p', { id: 'login-error', class: 'form-error', role: 'alert' }, reason || '');
  const submit = el('button', { id: 'login-submit', type: 'submit', class: 'btn primary' }, 'Sign in');
  const form = el('form', { id: 'login', class: 'card login', novalidate: true },
    el('h1', {}, 'Sign in to nimbus'),
    el('p', { id: 'login-help', class: 'muted' },
      'This nimbus needs an API token. A viewer token is enough to read; actions need a deployer or admin token. ',
      'Make one with ', el('code', {}, 'squall token create --role viewer --name NAME'),
      '. It is kept in this tab only (sessionStorage) and sent as a bearer header.'),
    el('label', { for: 'login-token' }, 'Token'), input, error,
    el('div', { class: 'form-buttons' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) {
      error.textContent = 'Paste a token first.';
      return;
    }
    submit.disabled = true;
    error.textContent = '';
    setToken(text);
    try {
      await get(path('cluster', 'summary'));
      input.value = '';
      show();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        clearToken();
        error.textContent = `Token refused: ${e.message}`;
      } else if (e instanceof ApiError && e.status === 403) {
        clearToken();
        error.textContent = `This token may not read the cluster: ${e.message}`;
      } else {
        clearToken();
        error.textContent = `Could not check the token: ${e.message}`;
      }
      submit.disabled = false;
      input.focus();
    }
  });
  main.append(form);
  document.body.dataset.page = 'login';
  input.focus();
}

logout.addEventListener('click', () => {
  clearToken();
  login(null);
});
document.getElementById('message-close').addEventListener('click', () => unsay());
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && page) schedule(0);
});
window.addEventListener('hashchange', show);
show();
