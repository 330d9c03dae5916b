#!/usr/bin/env bash
# Tier 2: msmvm-stat --sim attached (uprobes) while msmvm-sim runs fixed seeds. Every counter
# except the nanosecond ones must equal the model's own summary exactly: in total, per
# process (matched by pid) and per VM (matched by address). Wait times within a tolerance:
# the probes time vm_bind_prealloc_count from outside (uprobe entry to uretprobe, about
# 2 x 4 us more per call) or, with the fallback hooks, from the first prepare_to_wait_event
# to finish_wait (a little less): |probe - model| <= 2% + 100 us per wait + the time the
# process's queue threads waited for a CPU (schedstat run_delay, in the model's summary): a
# thread preempted between the probe and the model's own clock read widens the gap by that
# much, on a loaded machine only.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
STAT=$B/msmvm-stat
SIM=$B/msmvm-sim

if [ "$(id -u)" -ne 0 ]; then
  echo "skip stat_sim # needs root to attach uprobes"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A private copy of the model: uprobes bind to the file's inode, so no other msmvm-sim
# running on this machine (another test, a demo) can add to what these runs count.
: >"$tmp/prog_ids"
cp "$SIM" "$tmp/msmvm-sim"
SIM=$tmp/msmvm-sim

# The comparison (tests/lib.sh): one line per mismatch, nothing when all agree.
. tests/lib.sh

# case NAME HOOKS CHECK -- SIM_ARGS...   (CHECK: a jq condition on the model's totals)
case_run() {
  local name=$1 hooks=$2 check=$3; shift 4
  local stat_pid i diffs
  # Empty before it starts: the redirection below truncates only once the forked shell
  # runs, and until then the file still holds the previous case's "attached" line. On a
  # busy machine that was long enough for the poll below to see it and start the run before
  # this msmvm-stat had attached: partial counts, or none.
  : >"$tmp/stat.err"
  "$STAT" --sim="$SIM" --json --hooks "$hooks" -d 120 >"$tmp/stat.json" 2>"$tmp/stat.err" &
  stat_pid=$!
  # up to 60 s: attaching takes ~0.1 s, 1-3 s on a loaded machine
  local waited=$SECONDS
  for i in $(seq 1200); do grep -q attached "$tmp/stat.err" && break; sleep 0.05; done
  if ! grep -q attached "$tmp/stat.err"; then
    echo "not ok $name"
    echo "#   msmvm-stat did not attach (waited $((SECONDS - waited)) s):"; sed 's/^/#   /' "$tmp/stat.err"
    # where it is stuck, if it is still there
    if kill -0 "$stat_pid" 2>/dev/null; then
      echo "#   still running: $(ps -o comm=,stat=,wchan:32=,time=,etime=,psr= -p "$stat_pid")"
      # CPU spent (utime stime, ticks), syscall, and schedstat (ns on a CPU, ns runnable
      # but waiting for one, times run): a task that is R with nothing run has not been
      # given a CPU, e.g. a forked shell that never reached the exec
      for t in /proc/"$stat_pid"/task/*; do
        echo "#   task ${t##*/}: $(cut -d' ' -f3,14,15 "$t/stat" 2>/dev/null) syscall $(cat "$t/syscall" 2>/dev/null) schedstat $(cat "$t/schedstat" 2>/dev/null)"
        sed 's/^/#     kernel stack: /' "$t/stack" 2>/dev/null | head -12
      done
      timeout 20 gdb -p "$stat_pid" -batch -ex 'thread apply all bt' 2>/dev/null | grep '^#' | head -30 |
        sed 's/^/#   /'
    else
      wait "$stat_pid"; echo "#   it exited with status $?"
    fi
    kill "$stat_pid" 2>/dev/null; wait "$stat_pid" 2>/dev/null; return
  fi
  startup=$(sed -n 's/.* in \([0-9.]*\) ms.*/\1/p' "$tmp/stat.err")
  cat /proc/"$stat_pid"/fdinfo/* 2>/dev/null | sed -n 's/^prog_id:[[:space:]]*//p' >>"$tmp/prog_ids"
  "$SIM" run "$@" -o "$tmp/sum.json" 2>"$tmp/sim.err"
  if ! kill -0 "$stat_pid" 2>/dev/null; then	# something else ended it: say so
    echo "not ok $name"; echo "#   msmvm-stat ended before the run did:"; sed 's/^/#   /' "$tmp/stat.err"
    wait "$stat_pid"; return
  fi
  kill -INT "$stat_pid"
  if ! wait "$stat_pid"; then
    echo "not ok $name"; echo "#   msmvm-stat failed:"; sed 's/^/#   /' "$tmp/stat.err"; return
  fi
  diffs=$(stat_compare "$tmp/stat.json" "$tmp/sum.json" model)
  if ! jq -e ".totals | $check" "$tmp/sum.json" >/dev/null; then
    diffs="$diffs
the model run does not show what this case is about: $check"
  fi
  if [ -n "$diffs" ]; then
    echo "not ok $name"
    printf '%s\n' "$diffs" | head -20 | sed 's/^/#   /'
    echo "#   model: $(jq -c .totals "$tmp/sum.json")"
  else
    echo "ok $name # startup ${startup} ms, binds $(jq .totals.binds "$tmp/sum.json")"
  fi
}

for hooks in direct fallback; do
  case_run "sparse_3_procs_$hooks" $hooks '.binds == 900' -- \
    -w sparse -P 3 -n 300 --seed 11
  case_run "storm_waits_$hooks" $hooks '.waits > 0 and .peak_in_flight > 1024' -- \
    -w storm -P 2 --queues 2 -n 100 --seed 12
  case_run "storm_interrupted_$hooks" $hooks '.interrupted_waits > 0 and .drift < 0' -- \
    -w storm -P 2 -n 150 --interrupt-rate 0.3 --seed 13
  case_run "alloc_fail_drift_$hooks" $hooks '.drift > 0' -- \
    -w sparse -P 2 -n 1500 --alloc-fail-rate 0.01 --wedge-timeout 0.3 --seed 14
  case_run "mixed_vms_queues_$hooks" $hooks '.binds == 800' -- \
    -w mixed -P 2 --vms 2 --queues 2 -n 400 --seed 15
done

# No probe outlives the tool: the kernel lists none of our programs now.
# The programs the runs above loaded (ids noted from their fds while they ran) are gone;
# other msmvm tools running on this machine have other ids.
left=$(bpftool -j prog show 2>/dev/null | jq --slurpfile ids <(sort -u "$tmp/prog_ids" | jq -R 'tonumber' 2>/dev/null) \
       '[.[] | select(.id as $i | $ids | index($i))] | length')
if [ -s "$tmp/prog_ids" ] && [ "$left" -eq 0 ]; then
  echo "ok no_probe_left_attached # $(sort -u "$tmp/prog_ids" | wc -l) programs, all gone"
else
  echo "not ok no_probe_left_attached"; echo "#   $left msmvm programs still loaded"
fi
