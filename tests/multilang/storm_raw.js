// Storm's multi-lang protocol written by hand, without a library: JSON messages, each
// followed by a line "end"; blocking reads on stdin (fd 0) and writes on stdout (fd 1).
'use strict';
const fs = require('fs');

let input = Buffer.alloc(0);
const chunk = Buffer.alloc(65536);
const pause = new Int32Array(new SharedArrayBuffer(4));
const pendingCommands = [];
const pendingTaskIds = [];

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
    if (n === 0) process.exit(2); // the host went away
    input = Buffer.concat([input, chunk.subarray(0, n)]);
  }
}

// One message: the lines up to a line "end", parsed as JSON.
function readMessage() {
  const lines = [];
  for (;;) {
    const line = readLine();
    if (line === 'end') return JSON.parse(lines.join('\n'));
    lines.push(line);
  }
}

// The next command or tuple (task-id lists read meanwhile are kept for readTaskIds).
function readCommand() {
  if (pendingCommands.length) return pendingCommands.shift();
  for (;;) {
    const m = readMessage();
    if (Array.isArray(m)) pendingTaskIds.push(m);
    else return m;
  }
}

// The task ids of an earlier emit (commands read meanwhile are kept for readCommand).
function readTaskIds() {
  if (pendingTaskIds.length) return pendingTaskIds.shift();
  for (;;) {
    const m = readMessage();
    if (Array.isArray(m)) return m;
    pendingCommands.push(m);
  }
}

function send(msg, pretty) {
  fs.writeSync(1, JSON.stringify(msg, null, pretty ? 2 : 0) + '\nend\n');
}

// Read {conf, context, pidDir}, create the pid file, answer {"pid": N}.
function handshake() {
  const h = readMessage();
  fs.writeFileSync(h.pidDir + '/' + process.pid, '');
  send({ pid: process.pid });
  return h;
}

module.exports = { handshake, readCommand, readTaskIds, send };
