// The cluster page: nimbus, supervisors with their slots, every topology.

import { get, path } from './api.js';
import { el, table, rows, td, num, card, route, replace } from './dom.js';
import { count, duration } from './format.js';

/** A status as a coloured pill. */
export function statusPill(status) {
  const s = String(status || '').toUpperCase();
  return el('span', { class: `pill status-${s.toLowerCase()}` }, s || '–');
}

function tile(label, value, hint) {
  return el('div', { class: 'tile', title: hint || null },
    el('div', { class: 'tile-value' }, value), el('div', { class: 'tile-label' }, label));
}

/** Mount the cluster page into `root`. */
export function mount(root, _params, ctx) {
  const tiles = el('div', { class: 'tiles' });
  const nimbus = table('nimbus', [
    { title: 'Host' }, { title: 'Port', num: true }, { title: 'Status' }, { title: 'Version' },
    { title: 'Uptime', num: true },
  ]);
  const sups = table('supervisors', [
    { title: 'Supervisor' }, { title: 'Host' }, { title: 'Uptime', num: true },
    { title: 'Slots used / total', class: 'slots-col' }, { title: 'Free', num: true },
  ]);
  const topos = table('topologies', [
    { title: 'Name' }, { title: 'Id' }, { title: 'Owner' }, { title: 'Status' },
    { title: 'Workers', num: true, hint: 'assigned / requested' }, { title: 'Executors', num: true },
    { title: 'Tasks', num: true }, { title: 'Uptime', num: true },
  ]);
  root.append(
    el('div', { class: 'page-head' }, el('h1', { id: 'cluster-title' }, 'Cluster')),
    tiles,
    el('div', { class: 'two-col' },
      card('Nimbus', el('div', { class: 'table-wrap' }, nimbus.table)),
      card('Supervisors', el('div', { class: 'table-wrap' }, sups.table))),
    card('Topologies', el('div', { class: 'table-wrap' }, topos.table)),
  );
  ctx.crumbs([]);

  async function refresh() {
    const [cluster, nim, sup, top] = await Promise.all([
      get(path('cluster', 'summary')),
      get(path('nimbus', 'summary')),
      get(path('supervisor', 'summary')),
      get(path('topology', 'summary')),
    ]);
    replace(tiles,
      tile('Supervisors', count(cluster.supervisors)),
      tile('Slots used', `${count(cluster.slotsUsed)} / ${count(cluster.slotsTotal)}`, `${count(cluster.slotsFree)} free`),
      tile('Topologies', count(cluster.topologies)),
      tile('Executors', count(cluster.executorsTotal)),
      tile('Tasks', count(cluster.tasksTotal)),
      tile('Version', String(cluster.stormVersion || '–')));
    rows(nimbus.tbody, (nim.nimbuses || []).map((n) => el('tr', {},
      td(n.host), num(n.port), td(el('span', { class: 'pill status-active' }, n.status)), td(n.version),
      num(duration(n.nimbusUpTimeSeconds)))));
    const first = (nim.nimbuses || [])[0];
    if (first) ctx.clusterName(`${first.host}:${first.port}`, cluster.stormVersion);
    rows(sups.tbody, (sup.supervisors || []).map((s) => {
      const total = Number(s.slotsTotal) || 0;
      const used = Number(s.slotsUsed) || 0;
      const pct = total ? Math.round((used / total) * 100) : 0;
      const bar = el('span', { class: 'meter', title: `${pct}% used` },
        el('span', { class: `meter-fill w${Math.min(10, Math.round(pct / 10))}` }));
      return el('tr', { dataset: { supervisor: s.id } },
        td(s.id, 'mono'), td(s.host), num(duration(s.uptimeSeconds)),
        el('td', { class: 'slots' }, `${used} / ${total}`, bar), num(s.slotsFree));
    }), 'No live supervisors: start one with `squall supervisor`.');
    rows(topos.tbody, (top.topologies || []).map((t) => el('tr', { dataset: { topologyId: t.id } },
      td(el('a', { class: 'topology-link', href: route('topology', t.id) }, t.name)),
      td(t.id, 'mono muted'), td(t.owner || '–'),
      el('td', { class: 'status' }, statusPill(t.status)),
      el('td', { class: 'workers num' }, `${count(t.workersTotal)} / ${count(t.workersRequested)}`),
      num(count(t.executorsTotal)), num(count(t.tasksTotal)),
      el('td', { class: 'uptime num', title: t.uptime || '' }, duration(t.uptimeSeconds)))),
    'No topologies: submit one with `squall submit topology.yaml`.');
  }
  return { name: 'cluster', refresh };
}
