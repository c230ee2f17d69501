// The topology's DAG as an SVG: a layered layout computed here (longest-path layers
// from the spouts, barycentric ordering within layers), nodes coloured by capacity
// and marked when they push back on their inputs, edges labelled with grouping and
// rate. Input: Storm's /visualization answer.

import { svg, clear } from './dom.js';
import { capacity, capacityLevel, rate, ms } from './format.js';

const NODE_W = 168;
const NODE_H = 56;
const LAYER_GAP = 150; // least horizontal room between columns, for the edge labels
const CHAR_W = 6.1; // width of a label character at the label's font size
const ROW_GAP = 34;
const MARGIN = 24;
const FILL = { low: '#bbf7d0', mid: '#fde68a', high: '#fecaca' };
const STROKE = { low: '#15803d', mid: '#b45309', high: '#b91c1c' };

/** Nodes and edges of a visualization answer (system components already filtered). */
export function graph(vis) {
  const ids = Object.keys(vis || {}).sort();
  const nodes = ids.map((id) => ({
    id,
    kind: vis[id][':type'] === 'spout' ? 'spout' : 'bolt',
    capacity: Number(vis[id][':capacity']) || 0,
    latency: Number(vis[id][':latency']) || 0,
    backpressure: vis[id][':backpressure'] === true,
    queueDepth: vis[id][':queue-depth'],
    queueCapacity: vis[id][':queue-capacity'],
    blockedMs: Number(vis[id][':upstream-blocked-ms']) || 0,
  }));
  const known = new Set(ids);
  const edges = [];
  for (const id of ids) {
    for (const input of vis[id][':inputs'] || []) {
      if (!known.has(input[':component'])) continue;
      edges.push({
        from: input[':component'],
        to: id,
        stream: String(input[':stream']),
        grouping: String(input[':grouping']),
        fields: input[':grouping-fields'] || [],
        rate: Number(input[':rate']) || 0,
      });
    }
  }
  return { nodes, edges };
}

/**
 * Layers by longest path from the sources (spouts and anything without inputs). Edges
 * closing a cycle (Storm allows them) are ignored for layering.
 */
export function layers(nodes, edges) {
  const preds = new Map(nodes.map((n) => [n.id, []]));
  const succs = new Map(nodes.map((n) => [n.id, []]));
  for (const e of edges) {
    if (e.from === e.to) continue;
    preds.get(e.to).push(e.from);
    succs.get(e.from).push(e.to);
  }
  // Depth-first from the sources, marking back edges (to a node on the current path).
  const state = new Map();
  const back = new Set();
  const order = [];
  const visit = (id) => {
    state.set(id, 1);
    for (const s of succs.get(id)) {
      if (state.get(s) === 1) back.add(`${id}\u0000${s}`);
      else if (!state.has(s)) visit(s);
    }
    state.set(id, 2);
    order.push(id);
  };
  const sources = nodes.filter((n) => n.kind === 'spout' || preds.get(n.id).length === 0);
  for (const n of sources) if (!state.has(n.id)) visit(n.id);
  for (const n of nodes) if (!state.has(n.id)) visit(n.id);
  order.reverse(); // a topological order of the graph without its back edges
  const layer = new Map(nodes.map((n) => [n.id, 0]));
  for (const id of order) {
    for (const s of succs.get(id)) {
      if (back.has(`${id}\u0000${s}`)) continue;
      layer.set(s, Math.max(layer.get(s), layer.get(id) + 1));
    }
  }
  return layer;
}

/** Height of the slot an edge passing through a column takes. */
const DUMMY_H = 14;

/**
 * Positions of every node ({id -> {x, y}}), the route of every edge that skips columns
 * (edge index -> the points where it crosses the columns between), and the size.
 * Edges skipping columns get a dummy slot in each column they cross (Sugiyama), so they
 * are ordered with the nodes and never cross a box.
 */
export function layout(nodes, edges, gap = LAYER_GAP) {
  const layer = layers(nodes, edges);
  const columns = [];
  const height = new Map(); // slot id -> its height
  for (const n of nodes) {
    const l = layer.get(n.id);
    (columns[l] = columns[l] || []).push(n.id);
    height.set(n.id, NODE_H);
  }
  for (let i = 0; i < columns.length; i += 1) columns[i] = columns[i] || [];
  // Segments between adjacent columns: the ordering graph.
  const segments = [];
  const chains = new Map();
  edges.forEach((e, i) => {
    const a = layer.get(e.from);
    const b = layer.get(e.to);
    if (b - a <= 1) {
      if (b - a === 1) segments.push([e.from, e.to]);
      return;
    }
    const chain = [];
    let prev = e.from;
    for (let l = a + 1; l < b; l += 1) {
      const d = `\u0000${i}\u0000${l}`;
      layer.set(d, l);
      height.set(d, DUMMY_H);
      columns[l].push(d);
      segments.push([prev, d]);
      chain.push(d);
      prev = d;
    }
    segments.push([prev, e.to]);
    chains.set(i, chain);
  });
  const up = new Map();
  const down = new Map();
  for (const [a, b] of segments) {
    (down.get(a) || down.set(a, []).get(a)).push(b);
    (up.get(b) || up.set(b, []).get(b)).push(a);
  }
  const position = new Map();
  const renumber = () => columns.forEach((col) => col.forEach((id, i) => position.set(id, i)));
  renumber();
  const bary = (id, dir) => {
    const ns = (dir < 0 ? up : down).get(id) || [];
    if (ns.length === 0) return position.get(id);
    return ns.reduce((sum, n) => sum + position.get(n), 0) / ns.length;
  };
  // Sweeps down and up: each column ordered by its neighbours' mean position.
  for (let sweep = 0; sweep < 6; sweep += 1) {
    const dir = sweep % 2 === 0 ? -1 : 1;
    const idx = [...columns.keys()];
    if (dir > 0) idx.reverse();
    for (const i of idx) {
      const keyed = columns[i].map((id) => [bary(id, dir), position.get(id), id]);
      keyed.sort((a, b) => a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : 1));
      columns[i] = keyed.map((k) => k[2]);
      renumber();
    }
  }
  const gapAfter = (id) => (height.get(id) === NODE_H ? ROW_GAP : 10);
  const colHeight = (col) => col.reduce((h, id, j) => h + height.get(id) + (j < col.length - 1 ? gapAfter(id) : 0), 0);
  const tallest = Math.max(NODE_H, ...columns.map(colHeight));
  const total = MARGIN * 2 + tallest;
  const width = MARGIN * 2 + columns.length * NODE_W + Math.max(0, columns.length - 1) * gap;
  const xy = new Map();
  columns.forEach((col, i) => {
    let y = (total - colHeight(col)) / 2;
    for (const id of col) {
      xy.set(id, { x: MARGIN + i * (NODE_W + gap), y });
      y += height.get(id) + gapAfter(id);
    }
  });
  const routes = new Map();
  for (const [i, chain] of chains) {
    routes.set(i, chain.map((d) => ({ x: xy.get(d).x, y: xy.get(d).y + DUMMY_H / 2 })));
  }
  return { xy, width, height: total, layer, routes };
}

function shorten(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A curve from (x1, y1) to (x2, y2) leaving and arriving horizontally. */
function curve(x1, y1, x2, y2) {
  if (Math.abs(y1 - y2) < 1) return `L ${x2} ${y2}`;
  const dx = Math.max(30, (x2 - x1) / 2);
  return `C ${x1 + dx} ${y1}, ${x2 - dx} ${y2}, ${x2} ${y2}`;
}

/**
 * The path of an edge from box `a` to box `b` (offset `k` among parallel edges) through
 * `via` (where it crosses the columns between), and where its label goes (the middle of
 * the first gap).
 */
function edgePath(a, b, k, back, via) {
  if (back) {
    // Back or same-column edge: a loop below the boxes.
    const x1 = a.x + NODE_W / 2 + k * 8;
    const y1 = a.y + NODE_H;
    const x2 = b.x + NODE_W / 2 - k * 8;
    const y2 = b.y + NODE_H + 6;
    const drop = Math.max(y1, y2) + 40 + k * 10;
    return { d: `M ${x1} ${y1} C ${x1} ${drop}, ${x2} ${drop}, ${x2} ${y2}`, lx: (x1 + x2) / 2, ly: drop - 8 };
  }
  const x1 = a.x + NODE_W;
  const y1 = a.y + NODE_H / 2 + k * 9;
  const x2 = b.x - 4;
  const y2 = b.y + NODE_H / 2 + k * 9;
  let d = `M ${x1} ${y1}`;
  let [px, py] = [x1, y1];
  for (const p of via) {
    d += ` ${curve(px, py, p.x, p.y)} L ${p.x + NODE_W} ${p.y}`;
    [px, py] = [p.x + NODE_W, p.y];
  }
  d += ` ${curve(px, py, x2, y2)}`;
  const [fx, fy] = via.length ? [via[0].x, via[0].y] : [x2, y2];
  return { d, lx: (x1 + fx) / 2, ly: (y1 + fy) / 2 - 7 };
}

/** Move labels apart: within one gap (same x), at least 18 px between centres. */
function spread(labels) {
  const byGap = new Map();
  for (const l of labels) {
    const key = Math.round(l.lx / 10);
    (byGap.get(key) || byGap.set(key, []).get(key)).push(l);
  }
  for (const list of byGap.values()) {
    list.sort((a, b) => a.ly - b.ly);
    for (let i = 1; i < list.length; i += 1) {
      if (list[i].ly < list[i - 1].ly + 18) list[i].ly = list[i - 1].ly + 18;
    }
  }
}

/**
 * Draw `vis` into `<svg id=dag>` `root`; `open(id)` is called when a component is
 * chosen (click or Enter).
 */
export function draw(root, vis, open) {
  const { nodes, edges } = graph(vis);
  const label = (e) => `${e.grouping} · ${rate(e.rate)}/s`;
  // Columns far enough apart for the widest label between them.
  const widest = Math.max(0, ...edges.map((e) => label(e).length * CHAR_W + 10));
  const { xy, width, height, layer, routes } = layout(nodes, edges, Math.max(LAYER_GAP, Math.ceil(widest + 36)));
  clear(root);
  // Every edge's path and label, then labels sharing a gap moved apart.
  const seen = new Map();
  const drawn = edges.map((e, i) => {
    const pair = `${e.from}\u0000${e.to}`;
    const k = seen.get(pair) || 0;
    seen.set(pair, k + 1);
    const back = layer.get(e.to) <= layer.get(e.from);
    return { e, text: label(e), ...edgePath(xy.get(e.from), xy.get(e.to), k, back, routes.get(i) || []) };
  });
  spread(drawn);
  // Room for loops back below, and labels pushed past the boxes.
  const loops = drawn.some((x) => layer.get(x.e.to) <= layer.get(x.e.from));
  const top = Math.max(8, ...drawn.map((x) => 12 - x.ly));
  const bottom = Math.max(loops ? 64 : 8, ...drawn.map((x) => x.ly + 12 - height));
  const w = Math.max(width, 200);
  root.setAttribute('viewBox', `0 ${-top} ${w} ${height + top + bottom}`);
  root.setAttribute('width', String(w));
  root.setAttribute('height', String(height + top + bottom));
  // A wide graph scrolls instead of shrinking its text below legibility.
  root.classList.toggle('wide', width > 1500);
  root.setAttribute('role', 'img');
  root.setAttribute('aria-label', `topology graph: ${nodes.length} components, ${edges.length} streams`);
  root.append(
    svg('defs', {},
      svg('marker', { id: 'dag-arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '8', markerHeight: '8', orient: 'auto-start-reverse' },
        svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#475569' }))),
  );
  const edgeLayer = svg('g', { class: 'edges' });
  const nodeLayer = svg('g', { class: 'nodes' });
  root.append(edgeLayer, nodeLayer);
  for (const { e, text, d, lx, ly } of drawn) {
    const tip = `${e.from} → ${e.to}\nstream ${e.stream}\ngrouping ${e.grouping}${e.fields.length ? ` (${e.fields.join(', ')})` : ''}\n${rate(e.rate)} tuples/s executed`;
    const g = svg('g', { class: 'edge', 'data-from': e.from, 'data-to': e.to, 'data-stream': e.stream },
      svg('title', { text: tip }),
      svg('path', { d, class: 'edge-line', 'marker-end': 'url(#dag-arrow)' }));
    const lw = text.length * CHAR_W + 10;
    g.append(svg('rect', { x: lx - lw / 2, y: ly - 8, width: lw, height: 16, rx: 4, class: 'edge-label-bg' }),
      svg('text', { x: lx, y: ly + 4, class: 'edge-label', 'text-anchor': 'middle' }, text));
    edgeLayer.append(g);
  }
  for (const n of nodes) {
    const { x, y } = xy.get(n.id);
    const level = n.kind === 'spout' ? capacityLevel(0) : capacityLevel(n.capacity);
    const g = svg('g', {
      class: `node ${n.kind} cap-${level}${n.backpressure ? ' backpressure' : ''}`,
      'data-component': n.id,
      'data-kind': n.kind,
      'data-capacity': capacity(n.capacity),
      'data-backpressure': n.backpressure ? 'true' : 'false',
      transform: `translate(${x} ${y})`,
      tabindex: '0',
      role: 'link',
      'aria-label': `${n.kind} ${n.id}`,
    });
    const tip = [`${n.kind} ${n.id}`, `capacity ${capacity(n.capacity)}`,
      `${n.kind === 'spout' ? 'complete' : 'process'} latency ${n.latency.toFixed(3)} ms`];
    if (n.queueCapacity) tip.push(`queue ${n.queueDepth}/${n.queueCapacity}`);
    if (n.backpressure) tip.push(`BACKPRESSURE: senders blocked ${n.blockedMs.toFixed(0)} ms in the window`);
    g.append(svg('title', { text: tip.join('\n') }));
    g.append(svg('rect', {
      width: NODE_W, height: NODE_H, rx: n.kind === 'spout' ? 28 : 8,
      fill: FILL[level], stroke: n.backpressure ? '#b91c1c' : STROKE[level],
      'stroke-width': n.backpressure ? 3 : 1.5,
      class: 'node-box',
    }));
    if (n.backpressure) {
      g.append(svg('rect', { x: -5, y: -5, width: NODE_W + 10, height: NODE_H + 10, rx: n.kind === 'spout' ? 32 : 11, class: 'bp-ring' }));
      g.append(svg('g', { class: 'bp-mark', transform: `translate(${NODE_W - 30} -10)` },
        svg('rect', { width: 36, height: 18, rx: 9, class: 'bp-badge' }),
        svg('text', { x: 18, y: 13, 'text-anchor': 'middle', class: 'bp-text' }, 'BP')));
    }
    g.append(svg('text', { x: NODE_W / 2, y: 23, 'text-anchor': 'middle', class: 'node-title' }, shorten(n.id, 20)));
    const sub = n.kind === 'spout'
      ? `spout · ${ms(n.latency)} ms`
      : `cap ${capacity(n.capacity)} · ${ms(n.latency)} ms`;
    g.append(svg('text', { x: NODE_W / 2, y: 42, 'text-anchor': 'middle', class: 'node-sub' }, sub));
    g.addEventListener('click', () => open(n.id));
    g.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        open(n.id);
      }
    });
    nodeLayer.append(g);
  }
  if (nodes.length === 0) {
    root.append(svg('text', { x: 20, y: 30, class: 'node-sub' }, 'no components'));
  }
}
