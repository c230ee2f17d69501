// Raw-protocol spout (Node.js, no library): emits [n] for n in 0..conf["test.numbers"]
// with message id n (a JSON number), reads back the task ids of each emit (need_task_ids
// left out: true), re-emits failed ids, and says "exhausted" (a Squall extension) when
// it has emitted them all. Every command is answered with "sync". With
// conf["test.crash.at"] = K and a marker path conf["test.marker"], it exits with status 4
// instead of emitting K, once (the marker remembers it across restarts).
'use strict';
const fs = require('fs');
const storm = require('./storm_raw');

const { conf } = storm.handshake();
const count = conf['test.numbers'];
const crashAt = conf['test.crash.at'];
const marker = conf['test.marker'];
let next = 0;
let told = false;
for (;;) {
  const c = storm.readCommand();
  switch (c.command) {
    case 'next':
      if (next === crashAt && marker && !fs.existsSync(marker)) {
        fs.writeFileSync(marker, '');
        process.stderr.write('numbers: exiting before ' + next + '\n');
        process.exit(4);
      }
      if (next < count) {
        const id = next++;
        storm.send({ command: 'emit', id, tuple: [id] });
        const tasks = storm.readTaskIds();
        if (tasks.length !== 1) storm.send({ command: 'error', msg: 'expected one target task, got ' + JSON.stringify(tasks) });
      } else if (!told) {
        told = true;
        storm.send({ command: 'exhausted' });
      }
      break;
    case 'fail':
      storm.send({ command: 'emit', id: c.id, tuple: [c.id], need_task_ids: false });
      break;
    case 'activate':
      storm.send({ command: 'log', level: 2, msg: 'numbers activated' });
      break;
    default:
      break;
  }
  storm.send({ command: 'sync' });
}
