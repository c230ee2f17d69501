"""Raw-protocol bolt (no library) that allocates `test.hog.mb` MiB (written, so
resident) and holds them: on its first message when `test.hog.trigger` is empty or
absent, else on the first message (tuple or heartbeat) after the file it names exists.
It passes field 0 of each tuple on and acks it, and answers heartbeats. For the tests of
`topology.worker.max.memory.mb`: a worker's multi-lang subprocess counts against the
worker's limit."""
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

conf = handshake["conf"]
megabytes = min(int(conf.get("test.hog.mb", 0)), 64 * 1024)
trigger = conf.get("test.hog.trigger") or ""
held = None

while True:
    t = read_message()
    if isinstance(t, list):
        continue
    if held is None and (not trigger or os.path.exists(trigger)):
        held = b"\xa5" * (megabytes << 20)
        sys.stderr.write("memory_hog: holding %d MiB\n" % megabytes)
        sys.stderr.flush()
    if t.get("stream") == "__heartbeat" and t.get("task") == -1:
        send({"command": "sync"})
        continue
    send({"command": "emit", "anchors": [t["id"]], "tuple": [t["tuple"][0]], "need_task_ids": False})
    send({"command": "ack", "id": t["id"]})
