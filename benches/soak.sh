#!/usr/bin/env bash
# Soak: the 2-worker acked word count (topologies/wordcount.yaml with
# `topology.workers: 2`) on a local nimbus (plain HTTP on loopback) and two
# supervisors, for a given time, with a
# random worker SIGKILLed every few minutes. Every SAMPLE seconds it appends one CSV row:
# throughput (words counted per second), and the RSS and open file descriptors of the
# workers, the supervisors and nimbus. At the end it checks that nothing was lost: a
# canary topology (one acked word per line of a file, each written to a file sink) ran
# beside the word count through the same kills, and every line of its input must be in
# its sink (at least once), with the canary's spout having acked every line.
#
# Not part of `.ci/run`: a benchmark. Usage (release build of `squall` first):
#
#   cargo build --release --bin squall
#   benches/soak.sh                      # 1 hour, a kill every 4 minutes
#   SOAK_SECS=600 SOAK_KILL_EVERY=120 benches/soak.sh
#
# Environment (all optional):
#   SOAK_SECS        run time in seconds (default 3600)
#   SOAK_KILL_EVERY  seconds between worker kills (default 240; 0: no kills)
#   SOAK_SAMPLE      seconds between CSV rows (default 10)
#   SOAK_CANARY_LINES lines of canary input (default SOAK_SECS * 5: its spout is paced by
#                    `topology.max.spout.pending: 1`, about 8 lines/s on a busy 2-core
#                    machine, so it runs about as long as the soak)
#   SOAK_OUT         output directory (default: a new temp dir; the CSV is soak.csv)
#   SQUALL_BIN       the squall binary (default ${CARGO_TARGET_DIR:-target}/release/squall)
#   SOAK_CPUS        cores for the whole cluster, for taskset (default: all)
#
# Exit status: 0 when the canary lost nothing, 1 otherwise (or on a setup failure).
set -euo pipefail

SECS=${SOAK_SECS:-3600}
KILL_EVERY=${SOAK_KILL_EVERY:-240}
SAMPLE=${SOAK_SAMPLE:-10}
CANARY_LINES=${SOAK_CANARY_LINES:-$((SECS * 5))}
BIN=${SQUALL_BIN:-${CARGO_TARGET_DIR:-target}/release/squall}
OUT=${SOAK_OUT:-$(mktemp -d /tmp/squall-soak.XXXXXX)}
TASKSET=()
if [[ -n ${SOAK_CPUS:-} ]]; then TASKSET=(taskset -c "$SOAK_CPUS"); fi

[[ -x $BIN ]] || { echo "soak: no squall binary at $BIN (cargo build --release --bin squall)" >&2; exit 1; }
BIN=$(realpath "$BIN")
mkdir -p "$OUT"
chmod 1777 "$OUT" # workers run under uids of their own and write the canary's sink here
CSV=$OUT/soak.csv
echo "soak: output in $OUT (${SECS}s, a kill every ${KILL_EVERY}s, a row every ${SAMPLE}s)"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# nimbus: it prints its URL once it listens, and writes its admin token.
NPORT=$(free_port)
mkdir -p "$OUT/nimbus"
SQUALL_LOG=info "${TASKSET[@]}" "$BIN" nimbus --data "$OUT/nimbus" --listen "127.0.0.1:$NPORT" --tls off \
  >"$OUT/nimbus.out" 2>"$OUT/nimbus.log" &
NIMBUS_PID=$!
PIDS+=("$NIMBUS_PID")
for _ in $(seq 300); do grep -q listening "$OUT/nimbus.out" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$OUT/nimbus.out" || { echo "soak: nimbus did not start" >&2; exit 1; }
URL=$(grep listening "$OUT/nimbus.out" | awk '{print $NF}' | sed 's#/$##')
export SQUALL_TOKEN_FILE=$OUT/nimbus/admin.token
sq() { "$BIN" "$@" --nimbus "$URL"; }

# Two supervisors of two slots each, with their own supervisor tokens.
SUP_PIDS=()
for s in 1 2; do
  mkdir -p "$OUT/sup$s"
  (umask 077 && sq token create --role supervisor --name "soak-sup$s" >"$OUT/sup$s/supervisor.token" 2>/dev/null)
  SQUALL_LOG=info "${TASKSET[@]}" "$BIN" supervisor --token-file "$OUT/sup$s/supervisor.token" \
    --nimbus "$URL" --data "$OUT/sup$s" --slots "$(free_port),$(free_port)" \
    >/dev/null 2>>"$OUT/sup$s/supervisor.log" &
  SUP_PIDS+=($!)
  PIDS+=($!)
done
for _ in $(seq 300); do
  [[ $(curl -s -H "Authorization: Bearer $(cat "$SQUALL_TOKEN_FILE")" "$URL/api/v1/supervisors" |
    grep -o '"alive":true' | wc -l) -ge 2 ]] && break
  sleep 0.1
done

# The word count, as topologies/wordcount.yaml, on 2 workers.
HERE=$(cd "$(dirname "$0")/.." && pwd)
sed 's/topology.workers: 1/topology.workers: 2/' "$HERE/topologies/wordcount.yaml" >"$OUT/wordcount.yaml"
grep -q 'topology.workers: 2' "$OUT/wordcount.yaml"

# The canary: one unique word per line, acked end to end into a file sink.
seq -f 'w%.0f' 1 "$CANARY_LINES" >"$OUT/canary.txt"
chmod 644 "$OUT/canary.txt"
cat >"$OUT/canary.yaml" <<EOF
name: canary
config:
  topology.workers: 2
  topology.message.timeout.secs: 5
  topology.max.spout.pending: 1
spouts:
  - id: lines
    className: LineFileSpout
    constructorArgs: ["$OUT/canary.txt"]
bolts:
  - id: split
    className: SplitSentenceBolt
  - id: sink
    className: FileSinkBolt
    constructorArgs: ["$OUT/canary.sink"]
streams:
  - from: lines
    to: split
    grouping: {type: SHUFFLE}
  - from: split
    to: sink
    grouping: {type: SHUFFLE}
EOF

# `squall status NAME --json` as one line of JSON (empty on failure).
status() { sq status "$1" --json 2>/dev/null | tr -d '\n' || true; }
# The running workers' pids of a topology.
pids_of() { status "$1" | python3 -c 'import json,sys
try: st=json.load(sys.stdin)
except Exception: sys.exit(0)
print(" ".join(str(w["pid"]) for w in st.get("workers",[]) if w.get("state")=="running" and w.get("pid")))'; }
# A figure of a component from a status: field FIELD of component COMP.
figure() { status "$1" | python3 -c 'import json,sys
try: print(int(json.load(sys.stdin)["components"][sys.argv[1]][sys.argv[2]]))
except Exception: print("")' "$2" "$3"; }
# Resident KiB and open fds of a set of pids, summed.
rss_kb() { local t=0 p; for p in "$@"; do t=$((t + $(awk '/^VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo "$t"; }
fds() { local t=0 p; for p in "$@"; do t=$((t + $(ls "/proc/$p/fd" 2>/dev/null | wc -l))); done; echo "$t"; }

sq submit "$OUT/wordcount.yaml" >/dev/null
sq submit "$OUT/canary.yaml" >/dev/null
for _ in $(seq 600); do
  w=$(pids_of wordcount); c=$(pids_of canary)
  [[ $(wc -w <<<"$w") -eq 2 && $(wc -w <<<"$c") -eq 2 ]] && break
  sleep 0.1
done
[[ $(wc -w <<<"$(pids_of wordcount)") -eq 2 ]] || { echo "soak: the word count did not start" >&2; exit 1; }

echo "t_s,words_per_s,count_executed,spout_acked,spout_failed,kills,wc_workers_rss_kb,wc_workers_fds,canary_workers_rss_kb,canary_workers_fds,supervisors_rss_kb,supervisors_fds,nimbus_rss_kb,nimbus_fds,canary_sink_lines" >"$CSV"
START=$(date +%s)
NEXT_KILL=$((START + KILL_EVERY))
KILLS=0
LAST_T=$START
LAST_C=$(figure wordcount count executed); LAST_C=${LAST_C:-0}
while :; do
  sleep "$SAMPLE"
  NOW=$(date +%s)
  T=$((NOW - START))
  if [[ $KILL_EVERY -gt 0 && $NOW -ge $NEXT_KILL && $T -lt $SECS ]]; then
    # Alternate the word count and the canary; a random one of its two workers.
    TOPO=wordcount; [[ $((KILLS % 2)) -eq 1 ]] && TOPO=canary
    read -ra W <<<"$(pids_of $TOPO)"
    if [[ ${#W[@]} -gt 0 ]]; then
      VICTIM=${W[$((RANDOM % ${#W[@]}))]}
      kill -KILL -- "-$VICTIM" 2>/dev/null || kill -KILL "$VICTIM" 2>/dev/null || true
      KILLS=$((KILLS + 1))
      echo "soak: t=${T}s killed $TOPO worker $VICTIM (kill $KILLS)"
    fi
    NEXT_KILL=$((NOW + KILL_EVERY))
  fi
  C=$(figure wordcount count executed); C=${C:-$LAST_C}
  # Nimbus's totals drop when a killed worker's tasks restart from zero: the rate of
  # that interval is then the restarted counters' growth only (a lower bound).
  if [[ $C -ge $LAST_C ]]; then D=$((C - LAST_C)); else D=$C; fi
  RATE=$((D / (NOW - LAST_T > 0 ? NOW - LAST_T : 1)))
  read -ra W <<<"$(pids_of wordcount)"
  read -ra CW <<<"$(pids_of canary)"
  SINK=$(wc -l <"$OUT/canary.sink" 2>/dev/null || echo 0)
  echo "$T,$RATE,$C,$(figure wordcount sentences acked),$(figure wordcount sentences failed),$KILLS,$(rss_kb "${W[@]}"),$(fds "${W[@]}"),$(rss_kb "${CW[@]}"),$(fds "${CW[@]}"),$(rss_kb "${SUP_PIDS[@]}"),$(fds "${SUP_PIDS[@]}"),$(rss_kb "$NIMBUS_PID"),$(fds "$NIMBUS_PID"),$SINK" >>"$CSV"
  LAST_C=$C; LAST_T=$NOW
  [[ $T -ge $SECS ]] && break
done
echo "soak: ran ${SECS}s with $KILLS kills; CSV: $CSV"

# Nothing lost: every canary line reaches the sink, and the canary's spout acks them all
# (it replays failed lines; wait for it, bounded). The canary's spout has no durable
# position: when its worker is killed it starts again from the file's first line, so on a
# slow machine it may not get through the file before the deadline. Then the check is
# that no line is missing below the highest line that arrived (a gap is a loss).
DEADLINE=$(($(date +%s) + ${SOAK_DRAIN_SECS:-600}))
while [[ $(date +%s) -lt $DEADLINE ]]; do
  GOT=$(grep -o '"w[0-9]*"' "$OUT/canary.sink" 2>/dev/null | sort -u | wc -l)
  if [[ $GOT -ge $CANARY_LINES ]]; then break; fi
  sleep 2
done
read -r GOT HIGHEST < <(grep -o '"w[0-9]*"' "$OUT/canary.sink" 2>/dev/null | tr -d '"w' | sort -nu |
  awk '{n++; m=$1} END {print n+0, m+0}')
ROWS=$(wc -l <"$OUT/canary.sink" 2>/dev/null || echo 0)
echo "soak: canary: $GOT distinct of $CANARY_LINES lines in the sink, the highest w$HIGHEST ($ROWS rows: $((ROWS - GOT)) replayed duplicates)"
if [[ $GOT -lt $HIGHEST ]]; then
  echo "soak: LOST $((HIGHEST - GOT)) canary lines below w$HIGHEST" >&2
  exit 1
fi
if [[ $GOT -lt $CANARY_LINES ]]; then
  echo "soak: the canary reached line $HIGHEST of $CANARY_LINES before the deadline (its spout restarts from line 1 after a kill); none missing below it"
fi
echo "soak: nothing lost"
