#!/usr/bin/env bash
# msmvmtop on the kernel flavor, in the guest: attached to the kernel twin (fentry or kprobes
# on msm_kmodel, CO-RE against its BTF, as the tool decides by itself) while
# `msmvm-sim run --kernel` runs a storm of two processes with two queues each as real
# ioctls. Two msmvmtop watch the same run, one in batch mode, one in JSON (attaching takes
# seconds in the emulated guest: they attach side by side). The last frame of each (written
# on SIGTERM) must hold the twin's ground truth: every counter exactly, wait times within
# stat_sim.sh's tolerance; the totals line in batch mode, and in JSON per process and per VM.
set -u
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
. tests/guest/lib.sh

guest_ready top_kernel || exit 0
attach_args auto

t0=$SECONDS
for mode in json b; do
  : >"$tmp/$mode.out"
  flag=--json; [ $mode = b ] && flag=-b
  "$TOP" "${KARGS[@]}" $flag -d 0.5 >"$tmp/$mode.out" 2>"$tmp/$mode.err" &
  pids+=($!)
done
json_pid=${pids[0]} b_pid=${pids[1]}
# the first frame is printed once attached
for mode in json b; do
  pid_var=${mode}_pid
  if ! wait_for "$tmp/$mode.out" . "${!pid_var}" 60; then
    fail top_kernel "msmvmtop -$mode did not attach (or print a frame) in $((SECONDS - t0)) s:" "$(cat "$tmp/$mode.err")"
    exit 0
  fi
done
attach_s=$((SECONDS - t0))

CHECK='.binds == 24 and .errors == 0 and .waits > 0 and .peak_in_flight > 1024'
if ! krun "$tmp/sum.json" "$CHECK" -w storm -P 2 --queues 2 -n 12 --seed 41 >"$tmp/krun.out"; then
  fail top_kernel "$(cat "$tmp/krun.out")"
  exit 0
fi
# the summary is read once every job is freed (the files closed, the twin drained): the last
# frame, written on SIGTERM, has seen all of it
kstop "$json_pid" TERM; json_rc=$krc
kstop "$b_pid" TERM; b_rc=$krc
pids=()
note="$run_note; attach ${attach_s} s, $((SECONDS - t0)) s in all"

# --- JSON: every line valid; the last frame's totals, processes and VMs equal the twin's ---
if [ "$json_rc" -ne 0 ]; then
  fail top_kernel_json_equals_twin "msmvmtop --json exited $json_rc:" "$(cat "$tmp/json.err")"
elif ! top_as_stat "$tmp/json.out" "$tmp/last.json"; then
  fail top_kernel_json_equals_twin "the frames are not JSON lines: $(cat "$tmp/last.json")"
elif diffs=$(stat_compare "$tmp/last.json" "$tmp/sum.json" twin) && [ -z "$diffs" ]; then
  pass top_kernel_json_equals_twin "$(grep -c . "$tmp/json.out") frames; $note"
else
  fail top_kernel_json_equals_twin "$diffs" "twin: $(cat "$tmp/sum.json")"
fi

# --- batch: the last frame's "totals:" line equals the twin's totals; its process rows ---
problems=()
[ "$b_rc" -eq 0 ] || problems+=("msmvmtop -b exited $b_rc: $(cat "$tmp/b.err")")
# the last "totals:" line (name value pairs) as msmvm-stat's JSON totals
grep '^totals:' "$tmp/b.out" | tail -n 1 |
  awk '{printf "{\"totals\":{"; for (i = 2; i < NF; i += 2) printf "%s\"%s\":%s", (i > 2 ? "," : ""), $i, $(i + 1); print "}}"}' \
  >"$tmp/last.json"
diffs=$(stat_compare "$tmp/last.json" "$tmp/sum.json" twin totals)
[ -n "$diffs" ] && problems+=("$diffs")
# both workload processes have their row in the last frame
awk '/^msmvmtop / {f = ""} {f = f $0 "\n"} END {printf "%s", f}' "$tmp/b.out" >"$tmp/lastframe"
grep -q 'PID COMM' "$tmp/lastframe" || problems+=("no process table in the last frame")
for pid in $run_pids; do
  grep -qE "^ +$pid " "$tmp/lastframe" || problems+=("no row for process $pid in the last frame")
done
if [ ${#problems[@]} -eq 0 ]; then
  pass top_kernel_batch_equals_twin "$(grep -c '^totals:' "$tmp/b.out") frames; $note"
else
  fail top_kernel_batch_equals_twin "${problems[@]}" "last: $(cat "$tmp/last.json")"
fi
