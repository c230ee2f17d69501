// The component page: its figures per window, streams, every task and its errors.

import { get, path } from './api.js';
import { el, table, rows, td, num, card, route, logRoute } from './dom.js';
import { count, ms, capacity, capacityLevel, duration, clock, fullTime } from './format.js';
import { windowSelect } from './topology.js';

/** Mount the page of component `params.component` of topology `params.id`. */
export function mount(root, params, ctx) {
  const { id, component } = params;
  const title = el('h1', { id: 'component-name' }, component);
  const kind = el('span', { class: 'pill kind' });
  const topoLink = el('a', { href: route('topology', id), class: 'muted' }, id);
  const perWindow = el('div', { class: 'table-wrap' });
  const streams = el('div', { class: 'streams' });
  let spout = null;
  const executors = { table: null, tbody: null };
  const execWrap = el('div', { class: 'table-wrap' });
  const errors = table('errors', [
    { title: 'Time' }, { title: 'Task', num: true }, { title: 'Worker' }, { title: 'Error' },
  ]);
  root.append(
    el('div', { class: 'page-head' },
      el('div', { class: 'title-row' }, title, kind),
      el('div', { class: 'muted' }, 'of topology ', topoLink)),
    card('Stats per window', perWindow),
    el('div', { class: 'toolbar' }, windowSelect(ctx, () => ctx.refreshNow()),
      el('span', { class: 'muted small' }, 'streams and tasks over the window chosen')),
    streams,
    card('Tasks (executors)', execWrap),
    card('Errors', el('div', { class: 'table-wrap' }, errors.table)),
  );
  ctx.crumbs([{ text: id, href: route('topology', id) }, { text: component }]);

  function executorTable(isSpout) {
    const cols = [{ title: 'Task', num: true }, { title: 'Executor' }, { title: 'Worker' }, { title: 'Uptime', num: true },
      { title: 'Emitted', num: true }];
    if (isSpout) {
      cols.push({ title: 'Transferred', num: true }, { title: 'Acked / failed', num: true },
        { title: 'Complete mean / p99 (ms)', num: true });
    } else {
      cols.push({ title: 'Executed', num: true }, { title: 'Acked / failed', num: true },
        { title: 'Execute mean / p99 (ms)', num: true }, { title: 'Process (ms)', num: true, hint: 'process latency, mean' },
        { title: 'Capacity', num: true });
    }
    cols.push({ title: 'Queue', num: true, hint: 'input queue depth / capacity (shared by the executor\'s tasks)' },
      { title: 'Blocked (ms)', num: true, hint: 'time senders were blocked on its full queue, in the window' }, { title: 'Log' });
    return table('executors', cols);
  }

  async function refresh() {
    const w = ctx.window();
    const page = await get(`${path('topology', id, 'component', component)}?window=${encodeURIComponent(w)}`);
    const metrics = await get(`${path('topologies', page.name, 'metrics')}?window=${encodeURIComponent(w)}`);
    const isSpout = page.componentType === 'spout';
    kind.textContent = page.componentType;
    topoLink.textContent = page.name;
    ctx.crumbs([{ text: page.name, href: route('topology', id) }, { text: component }]);
    document.title = `${component} · ${page.name} · Squall`;
    // Per window.
    const windows = isSpout ? page.spoutSummary : page.boltStats;
    const wt = isSpout
      ? table('component-stats', [{ title: 'Window' }, { title: 'Emitted', num: true }, { title: 'Transferred', num: true },
        { title: 'Complete mean (ms)', num: true }, { title: 'p99 (ms)', num: true }, { title: 'Acked', num: true }, { title: 'Failed', num: true }])
      : table('component-stats', [{ title: 'Window' }, { title: 'Emitted', num: true }, { title: 'Executed', num: true },
        { title: 'Capacity', num: true }, { title: 'Execute mean / p99 (ms)', num: true }, { title: 'Process mean / p99 (ms)', num: true },
        { title: 'Acked', num: true }, { title: 'Failed', num: true }]);
    rows(wt.tbody, (windows || []).map((s) => isSpout
      ? el('tr', {}, td(s.windowPretty), num(count(s.emitted)), num(count(s.transferred)),
        num(ms(s.completeLatency)), num(ms(s.completeLatencyP99)), num(count(s.acked)), num(count(s.failed)))
      : el('tr', {}, td(s.windowPretty), num(count(s.emitted)), num(count(s.executed)),
        el('td', { class: `num cap cap-${capacityLevel(s.capacity)}` }, el('span', { class: 'cap-pill' }, capacity(s.capacity))),
        num(`${ms(s.executeLatency)} / ${ms(s.executeLatencyP99)}`), num(`${ms(s.processLatency)} / ${ms(s.processLatencyP99)}`),
        num(count(s.acked)), num(count(s.failed)))));
    perWindow.replaceChildren(wt.table);
    // Streams.
    const out = table('output-stats', isSpout
      ? [{ title: 'Stream' }, { title: 'Emitted', num: true }, { title: 'Transferred', num: true },
        { title: 'Complete mean / p99 (ms)', num: true }, { title: 'Acked', num: true }, { title: 'Failed', num: true }]
      : [{ title: 'Stream' }, { title: 'Emitted', num: true }, { title: 'Transferred', num: true }]);
    rows(out.tbody, (page.outputStats || []).map((o) => el('tr', { dataset: { stream: o.stream } }, td(o.stream, 'mono'),
      num(count(o.emitted)), num(count(o.transferred)),
      isSpout ? num(`${ms(o.completeLatency)} / ${ms(o.completeLatencyP99)}`) : null,
      isSpout ? num(count(o.acked)) : null, isSpout ? num(count(o.failed)) : null)), 'Nothing emitted in this window.');
    const blocks = [card('Output streams', el('div', { class: 'table-wrap' }, out.table))];
    if (!isSpout) {
      const inp = table('input-stats', [{ title: 'Component' }, { title: 'Stream' }, { title: 'Executed', num: true },
        { title: 'Execute mean / p99 (ms)', num: true }, { title: 'Process mean / p99 (ms)', num: true },
        { title: 'Acked', num: true }, { title: 'Failed', num: true }]);
      rows(inp.tbody, (page.inputStats || []).map((i) => el('tr', {},
        td(el('a', { class: 'component-link', href: route('topology', id, 'component', i.component) }, i.component)),
        td(i.stream, 'mono'), num(count(i.executed)),
        num(`${ms(i.executeLatency)} / ${ms(i.executeLatencyP99)}`), num(`${ms(i.processLatency)} / ${ms(i.processLatencyP99)}`),
        num(count(i.acked)), num(count(i.failed)))), 'Nothing executed in this window.');
      blocks.unshift(card('Input streams', el('div', { class: 'table-wrap' }, inp.table)));
    }
    streams.className = 'streams';
    streams.replaceChildren(...blocks);
    // Tasks: every executor of the assignment, each task with its own figures.
    if (spout !== isSpout) {
      spout = isSpout;
      const t = executorTable(isSpout);
      executors.table = t.table;
      executors.tbody = t.tbody;
      execWrap.replaceChildren(t.table);
    }
    const byTask = new Map((metrics.tasks || []).filter((t) => t.component === component).map((t) => [t.task, t]));
    const list = [];
    for (const e of page.executorStats || []) {
      const m = /^\[(\d+)-(\d+)\]$/.exec(String(e.id));
      const [first, last] = m ? [Number(m[1]), Number(m[2])] : [null, null];
      for (let task = first; task !== null && task <= last && task - first < 10000; task += 1) {
        const t = byTask.get(task);
        const f = t || null; // a task's figures are flattened into it
        const b = f ? f.backpressure : {};
        const worker = `${e.host}:${e.port}`;
        const cells = [num(task), td(e.id, 'mono muted'), td(worker, 'mono'), num(duration(t ? t.uptime_secs : e.uptimeSeconds)),
          num(count(f ? f.emitted : 0))];
        const ackFail = num(`${count(f ? f.acked : 0)} / ${count(f ? f.failed : 0)}`);
        if (isSpout) {
          cells.push(num(count(f ? f.transferred : 0)), ackFail,
            num(f ? `${ms(f.complete_latency.mean_ms)} / ${ms(f.complete_latency.p99_ms)}` : '–'));
        } else {
          cells.push(num(count(f ? f.executed : 0)), ackFail,
            num(f ? `${ms(f.execute_latency.mean_ms)} / ${ms(f.execute_latency.p99_ms)}` : '–'),
            num(f ? ms(f.process_latency.mean_ms) : '–'),
            el('td', { class: `num cap cap-${capacityLevel(f ? f.capacity : 0)}` }, el('span', { class: 'cap-pill' }, capacity(f ? f.capacity : 0))));
        }
        cells.push(num(b.queue_capacity ? `${count(b.queue_depth)} / ${count(b.queue_capacity)}` : '–'),
          num(b.upstream_blocked_ms !== undefined ? ms(b.upstream_blocked_ms) : '–'),
          td(el('a', { class: 'log-link', href: logRoute(id, worker) }, 'log')));
        list.push(el('tr', { dataset: { task: String(task), worker } }, cells));
      }
    }
    rows(executors.tbody, list, 'No executors assigned.');
    // Errors, newest first, each with its task.
    const errs = ((metrics.components || {})[component] || {}).errors || [];
    rows(errors.tbody, errs.slice().sort((a, b) => b.time_ms - a.time_ms).map((e) =>
      el('tr', { class: 'error', dataset: { task: String(e.task) } },
        el('td', { title: fullTime(e.time_ms), class: 'nowrap' }, clock(e.time_ms)),
        num(e.task), td(`${e.host}:${e.port}`, 'mono'),
        el('td', { class: 'error-text' }, el('pre', { class: 'wrap' }, String(e.error))))),
    'No errors reported.');
  }
  return { name: 'component', refresh };
}
