// Raw-protocol bolt (Node.js, no library): for each input word, emits [word] on the
// default stream asking for its task ids (need_task_ids left out: Storm's default is
// true), then [word, those task ids] on stream "tasks", then acks. Answers heartbeats,
// logs (once as a multi-line JSON message), reports metrics, sends "error" for the word
// "oops", and once (marker file conf["test.marker"]) writes a non-JSON message for the
// word "garbage".
'use strict';
const fs = require('fs');
const storm = require('./storm_raw');

const { conf, context } = storm.handshake();
const marker = conf['test.marker'];
storm.send(
  { command: 'log', level: 2, msg: 'tagger is task ' + context.taskid + ' of ' + context.componentid },
  true,
);
let tagged = 0;
for (;;) {
  const t = storm.readCommand();
  if (t.stream === '__heartbeat' && t.task === -1) {
    storm.send({ command: 'sync' });
    continue;
  }
  const word = t.tuple[0];
  if (word === 'garbage' && marker && !fs.existsSync(marker)) {
    fs.writeFileSync(marker, '');
    fs.writeSync(1, 'this is not json\nend\n');
    continue;
  }
  if (word === 'oops') storm.send({ command: 'error', msg: 'tagger saw oops' });
  storm.send({ command: 'emit', anchors: [t.id], tuple: [word] });
  const tasks = storm.readTaskIds();
  storm.send({ command: 'emit', anchors: [t.id], stream: 'tasks', tuple: [word, tasks], need_task_ids: false });
  tagged += 1;
  if (tagged % 10 === 0) storm.send({ command: 'metrics', name: 'tagged', params: tagged });
  storm.send({ command: 'log', level: 1, msg: 'tagged ' + word });
  storm.send({ command: 'ack', id: t.id });
}
