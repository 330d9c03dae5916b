#!/usr/bin/env bash
# `make run`: the toolkit's main job. With the msm driver loaded it opens msmvmtop on it.
# Elsewhere it starts the msmvm-sim model with a demo workload (several processes, mixed
# binds with a storm every few seconds, so the throttle visibly stalls) and opens
# `msmvmtop --sim` on it; `q` stops both. Without a terminal it prints batch frames for
# long enough to cover the first storm (FRAMES frames, INTERVAL s apart), and the model's own
# summary instead. The summary ends with what stopping the model did to its sleepers.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
# the storm is the last 3 s of every 8 s from the model's start (t 5..8 s): 5 frames 2 s apart
# end after it, a slow attach included
FRAMES=${FRAMES:-5}
INTERVAL=${INTERVAL:-2}
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
  sleep "$((FRAMES * INTERVAL))"
elif [ "$tty" = 1 ]; then
  "$B/msmvmtop" --sim="$B/msmvm-sim" || true
else
  echo "(no terminal: $FRAMES batch frames, one every $INTERVAL s, instead of the dashboard)" >&2
  "$B/msmvmtop" --sim="$B/msmvm-sim" -b -n "$FRAMES" -d "$INTERVAL"
fi

kill -TERM "$model"
wait "$model" || true
model=
echo
echo "The model's own summary (ground truth) for this run:"
jq -c '{limit, workload, totals}' "$tmp/summary.json"

# What the stop did. Stopping the model is killing its processes: a thread asleep in the
# throttle gets a signal and its VM_BIND returns -ERESTARTSYS; the driver then frees the job
# in the ioctl, and that subtracts a count that was never added to in_flight (docs/model.md,
# "Jobs"): downward drift, after the dashboard's last frame, so it never showed it.
read -r iw drift waits < <(jq -r '.totals | "\(.interrupted_waits) \(.drift) \(.waits)"' "$tmp/summary.json")
echo
if [ "$iw" -gt 0 ]; then
  echo "Stopping the model interrupted $iw of its $waits throttle waits (interrupted_waits $iw):"
  echo "threads still asleep in vm_bind_prealloc_count() got a signal, as a killed Vulkan app's"
  echo "threads would, and their VM_BINDs returned -ERESTARTSYS. As in the driver, such a job is"
  echo "then freed in the ioctl, which subtracts its page count from in_flight although that"
  echo "count was never added: hence drift $drift (pages, downward). It happened at the stop,"
  echo "after the dashboard's last frame, so the dashboard did not show it. See docs/model.md."
elif [ "$drift" -ne 0 ]; then
  echo "Drift $drift pages with no interrupted wait: see docs/model.md for the drift paths."
else
  echo "No thread was asleep in the throttle when the model stopped: no wait was interrupted and"
  echo "the accounting ends with no drift. (Stopped during a storm, the sleepers' VM_BINDs return"
  echo "-ERESTARTSYS, and each subtracts a count never added: downward drift; docs/model.md.)"
fi
