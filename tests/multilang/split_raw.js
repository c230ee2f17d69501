// Raw-protocol split bolt (Node.js, no library): emits each word of field 0 anchored to
// the input (need_task_ids: false), then acks; answers heartbeats. For the benchmark.
'use strict';
const storm = require('./storm_raw');

storm.handshake();
for (;;) {
  const t = storm.readCommand();
  if (t.stream === '__heartbeat' && t.task === -1) {
    storm.send({ command: 'sync' });
    continue;
  }
  for (const word of t.tuple[0].split(' ')) {
    if (word) storm.send({ command: 'emit', anchors: [t.id], tuple: [word], need_task_ids: false });
  }
  storm.send({ command: 'ack', id: t.id });
}
