#!/usr/bin/env bash
# -- CMD on the kernel flavor, in the guest: `msmvm-stat -- msmvm-sim run --kernel ...` and
# `msmvm-trace -- ...` attach (kprobes, fentry/fexit), then run the command, whose worker
# processes the probes follow through the sched_process_fork raw tracepoint; what they count
# must be the twin's ground truth (the summary msmvm-sim prints), exactly, per process too.
# With the twin loaded, the model's binary as the command is not taken for the target.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/guest/lib.sh

guest_ready command_kernel || exit 0

for mode in kprobe fentry; do
  "$STAT" --json --attach=$mode -- "$SIM" run --kernel -w storm -P 2 -n 40 \
    >"$tmp/out" 2>"$tmp/err"
  rc=$?
  head -n -1 "$tmp/out" >"$tmp/sum.json"
  tail -n 1 "$tmp/out" >"$tmp/stat.json"
  diffs=$(stat_compare "$tmp/stat.json" "$tmp/sum.json" twin)
  pids_stat=$(jq -c '[.processes[].pid] | sort' "$tmp/stat.json" 2>/dev/null)
  pids_sum=$(jq -c '[.processes[].pid] | sort' "$tmp/sum.json" 2>/dev/null)
  if [ $rc -ne 0 ] || [ -n "$diffs" ] || [ -z "$pids_sum" ] || [ "$pids_stat" != "$pids_sum" ] ||
    ! grep -qx "msmvm-stat: $SIM exited with status 0" "$tmp/err" ||
    grep -q "is the msmvm-sim model" "$tmp/err"; then
    fail "command_kernel_stat_$mode" "exit $rc; processes $pids_stat, twin $pids_sum" "$diffs" \
      "$(cat "$tmp/err")"
  else
    pass "command_kernel_stat_$mode" "$(jq -c '.totals | {binds, pages_counted, waits}' "$tmp/stat.json") = the twin's"
  fi
done

"$TRACE" -o "$tmp/t.perfetto-trace" -- "$SIM" run --kernel -w sparse -P 2 -n 100 \
  >"$tmp/sum.json" 2>"$tmp/err"
rc=$?
"$STAT" --replay "$tmp/t.perfetto-trace" --json >"$tmp/replay.json" 2>>"$tmp/err"
diffs=$(stat_compare "$tmp/replay.json" "$tmp/sum.json" twin)
if [ $rc -ne 0 ] || [ -n "$diffs" ] || ! jq -e '.totals.binds == 200' "$tmp/sum.json" >/dev/null ||
  ! grep -qx "msmvm-trace: $SIM exited with status 0" "$tmp/err"; then
  fail command_kernel_trace "exit $rc" "$diffs" "$(cat "$tmp/err")"
else
  pass command_kernel_trace "$(jq -c '.totals | {binds, pages_counted}' "$tmp/replay.json") = the twin's"
fi
