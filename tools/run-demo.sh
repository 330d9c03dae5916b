#!/usr/bin/env bash
# `make run`: the toolkit's main job. On a machine with the msm driver it watches the real
# driver; elsewhere it runs the msmvm-sim model with a multi-process workload and watches
# that, then prints the model's own ground-truth summary for comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
DURATION=${DURATION:-5}

if [ -e /sys/module/msm ]; then
  echo "msm driver found: msmvm-stat on the running kernel, ${DURATION} s (Ctrl-C ends it)" >&2
  exec "$B/msmvm-stat" -P -d "$DURATION" 1
fi

echo "No msm driver here: running the msmvm-sim model (3 processes, mixed workload, ${DURATION} s)." >&2
tmp=$(mktemp -d)
stat_pid=
cleanup() {
  [ -n "$stat_pid" ] && kill -INT "$stat_pid" 2>/dev/null && wait "$stat_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" -eq 0 ]; then
  "$B/msmvm-stat" --sim="$B/msmvm-sim" -P 1 2>"$tmp/stat.err" &
  stat_pid=$!
  for _ in $(seq 100); do grep -q attached "$tmp/stat.err" 2>/dev/null && break; sleep 0.05; done
  cat "$tmp/stat.err" >&2
else
  echo "(not root: msmvm-stat needs CAP_BPF and CAP_PERFMON; showing the model alone)" >&2
fi

"$B/msmvm-sim" run -w mixed -P 3 --queues 2 --rate 1500 --job-cost 800 -d "$DURATION" -o "$tmp/summary.json"
if [ -n "$stat_pid" ]; then
  kill -INT "$stat_pid"
  wait "$stat_pid" || true
  stat_pid=
fi
echo
echo "The model's own summary (ground truth; msmvm-stat's totals above must match it):"
cat "$tmp/summary.json"
