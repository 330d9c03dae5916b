#!/usr/bin/env bash
# msmvm-trace on the kernel flavor, in the guest: a recording of the kernel twin while
# `msmvm-sim run --kernel` runs with real signals in the throttle (interrupted waits,
# -ERESTARTSYS restarted) and with page allocations failing (kmem_cache_alloc_bulk, upward
# drift). `msmvm-stat --replay FILE --json` must then count what the twin counted: every
# counter exactly, in total, per process and per VM; wait times within stat_sim.sh's
# tolerance. With the tools' default attach mode, and with --attach=kprobe.
set -u
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
rec_pids=()
cleanup() {
  for p in "${rec_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
. tests/guest/lib.sh

guest_ready trace_kernel || exit 0
CHECK_TRACE=$B/tests/test_trace

# The attach modes, each its own recorder of the same runs (attaching takes seconds in the
# emulated guest: they attach side by side): the tools' default, and kprobes forced.
modes=(auto kprobe)

# truth NAME CHECK -- SIM_ARGS...: record a run in each mode, replay each file, hold it to
# the twin (NAME_MODE for each)
truth() {
  local name=$1 check=$2 t0=$SECONDS mode diffs attach_s f pid
  shift 3
  rec_pids=()
  for mode in "${modes[@]}"; do
    attach_args "$mode"
    : >"$tmp/$mode.err"
    "$TRACE" "${KARGS[@]}" -o "$tmp/$name-$mode.perfetto-trace" 2>"$tmp/$mode.err" &
    rec_pids+=($!)
  done
  local i=0
  for mode in "${modes[@]}"; do
    if ! wait_for "$tmp/$mode.err" attached "${rec_pids[$i]}" 60; then
      fail "${name}_$mode" "msmvm-trace did not attach in $((SECONDS - t0)) s:" "$(cat "$tmp/$mode.err")"
      for pid in "${rec_pids[@]}"; do kstop "$pid" KILL; done; rec_pids=(); return
    fi
    i=$((i + 1))
  done
  attach_s=$((SECONDS - t0))
  if ! krun "$tmp/sum.json" "$check" "$@" >"$tmp/krun.out"; then
    for mode in "${modes[@]}"; do fail "${name}_$mode" "$(cat "$tmp/krun.out")"; done
    for pid in "${rec_pids[@]}"; do kstop "$pid" KILL; done; rec_pids=(); return
  fi
  i=0
  for mode in "${modes[@]}"; do
    kstop "${rec_pids[$i]}" INT; rcs[$i]=$krc; i=$((i + 1))
  done
  rec_pids=()
  i=0
  for mode in "${modes[@]}"; do
    f=$tmp/$name-$mode.perfetto-trace
    local rc=${rcs[$i]}; i=$((i + 1))
    if [ "$rc" -ne 0 ]; then
      fail "${name}_$mode" "msmvm-trace exited $rc:" "$(cat "$tmp/$mode.err")"; continue
    fi
    # the file keeps trace_processor's rules (when the checker is built: make test builds it)
    if command -v protoc >/dev/null && [ -x "$CHECK_TRACE" ]; then
      if ! protoc --decode=perfetto.protos.Trace -I tests tests/trace.proto <"$f" >"$f.txt" 2>"$f.perr"; then
        fail "${name}_$mode" "protoc cannot decode the trace:" "$(head -c 300 "$f.perr")"; continue
      fi
      if ! "$CHECK_TRACE" check "$f.txt" >"$f.chk" 2>"$f.cerr"; then
        # kept for a look: the trace, its decoding, the run's summary and the recorder's log
        mkdir -p "$B/guest/failed" && cp "$f" "$f.txt" "$tmp/sum.json" "$tmp/$mode.err" "$B/guest/failed/"
        fail "${name}_$mode" "trace_processor's rules broken:" "$(cat "$f.cerr")" "(kept in $B/guest/failed/)"; continue
      fi
    fi
    if ! "$STAT" --replay "$f" --json >"$tmp/replay.json" 2>"$tmp/replay.err"; then
      fail "${name}_$mode" "msmvm-stat --replay failed:" "$(cat "$tmp/replay.err")"; continue
    fi
    diffs=$(stat_compare "$tmp/replay.json" "$tmp/sum.json" twin)
    if [ -n "$diffs" ]; then
      fail "${name}_$mode" "$diffs" "twin: $(cat "$tmp/sum.json")" "$(grep -v '^$' "$tmp/$mode.err" | tail -n 2)"
      continue
    fi
    pass "${name}_$mode" "$run_note; $(stat -c %s "$f") bytes; attach ${attach_s} s, $((SECONDS - t0)) s; attached with $(sed -n 's/.*attached .*(msm_kmodel[^;]*; \([^)]*\)).*/\1/p' "$tmp/$mode.err" | head -1)"
  done
}

# real signals in the throttle's sleep: -ERESTARTSYS, the call restarted, downward drift
# (jobs of 20 ms: each bind sleeps for the one before, long past the signal's 200 us delay)
truth trace_kernel_interrupted '.interrupted_waits > 0 and .drift < 0 and .waits > 0' -- \
  -w storm -P 2 -n 12 --job-cost 20000 --interrupt-rate 0.5 --seed 51
# the bulk allocation failing after the count was added: upward drift
truth trace_kernel_alloc_fail '.drift > 0' -- \
  -w sparse -P 2 -n 150 --alloc-fail-rate 0.03 --wedge-timeout 0.3 --seed 52
