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

# One msmvm-stat per attach kind and hook plan watches all the workload cases (attaching
# takes seconds in the emulated guest). At its end, each case's processes and VMs are
# compared with that case's summary (pids and addresses differ between cases), and the
# totals with all the cases' summaries together. Nothing else issues VM_BINDs in the guest.

# stat_start GROUP HOOKS ATTACH: msmvm-stat in the background, once attached (stat_pid)
stat_start() {
  local group=$1 hooks=$2 attach=$3 i t0=$SECONDS
  local args=(--json --module msm_kmodel --hooks "$hooks" -d 600)
  [ -n "$attach" ] && args+=(--attach="$attach")
  cases=() sums=() checks=() times=()
  : >"$tmp/stat.err"	# emptied first: the previous group's "attached" must not count
  "$STAT" "${args[@]}" >"$tmp/stat.json" 2>"$tmp/stat.err" &
  stat_pid=$!
  for i in $(seq 1200); do	# the guest is emulated: loading and attaching take seconds
    grep -q attached "$tmp/stat.err" && break
    kill -0 "$stat_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q attached "$tmp/stat.err"; then
    fail "${group}_attach" "msmvm-stat did not attach (waited $((SECONDS - t0)) s):" "$(cat "$tmp/stat.err")"
    kill "$stat_pid" 2>/dev/null; wait "$stat_pid" 2>/dev/null; stat_pid=
    return 1
  fi
  attach_s=$((SECONDS - t0))
}

# case_run NAME CHECK -- SIM_ARGS...   (CHECK: a jq condition on the twin's totals)
case_run() {
  local name=$1 check=$2 t0=$SECONDS n=${#cases[@]}; shift 3
  if ! "$SIM" run --kernel "$@" -o "$tmp/sum$n.json" 2>"$tmp/sim.err"; then
    fail "$name" "msmvm-sim run --kernel $* failed:" "$(cat "$tmp/sim.err")"
    return
  fi
  cases+=("$name") sums+=("$tmp/sum$n.json") checks+=("$check") times+=($((SECONDS - t0)))
}

# stat_stop GROUP: msmvm-stat's final report against each case, then against all of them
stat_stop() {
  local group=$1 diffs i s
  if ! kill -0 "$stat_pid" 2>/dev/null; then
    fail "${group}_totals" "msmvm-stat ended before the runs did:" "$(cat "$tmp/stat.err")"
    wait "$stat_pid"; stat_pid=; return
  fi
  kill -INT "$stat_pid"
  if ! wait "$stat_pid"; then
    fail "${group}_totals" "msmvm-stat failed:" "$(cat "$tmp/stat.err")"; stat_pid=; return
  fi
  stat_pid=
  for i in "${!cases[@]}"; do
    s=${sums[$i]}
    diffs=$(stat_compare "$tmp/stat.json" "$s" twin processes)
    if ! jq -e ".totals | ${checks[$i]}" "$s" >/dev/null; then
      diffs="$diffs
the twin's run does not show what this case is about: ${checks[$i]}"
    fi
    if [ -n "$diffs" ]; then
      fail "${cases[$i]}" "$diffs" "twin: $(jq -c .totals "$s")"
    else
      pass "${cases[$i]}" "binds $(jq .totals.binds "$s"), waits $(jq .totals.waits "$s"), interrupted $(jq .totals.interrupted_waits "$s"), drift $(jq .totals.drift "$s"); ${times[$i]} s"
    fi
  done
  if [ ${#sums[@]} -eq 0 ]; then
    fail "${group}_totals" "no run to compare"; return
  fi
  summary_merge "${sums[@]}" >"$tmp/all.json"
  diffs=$(stat_compare "$tmp/stat.json" "$tmp/all.json" twin totals)
  if [ -n "$diffs" ]; then
    fail "${group}_totals" "$diffs" "twin: $(jq -c .totals "$tmp/all.json")"
  else
    pass "${group}_totals" "${#sums[@]} runs, binds $(jq .totals.binds "$tmp/all.json"); attach ${attach_s} s"
  fi
}

# Small counts: the guest is emulated (TCG), 10-50 times slower than the host.
for attach in "${attach_kinds[@]}"; do
  for hooks in direct fallback; do
    g=kernel_${attach:-kprobe}_$hooks
    stat_start "$g" "$hooks" "$attach" || continue
    case_run "${g}_storm" '.waits > 0 and .peak_in_flight > 1024' -- \
      -w storm -P 2 --queues 2 -n 16 --seed 12
    case_run "${g}_interrupted" '.interrupted_waits > 0 and .drift < 0' -- \
      -w storm -P 2 -n 30 --interrupt-rate 0.5 --seed 13
    case_run "${g}_alloc_fail" '.drift > 0' -- \
      -w sparse -P 2 -n 200 --alloc-fail-rate 0.02 --wedge-timeout 0.5 --seed 14
    case_run "${g}_mixed" '.binds == 120' -- \
      -w mixed -P 2 --vms 2 --queues 2 -n 60 --seed 15
    stat_stop "$g"
  done
done
if [ "${attach_kinds[0]}" = "" ]; then
  echo "skip kernel_fentry # msmvm-stat has no --attach yet: kprobes only"
fi
