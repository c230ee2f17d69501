// DOM helpers. Every piece of text goes in with textContent (never as markup): ids,
// error messages and log lines come from users.

const SVG_NS = 'http://www.w3.org/2000/svg';

function fill(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = String(v);
    else if (k === 'class') node.setAttribute('class', v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** An HTML element: `el('a', {href: '#/', class: 'x'}, 'text', child)`. */
export function el(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function svg(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Remove every child of `node`. */
export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

/** Replace the children of `node` with `children`. */
export function replace(node, ...children) {
  clear(node);
  return fill(node, {}, children);
}

/**
 * A table: `columns` is a list of `{title, class?, num?}`; the body is filled by the
 * caller (see `rows`). Returns {table, tbody}.
 */
export function table(id, columns, caption) {
  const tbody = el('tbody');
  const head = el('tr', {}, columns.map((c) =>
    el('th', { class: [c.class, c.num ? 'num' : ''].filter(Boolean).join(' ') || null, title: c.hint || null, scope: 'col' }, c.title)));
  const t = el('table', { id, class: 'grid' }, caption ? el('caption', {}, caption) : null, el('thead', {}, head), tbody);
  return { table: t, tbody, columns };
}

/** Fill a table body with rows; `empty` is shown in one cell when there are none. */
export function rows(tbody, list, empty) {
  clear(tbody);
  if (list.length === 0 && empty) {
    const cols = tbody.parentNode ? tbody.parentNode.querySelectorAll('thead th').length : 1;
    tbody.append(el('tr', { class: 'empty' }, el('td', { colspan: cols || 1 }, empty)));
    return;
  }
  for (const r of list) tbody.append(r);
}

/** A table cell; numbers right-aligned. */
export function td(value, cls) {
  return el('td', { class: cls || null }, value);
}

/** A numeric cell. */
export function num(value, cls) {
  return el('td', { class: ['num', cls].filter(Boolean).join(' ') }, value);
}

/** A card section with a heading. */
export function card(title, ...children) {
  return el('section', { class: 'card' }, title ? el('h2', {}, title) : null, ...children);
}

/** A hash link to a route made of parts, each encoded. */
export function route(...parts) {
  return '#/' + parts.map((p) => encodeURIComponent(String(p))).join('/');
}

/** Show `text` in `#message`; `kind` is `ok` or `error`. */
export function say(text, kind = 'ok') {
  const m = document.getElementById('message');
  if (!m) return;
  m.textContent = text;
  m.dataset.kind = kind;
  const bar = document.getElementById('message-bar');
  if (bar) {
    bar.hidden = false;
    bar.dataset.kind = kind;
  }
}

/** A message kept for the next page (see sayNext). */
let pending = null;

/** Show `text` on the next page shown (a result that survives one navigation). */
export function sayNext(text, kind = 'ok') {
  pending = { text, kind };
}

/** Show the message kept by sayNext, if there is one. */
export function sayPending() {
  if (pending) {
    say(pending.text, pending.kind);
    pending = null;
  }
}

/** Hide the message bar. */
export function unsay() {
  const bar = document.getElementById('message-bar');
  if (bar) bar.hidden = true;
  const m = document.getElementById('message');
  if (m) {
    m.textContent = '';
    delete m.dataset.kind;
  }
}

/** The hash link to the log page of `worker` (host:port) of topology `id`. */
export function logRoute(id, worker) {
  return `${route('topology', id, 'logs')}?worker=${encodeURIComponent(worker).replace(/%3A/gi, ':')}`;
}
