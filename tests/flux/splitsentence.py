"""A shell bolt for the Flux compatibility tests (shell_test.yaml), speaking Storm's
multi-lang protocol by hand, without a library: JSON messages each followed by a line
"end". Emits each word of field 0 anchored to the input, then acks it; answers
heartbeats with `sync`."""
import json
import os
import sys


def read_message():
    lines = []
    while True:
        line = sys.stdin.readline()
        if not line:
            sys.exit(0)  # the host went away
        line = line.rstrip("\n")
        if line == "end":
            return json.loads("\n".join(lines))
        lines.append(line)


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\nend\n")
    sys.stdout.flush()


hello = read_message()
open(os.path.join(hello["pidDir"], str(os.getpid())), "w").close()
send({"pid": os.getpid()})

while True:
    t = read_message()
    if isinstance(t, list):
        continue  # task ids of an emit (not asked for)
    if t.get("stream") == "__heartbeat" and t.get("task") == -1:
        send({"command": "sync"})
        continue
    for word in str(t["tuple"][0]).split():
        send({"command": "emit", "anchors": [t["id"]], "tuple": [word], "need_task_ids": False})
    send({"command": "ack", "id": t["id"]})
