#!/usr/bin/env bash
# In the guest (tools/guest/run): msmvm-stat on the kernel flavor (kprobes, or fentry where
# msmvm-stat offers --attach) against the msm_kmodel twin, while msmvm-sim run --kernel
# issues real VM_BINDs from real processes and threads. Every counter must equal the twin's
# ground truth (debugfs msm_kmodel/vms, as the run's summary reports it) exactly: in total,
# per process (by pid) and per VM (by the struct msm_gem_vm's address); wait times within
# the rule of tests/stat_sim.sh (stat_compare in tests/lib.sh). Each workload case runs with
# the direct and the fallback hooks, and with each attach kind.
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
STAT=$B/msmvm-stat
SIM=$B/msmvm-sim
. tests/lib.sh

if [ "$(id -u)" -ne 0 ]; then
  echo "skip stat_kernel # needs root (the guest runs its tests as root)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A first tiny run loads the twin (msmvm-sim loads msm_kmodel itself): msmvm-stat needs its
# BTF to attach. It also says whether there is a twin at all.
if ! "$SIM" run --kernel -w sparse -n 1 -o "$tmp/load.json" 2>"$tmp/load.err"; then
  fail stat_kernel_twin "msmvm-sim run --kernel cannot run here:" "$(cat "$tmp/load.err")"
  exit 0
fi
pass stat_kernel_twin "msm_kmodel loaded, one bind"

# --attach=kprobe|fentry, once msmvm-stat has it; until then only kprobes exist.
attach_kinds=("")
if "$STAT" --help 2>&1 | grep -q -- '--attach'; then
  attach_kinds=(kprobe fentry)
fi

# case NAME HOOKS ATTACH CHECK -- SIM_ARGS...   (CHECK: a jq condition on the twin's totals)
case_run() {
  local name=$1 hooks=$2 attach=$3 check=$4; shift 5
  local stat_pid i diffs t0 args=(--json --module msm_kmodel --hooks "$hooks" -d 300)
  [ -n "$attach" ] && args+=(--attach="$attach")
  t0=$SECONDS
  : >"$tmp/stat.err"	# emptied first: the previous case's "attached" must not count
  "$STAT" "${args[@]}" >"$tmp/stat.json" 2>"$tmp/stat.err" &
  stat_pid=$!
  # the guest is emulated: loading and attaching take seconds
  for i in $(seq 1200); do
    grep -q attached "$tmp/stat.err" && break
    kill -0 "$stat_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q attached "$tmp/stat.err"; then
    fail "$name" "msmvm-stat did not attach (waited $((SECONDS - t0)) s):" "$(cat "$tmp/stat.err")"
    kill "$stat_pid" 2>/dev/null; wait "$stat_pid" 2>/dev/null; return
  fi
  if ! "$SIM" run --kernel "$@" -o "$tmp/sum.json" 2>"$tmp/sim.err"; then
    fail "$name" "msmvm-sim run --kernel failed:" "$(cat "$tmp/sim.err")"
    kill "$stat_pid" 2>/dev/null; wait "$stat_pid" 2>/dev/null; return
  fi
  if ! kill -0 "$stat_pid" 2>/dev/null; then
    fail "$name" "msmvm-stat ended before the run did:" "$(cat "$tmp/stat.err")"
    wait "$stat_pid"; return
  fi
  kill -INT "$stat_pid"
  if ! wait "$stat_pid"; then
    fail "$name" "msmvm-stat failed:" "$(cat "$tmp/stat.err")"; return
  fi
  diffs=$(stat_compare "$tmp/stat.json" "$tmp/sum.json" twin)
  if ! jq -e ".totals | $check" "$tmp/sum.json" >/dev/null; then
    diffs="$diffs
the twin's run does not show what this case is about: $check"
  fi
  if [ -n "$diffs" ]; then
    fail "$name" "$diffs" "twin: $(jq -c .totals "$tmp/sum.json")"
  else
    pass "$name" "binds $(jq .totals.binds "$tmp/sum.json"), waits $(jq .totals.waits "$tmp/sum.json"), $((SECONDS - t0)) s"
  fi
}

# Small counts: the guest is emulated (TCG), 10-50 times slower than the host.
for attach in "${attach_kinds[@]}"; do
  for hooks in direct fallback; do
    sfx=${attach:-kprobe}_$hooks
    case_run "kernel_storm_$sfx" $hooks "$attach" '.waits > 0 and .peak_in_flight > 1024' -- \
      -w storm -P 2 --queues 2 -n 24 --seed 12
    case_run "kernel_interrupted_$sfx" $hooks "$attach" '.interrupted_waits > 0 and .drift < 0' -- \
      -w storm -P 2 -n 40 --interrupt-rate 0.3 --seed 13
    case_run "kernel_alloc_fail_$sfx" $hooks "$attach" '.drift > 0' -- \
      -w sparse -P 2 -n 300 --alloc-fail-rate 0.02 --wedge-timeout 0.5 --seed 14
    case_run "kernel_mixed_$sfx" $hooks "$attach" '.binds == 160' -- \
      -w mixed -P 2 --vms 2 --queues 2 -n 80 --seed 15
  done
done
if [ "${attach_kinds[0]}" = "" ]; then
  echo "skip kernel_fentry # msmvm-stat has no --attach yet: kprobes only"
fi
