// A worker's log through nimbus (`GET /api/v1/topology/{id}/logs`): the tail, then,
// with "follow", what the worker wrote since (asked from the previous answer's
// `end_offset` at every refresh).

import { get, path } from './api.js';
import { el, route } from './dom.js';
import { bytes } from './format.js';

/** The most text kept on the page; older lines are dropped first. */
const MAX_CHARS = 2 * 1024 * 1024;
/** Reads per refresh when an answer was cut at max_bytes. */
const MAX_READS = 4;
/** Terminal colour and cursor sequences (a worker's tracing log may hold them). */
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -\/]*[@-~]/g;

/** Mount the log page of `params.worker` of topology `params.id`. */
export function mount(root, params, ctx) {
  const { id } = params;
  const worker = params.query.get('worker') || '';
  const source = el('span', { id: 'log-source', class: 'mono' }, worker || 'the only worker');
  const file = el('select', { id: 'log-file', 'aria-label': 'file' },
    el('option', { value: 'log' }, 'worker.log (stderr, tracing log)'),
    el('option', { value: 'out' }, 'worker.out (stdout)'));
  const tail = el('select', { id: 'log-tail', 'aria-label': 'lines' },
    ['100', '500', '1000', '5000'].map((n) => el('option', { value: n }, `last ${n} lines`)));
  tail.value = '500';
  const follow = el('input', { id: 'log-follow', type: 'checkbox' });
  follow.checked = true;
  const reload = el('button', { type: 'button', class: 'btn', id: 'log-reload' }, 'Reload');
  const status = el('div', { id: 'log-status', class: 'muted small' });
  const log = el('pre', { id: 'log', class: 'log', tabindex: '0' });
  const topoLink = el('a', { href: route('topology', id) }, id);
  root.append(
    el('div', { class: 'page-head' },
      el('div', { class: 'title-row' }, el('h1', {}, 'Worker log'), source),
      el('div', { class: 'muted' }, 'of topology ', topoLink)),
    el('div', { class: 'toolbar' }, file, tail,
      el('label', { class: 'check' }, follow, ' Follow'), reload, status),
    el('section', { class: 'card log-card' }, log),
  );
  ctx.crumbs([{ text: id, href: route('topology', id) }, { text: `log ${worker}` }]);

  let offset = null; // where the next read starts; null: read the tail first
  let fresh = true;
  const restart = () => {
    offset = null;
    fresh = true;
    ctx.refreshNow();
  };
  file.addEventListener('change', restart);
  tail.addEventListener('change', restart);
  reload.addEventListener('click', restart);
  follow.addEventListener('change', () => { if (follow.checked) ctx.refreshNow(); });

  function query(extra) {
    const q = new URLSearchParams();
    if (worker) q.set('worker', worker);
    q.set('file', file.value);
    for (const [k, v] of Object.entries(extra)) q.set(k, String(v));
    return `${path('topology', id, 'logs')}?${q.toString()}`;
  }

  function append(text) {
    if (!text) return;
    text = text.replace(ANSI, '');
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.append(document.createTextNode(text));
    if (log.textContent.length > MAX_CHARS) {
      const kept = log.textContent.slice(-Math.floor(MAX_CHARS * 0.75));
      const cut = kept.indexOf('\n');
      log.textContent = cut >= 0 ? kept.slice(cut + 1) : kept;
    }
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  async function refresh() {
    if (offset === null) {
      const answer = await get(query({ tail: tail.value }));
      log.textContent = '';
      append(answer.text);
      log.scrollTop = log.scrollHeight;
      offset = answer.end_offset;
      source.textContent = `${answer.worker} · supervisor ${answer.supervisor}`;
      const notes = [`${bytes(answer.file_size)} file`];
      if (answer.truncated) notes.push('the first lines were cut (over 1 MiB)');
      if (answer.earlier_bytes) notes.push(`${bytes(answer.earlier_bytes)} from rotated files`);
      status.textContent = notes.join(' · ');
      fresh = false;
      return;
    }
    if (!follow.checked || fresh) return;
    for (let i = 0; i < MAX_READS; i += 1) {
      const answer = await get(query({ offset }));
      if (answer.rotated) status.textContent = 'the file was rotated: continuing at the start of the new file';
      append(answer.text);
      offset = answer.end_offset;
      if (!answer.truncated) break;
    }
  }
  return { name: 'logs', refresh };
}
