"""Raw-protocol split bolt (no library) that first writes `test.stderr.bytes` bytes
(default 50 MB) of numbered lines to its stderr, then a line `CHATTY DONE`, then splits
field 0 into words (need_task_ids: false), acks, and answers heartbeats. For the test
that a subprocess's stderr cannot fill the worker's disk."""
import json
import os
import sys


def read_message():
    lines = []
    while True:
        line = sys.stdin.readline()
        if not line:
            sys.exit(2)  # the host went away
        line = line.rstrip("\n")
        if line == "end":
            return json.loads("\n".join(lines))
        lines.append(line)


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\nend\n")
    sys.stdout.flush()


handshake = read_message()
open(os.path.join(handshake["pidDir"], str(os.getpid())), "w").close()
send({"pid": os.getpid()})

total = int(handshake["conf"].get("test.stderr.bytes", 50_000_000))
filler = "x" * 90
written = 0
n = 0
while written < total:
    line = "chatty %09d %s\n" % (n, filler)
    sys.stderr.write(line)
    written += len(line)
    n += 1
sys.stderr.write("CHATTY DONE after %d lines\n" % n)
sys.stderr.flush()

while True:
    t = read_message()
    if isinstance(t, list):
        continue
    if t.get("stream") == "__heartbeat" and t.get("task") == -1:
        send({"command": "sync"})
        continue
    for word in str(t["tuple"][0]).split():
        send({"command": "emit", "anchors": [t["id"]], "tuple": [word], "need_task_ids": False})
    send({"command": "ack", "id": t["id"]})
