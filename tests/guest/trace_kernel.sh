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
rec_pid=
cleanup() {
  [ -n "$rec_pid" ] && kill -9 "$rec_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
. tests/guest/lib.sh

guest_ready trace_kernel || exit 0
CHECK_TRACE=$B/tests/test_trace

# truth NAME MODE CHECK -- SIM_ARGS...: record a run, replay the file, hold it to the twin
truth() {
  local name=$1 mode=$2 check=$3 t0=$SECONDS f=$tmp/$1.perfetto-trace diffs attach_s
  shift 4
  attach_args "$mode"
  : >"$tmp/rec.err"
  "$TRACE" "${KARGS[@]}" -o "$f" 2>"$tmp/rec.err" &
  rec_pid=$!
  if ! wait_for "$tmp/rec.err" attached "$rec_pid" 60; then
    fail "$name" "msmvm-trace did not attach in $((SECONDS - t0)) s:" "$(cat "$tmp/rec.err")"
    kstop "$rec_pid" KILL; rec_pid=; return
  fi
  attach_s=$((SECONDS - t0))
  if ! diffs=$(krun "$tmp/sum.json" "$@"); then
    fail "$name" "$diffs"; kstop "$rec_pid" KILL; rec_pid=; return
  fi
  kstop "$rec_pid" INT; rec_pid=
  if [ "$krc" -ne 0 ]; then
    fail "$name" "msmvm-trace exited $krc:" "$(cat "$tmp/rec.err")"; return
  fi
  if ! jq -e ".totals | $check" "$tmp/sum.json" >/dev/null; then
    fail "$name" "the run does not show what this case is about: $check" "twin: $(jq -c .totals "$tmp/sum.json")"
    return
  fi
  # the file keeps trace_processor's rules (when the checker is built: make test builds it)
  if command -v protoc >/dev/null && [ -x "$CHECK_TRACE" ]; then
    if ! protoc --decode=perfetto.protos.Trace -I tests tests/trace.proto <"$f" >"$f.txt" 2>"$f.perr"; then
      fail "$name" "protoc cannot decode the trace:" "$(head -c 300 "$f.perr")"; return
    fi
    if ! "$CHECK_TRACE" check "$f.txt" >"$f.chk" 2>"$f.cerr"; then
      fail "$name" "trace_processor's rules broken:" "$(cat "$f.cerr")"; return
    fi
  fi
  if ! "$STAT" --replay "$f" --json >"$tmp/replay.json" 2>"$tmp/replay.err"; then
    fail "$name" "msmvm-stat --replay failed:" "$(cat "$tmp/replay.err")"; return
  fi
  tail -n 1 "$tmp/replay.json" >"$tmp/final.json"
  diffs=$(summary_cmp replay "$tmp/final.json" "$tmp/sum.json")
  if [ -n "$diffs" ]; then
    fail "$name" "$diffs" "twin: $(jq -c .totals "$tmp/sum.json")" "$(grep -v '^$' "$tmp/rec.err" | tail -n 2)"
    return
  fi
  pass "$name" "$(jq -r '.plan.kind // empty' "$tmp/final.json") hooks; $(jq -c '.totals | {binds, waits, interrupted_waits, drift}' "$tmp/sum.json"); $(stat -c %s "$f") bytes; attach ${attach_s} s, case $((SECONDS - t0)) s"
}

modes=(auto)
if [ "$HAVE_ATTACH" = 1 ]; then
  modes+=(kprobe)
else
  skip trace_kernel_kprobe "the tools have no --attach yet"
fi
for mode in "${modes[@]}"; do
  # real signals in the throttle's sleep: -ERESTARTSYS, the call restarted, downward drift
  truth "trace_kernel_interrupted_$mode" "$mode" '.interrupted_waits > 0 and .drift < 0 and .waits > 0' -- \
    -w storm -P 2 -n 20 --interrupt-rate 0.3 --seed 51
  # the bulk allocation failing after the count was added: upward drift
  truth "trace_kernel_alloc_fail_$mode" "$mode" '.drift > 0' -- \
    -w sparse -P 2 -n 150 --alloc-fail-rate 0.02 --wedge-timeout 0.3 --seed 52
done
