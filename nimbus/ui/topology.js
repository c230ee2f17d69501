// The topology page: summary, actions, window, the DAG, spouts, bolts and workers.

import { get, path } from './api.js';
import { el, table, rows, td, num, card, route, replace, logRoute } from './dom.js';
import { count, ms, capacity, capacityLevel, duration, bytes, cpu, clock, fullTime } from './format.js';
import { draw } from './dag.js';
import { buttons } from './actions.js';
import { statusPill } from './cluster.js';

export const WINDOWS = [
  ['600', 'Last 10 minutes'],
  ['10800', 'Last 3 hours'],
  ['86400', 'Last day'],
  [':all-time', 'All time'],
];

/** The window selector (`select#window`), bound to ctx's window. */
export function windowSelect(ctx, onChange) {
  const select = el('select', { id: 'window', 'aria-label': 'stats window' },
    WINDOWS.map(([v, label]) => el('option', { value: v }, label)));
  select.value = ctx.window();
  select.addEventListener('change', () => {
    ctx.window(select.value);
    onChange();
  });
  return el('label', { class: 'window-pick' }, 'Window ', select);
}

/** The cause keyword of a restart: exit, signal, hang, memory or other. */
export function causeKind(cause) {
  const c = String(cause || '').toLowerCase();
  if (c.includes('hung') || c.includes('hang') || c.includes('heartbeat')) return 'hang';
  if (c.includes('memory')) return 'memory';
  if (c.includes('signal')) return 'signal';
  if (c.includes('exit') || c.includes('code')) return 'exit';
  return 'other';
}

/** A restart's text: "12:03:04 killed by signal 9 (SIGKILL)", "... heartbeat timeout (hang)". */
function restartText(r) {
  const kind = causeKind(r.cause);
  let cause = String(r.cause || 'unknown cause');
  if (kind === 'hang' && !/\b(hung|hang)\b/i.test(cause)) cause = `${cause} (hang)`;
  return `${clock(r.time_ms)} ${cause}`;
}

function errorCell(row) {
  if (!row.lastError) return td('', 'error-cell');
  return el('td', { class: 'error-cell', title: `${row.lastError}\n${row.errorHost}:${row.errorPort}` },
    el('span', { class: 'err-text' }, row.lastError),
    row.errorLapsedSecs !== null ? el('span', { class: 'muted small' }, ` ${duration(row.errorLapsedSecs)} ago`) : null);
}

function capCell(value) {
  return el('td', { class: `num cap cap-${capacityLevel(value)}` }, el('span', { class: 'cap-pill' }, capacity(value)));
}

/** Mount the topology page for `params.id`. */
export function mount(root, params, ctx) {
  const id = params.id;
  let name = id;
  const title = el('h1', { id: 'topology-name' }, id);
  const pill = el('span', { class: 'title-pill' });
  const summary = el('table', { id: 'topology-summary', class: 'kv' });
  const status = el('td', { id: 'topology-status' });
  const sumBody = el('tbody');
  summary.append(sumBody);
  const stats = table('topology-stats', [
    { title: 'Window' }, { title: 'Emitted', num: true }, { title: 'Transferred', num: true },
    { title: 'Complete latency mean (ms)', num: true }, { title: 'p99 (ms)', num: true },
    { title: 'Acked', num: true }, { title: 'Failed', num: true },
  ]);
  const spouts = table('spouts', [
    { title: 'Spout' }, { title: 'Exec. / tasks', num: true, hint: 'executors / tasks' },
    { title: 'Emitted', num: true }, { title: 'Transferred', num: true },
    { title: 'Complete latency mean (ms)', num: true, class: 'complete-mean' },
    { title: 'p99 (ms)', num: true, class: 'complete-p99' },
    { title: 'Acked', num: true }, { title: 'Failed', num: true }, { title: 'Last error' },
  ]);
  const bolts = table('bolts', [
    { title: 'Bolt' }, { title: 'Exec. / tasks', num: true, hint: 'executors / tasks' },
    { title: 'Emitted', num: true }, { title: 'Executed', num: true },
    { title: 'Capacity', num: true, hint: 'busiest executor: executed × execute latency / window' },
    { title: 'Execute mean / p99 (ms)', num: true }, { title: 'Process mean / p99 (ms)', num: true },
    { title: 'Acked', num: true }, { title: 'Failed', num: true },
    { title: 'Queue', num: true, hint: 'input queue depth / capacity at the latest report' },
    { title: 'Blocked (ms)', num: true, hint: 'time senders were blocked on its full queue, in the window' },
    { title: 'Last error' },
  ]);
  const workers = table('workers', [
    { title: 'Worker' }, { title: 'Supervisor' }, { title: 'State' }, { title: 'PID', num: true },
    { title: 'Uptime', num: true }, { title: 'RSS', num: true }, { title: 'CPU', num: true },
    { title: 'Restarts', num: true }, { title: 'Restart history' }, { title: 'Components' }, { title: 'Log' },
  ]);
  const dag = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  dag.setAttribute('id', 'dag');
  const config = el('tbody');
  const legend = el('div', { class: 'legend' },
    el('span', { class: 'key cap-low' }), 'capacity < 0.5',
    el('span', { class: 'key cap-mid' }), '< 0.8',
    el('span', { class: 'key cap-high' }), '≥ 0.8',
    el('span', { class: 'key bp' }), 'backpressure (BP): senders blocked on its full input queue',
    el('span', { class: 'legend-note' }, 'edges: grouping · tuples/s executed'));
  const windowNote = el('span', { class: 'muted small window-note' });
  root.append(
    el('div', { class: 'page-head' },
      el('div', { class: 'title-row' }, title, pill),
      buttons(() => ({ id, name }), () => ctx.refreshNow())),
    el('div', { class: 'two-col wide-left' },
      card('Summary', summary),
      card('Topology stats', el('div', { class: 'table-wrap' }, stats.table))),
    el('div', { class: 'toolbar' }, windowSelect(ctx, () => ctx.refreshNow()), windowNote),
    card('Topology graph', legend, el('div', { class: 'dag-wrap' }, dag)),
    card('Spouts', el('div', { class: 'table-wrap' }, spouts.table)),
    card('Bolts', el('div', { class: 'table-wrap' }, bolts.table)),
    card('Workers', el('div', { class: 'table-wrap' }, workers.table)),
    el('details', { class: 'card config' }, el('summary', {}, 'Configuration'),
      el('table', { id: 'configuration', class: 'kv' }, config)),
  );
  ctx.crumbs([{ text: id, href: route('topology', id) }]);

  const open = (component) => { location.hash = route('topology', id, 'component', component); };

  async function refresh() {
    const w = ctx.window();
    const q = `?window=${encodeURIComponent(w)}`;
    const [page, vis] = await Promise.all([
      get(path('topology', id) + q),
      get(path('topology', id, 'visualization') + q),
    ]);
    name = page.name;
    const info = await get(path('topologies', page.name));
    title.textContent = page.name;
    replace(pill, statusPill(page.status));
    ctx.crumbs([{ text: page.name, href: route('topology', id) }]);
    document.title = `${page.name} · Squall`;
    replace(status, statusPill(page.status));
    const kv = (k, v, extra) => el('tr', {}, el('th', { scope: 'row' }, k), extra || td(v));
    const deadline = info.kill_deadline_ms || info.rebalance_deadline_ms;
    replace(sumBody,
      kv('Id', null, td(page.id, 'mono')),
      kv('Status', null, status),
      kv('Owner', page.owner || '–'),
      kv('Uptime', duration(page.uptimeSeconds)),
      kv('Workers', `${count(page.workersTotal)} (requested ${count(info.num_workers)})`),
      kv('Executors / tasks', `${count(page.executorsTotal)} / ${count(page.tasksTotal)}`),
      kv('Message timeout', `${count(page.msgTimeout)} s`),
      deadline ? kv(info.kill_deadline_ms ? 'Removed at' : 'Rebalanced at', clock(deadline)) : null);
    windowNote.textContent = `figures over ${page.windowHint || 'all time'}; refreshed every 2 s`;
    rows(stats.tbody, (page.topologyStats || []).map((s) => el('tr', { dataset: { window: s.window } },
      td(s.windowPretty || s.window), num(count(s.emitted)), num(count(s.transferred)),
      num(ms(s.completeLatency)), num(ms(s.completeLatencyP99)), num(count(s.acked)), num(count(s.failed)))));
    draw(dag, vis, open);
    const link = (cid) => el('a', { class: 'component-link', href: route('topology', id, 'component', cid) }, cid);
    rows(spouts.tbody, (page.spouts || []).map((s) => el('tr', { dataset: { component: s.spoutId } },
      td(link(s.spoutId), 'id-cell'), num(`${s.executors} / ${s.tasks}`), num(count(s.emitted)), num(count(s.transferred)),
      num(ms(s.completeLatency), 'complete-mean'), num(ms(s.completeLatencyP99), 'complete-p99'),
      num(count(s.acked)), num(count(s.failed)), errorCell(s))), 'No spouts.');
    const bp = new Map(Object.entries(vis || {}).map(([k, v]) => [k, v[':backpressure'] === true]));
    rows(bolts.tbody, (page.bolts || []).map((b) => el('tr', { dataset: { component: b.boltId }, class: bp.get(b.boltId) ? 'bp-row' : null },
      td([link(b.boltId), bp.get(b.boltId) ? el('span', { class: 'bp-tag', title: 'backpressure: senders were blocked on its full input queue' }, 'BP') : null], 'id-cell'),
      num(`${b.executors} / ${b.tasks}`),
      num(count(b.emitted)), num(count(b.executed)), capCell(b.capacity),
      num(`${ms(b.executeLatency)} / ${ms(b.executeLatencyP99)}`),
      num(`${ms(b.processLatency)} / ${ms(b.processLatencyP99)}`),
      num(count(b.acked)), num(count(b.failed)),
      num(b.queueCapacity ? `${count(b.queueDepth)} / ${count(b.queueCapacity)}` : '–'),
      num(ms(b.upstreamBlockedMs), bp.get(b.boltId) ? 'bp-cell' : null), errorCell(b))), 'No bolts.');
    renderWorkers(workers.tbody, page, info, id);
    replace(config, Object.entries(page.configuration || {}).sort().map(([k, v]) =>
      el('tr', {}, el('th', { scope: 'row', class: 'mono' }, k), td(typeof v === 'string' ? v : JSON.stringify(v), 'mono'))));
  }
  return { name: 'topology', refresh };
}

/** The workers: Storm's rows (the assignment) joined with the supervisors' reports. */
function renderWorkers(tbody, page, info, id) {
  const reports = new Map();
  for (const w of info.workers || []) reports.set(`${w.supervisor}\u0000${w.port}`, w);
  const list = (page.workers || []).map((w) => {
    const r = reports.get(`${w.supervisorId}\u0000${w.port}`) || {};
    const worker = `${w.host}:${w.port}`;
    const history = r.restart_history || [];
    const ul = el('ul', { class: 'restart-history' }, history.slice().reverse().map((h) =>
      el('li', { class: `restart cause-${causeKind(h.cause)}`, dataset: { cause: causeKind(h.cause) }, title: fullTime(h.time_ms) },
        restartText(h))));
    const components = Object.entries(w.componentNumTasks || {})
      .filter(([c]) => !c.startsWith('__'))
      .map(([c, n]) => `${c} ×${n}`).join(', ');
    return el('tr', { dataset: { worker } },
      td(worker, 'mono nowrap'), td(w.supervisorId, 'mono muted nowrap'),
      td(el('span', { class: `pill slot-${r.state || 'unknown'}` }, r.state || 'not reported')),
      num(r.pid ?? '–'),
      el('td', { class: 'uptime num' }, duration(r.uptime_secs ?? w.uptimeSeconds)),
      num(bytes(r.rss_bytes)), num(cpu(r.cpu_ms)),
      el('td', { class: `restarts num${r.restarts ? ' warn' : ''}`, title: r.last_exit ? `last exit: ${r.last_exit}` : null }, String(r.restarts ?? 0)),
      el('td', { class: 'history' }, history.length ? ul : el('span', { class: 'muted' }, 'none'), history.length ? null : ul),
      td(components || '–', 'small'),
      td(el('a', { class: 'log-link', href: logRoute(id, worker) }, 'log')));
  });
  rows(tbody, list, 'No workers assigned yet.');
}
