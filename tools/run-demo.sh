#!/usr/bin/env bash
# `make run`: the toolkit's main job. With the msm driver loaded it opens msmvmtop on it.
# Elsewhere it starts the msmvm-sim model with a demo workload (several processes, mixed
# binds with a storm every few seconds, so the throttle visibly stalls) and opens
# `msmvmtop --sim` on it; `q` stops both. Without a terminal it prints a few batch frames
# and the model's own summary instead.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
FRAMES=${FRAMES:-5}
tty=0
[ -t 0 ] && [ -t 1 ] && tty=1

if [ -e /sys/module/msm ]; then
  if [ "$tty" = 1 ]; then exec "$B/msmvmtop"; fi
  exec "$B/msmvmtop" -b -n "$FRAMES"
fi

tmp=$(mktemp -d)
model=
cleanup() {
  if [ -n "$model" ]; then kill -TERM "$model" 2>/dev/null; wait "$model" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "No msm driver here: running the msmvm-sim model (4 processes, mixed binds, a storm every 8 s)." >&2
"$B/msmvm-sim" run -w mixed -P 4 --rate 150 --job-cost 200 --op-cost 20 --burst-every 8 --burst-len 3 \
  -d 3600 -o "$tmp/summary.json" 2>"$tmp/sim.err" &
model=$!

if [ "$(id -u)" -ne 0 ]; then
  echo "msmvmtop needs CAP_BPF and CAP_PERFMON: run 'make run' as root. Showing the model alone." >&2
  sleep "$FRAMES"
elif [ "$tty" = 1 ]; then
  "$B/msmvmtop" --sim="$B/msmvm-sim" || true
else
  echo "(no terminal: $FRAMES batch frames instead of the dashboard)" >&2
  "$B/msmvmtop" --sim="$B/msmvm-sim" -b -n "$FRAMES" -d 1
fi

kill -TERM "$model"
wait "$model" || true
model=
echo
echo "The model's own summary (ground truth) for this run:"
jq -c '{limit, workload, totals}' "$tmp/summary.json"
