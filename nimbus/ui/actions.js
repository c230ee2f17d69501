// Topology actions (activate, deactivate, rebalance, kill) through Storm's REST paths,
// each confirmed in `dialog#confirm` first.

import { post, path, ApiError } from './api.js';
import { el, say, sayNext } from './dom.js';

const ACTIONS = {
  activate: { verb: 'activate', title: 'Activate topology', wait: false, ok: 'Activate',
    text: 'Spouts start emitting again.' },
  deactivate: { verb: 'deactivate', title: 'Deactivate topology', wait: false, ok: 'Deactivate',
    text: 'Spouts stop emitting; tuples in flight are still processed.' },
  rebalance: { verb: 'rebalance', title: 'Rebalance topology', wait: true, ok: 'Rebalance',
    text: 'Spouts pause for the wait time, then the topology is rescheduled over the workers.' },
  kill: { verb: 'kill', title: 'Kill topology', wait: true, ok: 'Kill', danger: true,
    text: 'Spouts stop now; after the wait time the workers are stopped and the topology is removed. This cannot be undone.' },
};

/** The action buttons of a topology page; `topology()` gives {id, name} when pressed. */
export function buttons(topology, done) {
  const bar = el('div', { class: 'actions', role: 'group', 'aria-label': 'topology actions' });
  for (const kind of Object.keys(ACTIONS)) {
    const a = ACTIONS[kind];
    bar.append(el('button', {
      id: `action-${kind}`,
      type: 'button',
      class: a.danger ? 'btn danger' : 'btn',
      onclick: () => run(kind, topology(), done),
    }, a.ok));
  }
  return bar;
}

/** Ask in the dialog; resolves to {wait, workers} or null when cancelled. */
function confirm(kind, name) {
  const a = ACTIONS[kind];
  const dialog = document.getElementById('confirm');
  const wait = document.getElementById('confirm-wait');
  const workers = document.getElementById('confirm-workers');
  document.getElementById('confirm-title').textContent = `${a.title} ${name}?`;
  document.getElementById('confirm-text').textContent = a.text;
  document.getElementById('confirm-wait-row').hidden = !a.wait;
  wait.hidden = !a.wait;
  document.getElementById('confirm-workers-row').hidden = kind !== 'rebalance';
  wait.value = '30';
  workers.value = '';
  const ok = document.getElementById('confirm-ok');
  ok.textContent = a.ok;
  ok.className = a.danger ? 'btn danger' : 'btn primary';
  const error = document.getElementById('confirm-error');
  error.textContent = '';
  return new Promise((resolve) => {
    const form = document.getElementById('confirm-form');
    const cancel = document.getElementById('confirm-cancel');
    const finish = (value) => {
      form.removeEventListener('submit', onSubmit);
      cancel.removeEventListener('click', onCancel);
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onSubmit = (ev) => {
      ev.preventDefault();
      const w = Number(wait.value);
      if (a.wait && (!Number.isInteger(w) || w < 0 || w > 86400)) {
        error.textContent = 'The wait is a whole number of seconds from 0 to 86400.';
        return;
      }
      const n = workers.value.trim() === '' ? null : Number(workers.value);
      if (n !== null && (!Number.isInteger(n) || n < 1 || n > 10000)) {
        error.textContent = 'Workers is a whole number from 1 (or empty: unchanged).';
        return;
      }
      finish({ wait: a.wait ? w : 0, workers: n });
    };
    const onCancel = (ev) => {
      if (ev) ev.preventDefault();
      finish(null);
    };
    form.addEventListener('submit', onSubmit);
    cancel.addEventListener('click', onCancel);
    dialog.addEventListener('cancel', onCancel);
    dialog.showModal();
    (a.wait ? wait : cancel).focus();
  });
}

/** Confirm and run action `kind` on topology {id, name}; the result goes to #message. */
export async function run(kind, topology, done) {
  const a = ACTIONS[kind];
  const answer = await confirm(kind, topology.name);
  if (!answer) return;
  let url;
  let body;
  switch (kind) {
    case 'rebalance':
      url = `${path('topology', topology.id, 'rebalance')}/${answer.wait}`;
      body = answer.workers ? { rebalanceOptions: { numWorkers: answer.workers } } : {};
      break;
    case 'kill':
      url = `${path('topology', topology.id, 'kill')}/${answer.wait}`;
      break;
    default:
      url = path('topology', topology.id, kind);
  }
  try {
    await post(url, body);
    const extra = kind === 'kill' ? ` (removed in ${answer.wait} s)`
      : kind === 'rebalance' ? ` (rescheduled in ${answer.wait} s)` : '';
    const text = `Topology ${topology.name}: ${a.verb} done${extra}.`;
    if (kind === 'kill') {
      // Its page is about to be gone: show the result on the cluster page.
      sayNext(text, 'ok');
      window.location.hash = '#/';
      return;
    }
    say(text, 'ok');
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) {
      say(`You are not allowed to ${a.verb} topology ${topology.name}: ${e.message}`, 'error');
    } else if (e instanceof ApiError && e.status === 401) {
      say(`Your token is no longer accepted (${e.message}); sign in again to ${a.verb}.`, 'error');
    } else {
      say(`Could not ${a.verb} topology ${topology.name}: ${e.message}`, 'error');
    }
  }
  if (done) done(kind);
}
