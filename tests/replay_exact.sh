#!/usr/bin/env bash
# Exact replays at high rates: the model's sparse workload with no time in the scheduler
# (--job-cost 0: jobs are freed while their call is still returning, the case where a free
# can reach the ring buffer after the event of the call that queued it), recorded by
# msmvm-trace attached before the model starts and stopped after it ends, at several rates
# (per process; 0: flat out), with and without the calls' ops. Every recording that lost
# nothing must replay (msmvm-stat --replay) to the model's summary: every exact counter, in
# total, per process and per VM (tests/lib.sh's rule, as msmvm-stat live), with no probe
# health problem recorded (no thread or job state missing, no map update failed). Without
# ops, the file must also hold every probe event (a bind and a free per call) and tie each
# job's free to its call. REPLAY_RUNS (default 30) lossless recordings are required; a
# recording with drops (a loaded machine) is said and another is made, up to twice as many
# in all. REPLAY_KEEP=FILE keeps the last recording that differs.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
TRACE=$B/msmvm-trace
STAT=$B/msmvm-stat
CHECK=$B/tests/test_trace
RUNS=${REPLAY_RUNS:-30}
SECS=${REPLAY_SECS:-1}
RATES=(2500 5000 10000 20000 0)

if [ "$(id -u)" -ne 0 ]; then
  echo "skip replay_exact # needs root to attach uprobes"
  exit 0
fi
tmp=$(mktemp -d)
rec_pid=
cleanup() {
  [ -n "$rec_pid" ] && kill -9 "$rec_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# A private copy of the model: uprobes bind to the file's inode (see stat_sim.sh).
cp "$B/msmvm-sim" "$tmp/msmvm-sim"
SIM=$tmp/msmvm-sim

. tests/lib.sh

# One mismatch line per lost or unpaired free in a --no-ops workload (test_trace workload).
read -r -d '' WL_FREES <<'JQ'
(if .frees_without_bind != 0 then "\(.frees_without_bind) frees without their call" else empty end),
([.binds[] | select(.counted and .ret == 0 and .free_ns == 0)] | length) as $n |
(if $n != 0 then "\($n) queued jobs with no free" else empty end)
JQ

t0=$(date +%s)
done_ok=0 mismatched=0 lossy=0 tries=0 details=
while [ $((done_ok + mismatched)) -lt "$RUNS" ] && [ "$tries" -lt $((2 * RUNS)) ]; do
  rate=${RATES[$((tries % ${#RATES[@]}))]}
  ops=$(( (tries / ${#RATES[@]}) % 2 ))	# each rate with and without the ops
  tries=$((tries + 1))
  what="rate $([ "$rate" = 0 ] && echo "flat out" || echo "$((2 * rate))/s"), $([ "$ops" = 1 ] && echo "with ops" || echo "--no-ops")"
  f=$tmp/t.perfetto-trace
  rm -f "$f"
  if ! start_rec -o "$f" $([ "$ops" = 1 ] || echo --no-ops); then
    fail replay_exact "$what: msmvm-trace did not attach:" "$(cat "$tmp/rec.err")"
    stop_rec KILL
    exit 0
  fi
  if ! "$SIM" run -w sparse -P 2 --job-cost 0 --rate "$rate" -d "$SECS" --seed "$tries" \
       -o "$tmp/sum.json" >/dev/null 2>"$tmp/sim.err"; then
    stop_rec KILL
    fail replay_exact "$what: the model failed:" "$(cat "$tmp/sim.err")"
    exit 0
  fi
  stop_rec INT
  if [ "$rec_rc" -ne 0 ]; then
    fail replay_exact "$what: msmvm-trace exited $rec_rc:" "$(cat "$tmp/rec.err")"
    exit 0
  fi
  read -r ev dr < <(sed -n 's/.*: \([0-9]*\) events, \([0-9]*\) dropped,.*/\1 \2/p' "$tmp/rec.err")
  if [ -z "${dr:-}" ]; then
    fail replay_exact "$what: no summary line from msmvm-trace:" "$(cat "$tmp/rec.err")"
    exit 0
  fi
  if [ "$dr" -ne 0 ]; then	# not lossless: nothing to hold it to
    lossy=$((lossy + 1))
    echo "# $what: $dr of $((ev + dr)) events dropped (ring buffer full): not counted"
    continue
  fi
  binds=$(jq .totals.binds "$tmp/sum.json")
  diffs=$(
    if ! "$STAT" --replay "$f" --json >"$tmp/replay.json" 2>"$tmp/replay.err"; then
      echo "msmvm-stat --replay failed: $(head -c 300 "$tmp/replay.err")"
    else
      # job cost 0: the peak is held to its lower bound only (tests/lib.sh); every other
      # counter exactly
      PEAK_LOWER_BOUND=1 stat_compare "$tmp/replay.json" "$tmp/sum.json" model
      # attached before the model started: the probes missed nothing of it
      jq -r '.health | to_entries[] | select(.key != "events" and .value != 0) |
             "probe health \(.key): \(.value)"' "$tmp/replay.json"
    fi
    if [ "$ops" = 0 ]; then
      [ "$ev" -eq $((2 * binds)) ] || echo "$ev events recorded for $binds binds (a bind and a free each)"
      if "$CHECK" workload "$f" >"$tmp/wl.json" 2>"$tmp/wl.err"; then
        jq -r "$WL_FREES" "$tmp/wl.json"
      else
        echo "the workload does not load: $(head -c 300 "$tmp/wl.err")"
      fi
    fi
  )
  if [ -n "$diffs" ]; then
    mismatched=$((mismatched + 1))
    details+="$what, $binds binds: $(tr '\n' ';' <<<"$diffs" | head -c 600)"$'\n'
    cp "$f" "${REPLAY_KEEP:-/dev/null}" 2>/dev/null
  else
    done_ok=$((done_ok + 1))
  fi
done
secs=$(( $(date +%s) - t0 ))
if [ "$mismatched" -ne 0 ]; then
  fail replay_exact "$mismatched of $((done_ok + mismatched)) lossless recordings replay differently from the model:" "$details"
elif [ "$done_ok" -lt "$RUNS" ]; then
  fail replay_exact "only $done_ok lossless recordings of $RUNS wanted in $tries ($lossy dropped events): the machine is too loaded to tell"
else
  pass replay_exact "$done_ok lossless recordings at 5k-40k binds/s and flat out, job cost 0, with and without ops: every one replays to the model's counters; $lossy with drops set aside; ${secs} s"
fi
