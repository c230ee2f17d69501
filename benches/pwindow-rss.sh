#!/bin/sh
# RSS and throughput of a 1-hour persistent sliding window at full speed
# (topologies/bench-window-persistent.yaml), in local mode, release build:
# samples the process's RSS every 10 s, then prints the run's totals.
#
#   benches/pwindow-rss.sh [seconds (default 300)] [squall binary (default target/release/squall)]
#
# The window's pages go to /tmp/squall-bench-pwindow (removed before and after: about
# 1 GB per 100M tuples).
set -eu
secs=${1:-300}
bin=${2:-target/release/squall}
dir=$(dirname "$0")/..
state=/tmp/squall-bench-pwindow
out=$(mktemp)
rm -rf "$state"
"$bin" local "$dir/topologies/bench-window-persistent.yaml" --duration "${secs}s" --json >"$out" 2>/dev/null &
pid=$!
start=$(date +%s)
echo "t_s rss_mib load1"
while kill -0 "$pid" 2>/dev/null; do
    sleep 10
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$rss" ] || break
    echo "$(( $(date +%s) - start )) $(( rss / 1024 )) $(cut -d' ' -f1 /proc/loadavg)"
done
wait "$pid" || true
du -sh "$state" 2>/dev/null || true
cat "$out"
echo
rm -rf "$state" "$out"
