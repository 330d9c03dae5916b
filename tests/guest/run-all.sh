#!/usr/bin/env bash
# Runs INSIDE the guest (tests/guest.sh: `tools/guest/run -- tests/guest/run-all.sh`), as
# root, from the project root: every tests/guest/*.sh (or DIR/*.sh: `run-all.sh DIR`, e.g.
# tests/guest-arm64) but this file and the lib*.sh files they source, one after the other,
# their "ok"/"not ok"/"skip" lines passed on as they come.
# Per test, as tests/run-tests.sh does on the host: a test that exits non-zero without a
# "not ok" line, or runs past MSMVM_GUEST_TEST_TIMEOUT seconds (default 600), counts as a
# failure. Each test starts with a freshly loaded twin (default parameters, empty ground
# truth) when the harness loaded it, and is followed by a look at the kernel log: a WARN, BUG
# or oops during a test is a failure of that test. Exits 1 when anything failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-tests/guest}
suite=${dir#tests/}
B=${BUILD:-build}
KO=$B/kmodel/msm_kmodel.ko
[ "${MSMVM_GUEST_ARCH:-x86}" = arm64 ] && KO=$B/arm64/kmodel/msm_kmodel.ko
TMO=${MSMVM_GUEST_TEST_TIMEOUT:-600}
trouble='-+\[ cut here \]-+|BUG:|Oops|WARNING:|Kernel panic|general protection fault|soft lockup|blocked for more than|rcu.*stall|UBSAN:|KASAN:|kmemleak:'

failed=0
twin=0
[ -e /sys/module/msm_kmodel ] && twin=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT

klines() { dmesg 2>/dev/null | wc -l; }

# A fresh twin: unloaded if a test left it loaded, loaded again if a test left it out.
fresh_twin() {
  if [ -e /sys/module/msm_kmodel ] && ! rmmod msm_kmodel 2>"$log"; then
    echo "# run-all: could not unload msm_kmodel before $1: $(head -c 200 "$log")"
  fi
  if [ ! -e /sys/module/msm_kmodel ] && ! insmod "$KO" 2>"$log"; then
    echo "not ok guest/$1 # could not load $KO: $(head -c 200 "$log")"
    return 1
  fi
}

first=1
for t in "$dir"/*.sh; do
  name=$(basename "$t" .sh)
  case $name in run-all | lib*) continue ;; esac
  echo "# --- $suite/$name"
  if [ $twin = 1 ] && [ $first = 0 ]; then
    fresh_twin "$name" || { failed=1; continue; }
  fi
  first=0
  k0=$(klines)
  t0=$SECONDS
  # Output passes through as it comes; the copy in $log is for counting.
  timeout -k 10 "$TMO" bash "$t" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  echo "# $suite/$name: status $rc, $((SECONDS - t0))s"
  if [ "$rc" = 124 ] || [ "$rc" = 137 ] || [ "$rc" = 143 ]; then	# (143: busybox's timeout)
    echo "not ok $suite/$name # timed out after ${TMO}s"
    failed=1
  elif grep -q '^not ok ' "$log"; then
    failed=1
  elif [ "$rc" != 0 ]; then
    echo "not ok $suite/$name # exited with status $rc without reporting a failure"
    failed=1
  fi
  if dmesg 2>/dev/null | tail -n +"$((k0 + 1))" | grep -E -e "$trouble" >"$log"; then
    echo "not ok $suite/${name}_kernel_log # the kernel reported trouble during the test:"
    head -5 "$log" | sed 's/^/#   /'
    failed=1
  fi
done
exit $failed
