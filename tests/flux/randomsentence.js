// A shell spout for the Flux compatibility tests (shell_test.yaml), speaking Storm's
// multi-lang protocol by hand, without a library: JSON messages each followed by a line
// "end". Emits a random sentence per `next` with a message id; answers every command
// with `sync`.
'use strict';
const fs = require('fs');

const SENTENCES = [
  'the cow jumped over the moon',
  'an apple a day keeps the doctor away',
  'four score and seven years ago',
  'snow white and the seven dwarfs',
  'i am at two with nature',
];

let input = Buffer.alloc(0);
const chunk = Buffer.alloc(65536);
const pause = new Int32Array(new SharedArrayBuffer(4));

function readLine() {
  for (;;) {
    const i = input.indexOf(10);
    if (i >= 0) {
      const line = input.subarray(0, i).toString('utf8');
      input = input.subarray(i + 1);
      return line;
    }
    let n;
    try {
      n = fs.readSync(0, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, 1);
        continue;
      }
      if (e.code === 'EOF') n = 0;
      else throw e;
    }
    if (n === 0) process.exit(0); // the host went away
    input = Buffer.concat([input, chunk.subarray(0, n)]);
  }
}

function readMessage() {
  const lines = [];
  for (;;) {
    const line = readLine();
    if (line === 'end') return JSON.parse(lines.join('\n'));
    lines.push(line);
  }
}

function send(msg) {
  fs.writeSync(1, JSON.stringify(msg) + '\nend\n');
}

const hello = readMessage();
fs.writeFileSync(hello.pidDir + '/' + process.pid, '');
send({ pid: process.pid });

let next = 0;
for (;;) {
  const m = readMessage();
  if (m.command === 'next') {
    next += 1;
    const sentence = SENTENCES[Math.floor(Math.random() * SENTENCES.length)];
    send({ command: 'emit', id: String(next), tuple: [sentence], need_task_ids: false });
  }
  send({ command: 'sync' });
}
