#!/usr/bin/env bash
# Runs INSIDE the arm64 guest (tools/guest/run --arch arm64: Debian's 7.2 kernel, the real
# msm.ko loaded, no Qualcomm hardware, so no VM_BIND ever runs), started by
# tools/bench/bench.sh: msmvm-stat's start to attached with kprobes and with fentry, RUNS
# times each, and how many times it opens /proc/kallsyms meanwhile (counted by the kernel: a
# kprobe event on do_sys_openat2 with the path as a string, filtered on /proc/kallsyms; this
# userland has no strace). The raw figures go to R (on the shared build directory).
#
# usage: guest-arm64.sh R RUNS
set -u
cd "$(dirname "$0")/../.."
R=$1 RUNS=$2
B=${BUILD:-build}
STAT=$B/arm64/msmvm-stat
T=/sys/kernel/tracing
ev=msmvm_bench/kallsyms_open
cleanup() {
  echo 0 >"$T/events/$ev/enable" 2>/dev/null
  echo "-:$ev" >>"$T/kprobe_events" 2>/dev/null
}
trap cleanup EXIT
uname -r >"$R/kernel"
[ -e /sys/module/msm ] || { echo "msm is not loaded" >"$R/failed"; exit 0; }

counting=0
if echo "p:$ev do_sys_openat2 path=+0(%x1):ustring" >>"$T/kprobe_events" 2>"$R/kprobe_event.err" &&
   echo 'path == "/proc/kallsyms"' >"$T/events/$ev/filter" && echo 1 >"$T/events/$ev/enable"; then
  counting=1
fi
for ((r = 1; r <= RUNS; r++)); do
  for m in kprobe fentry; do
    tag=r$r.$m
    [ $counting = 1 ] && echo >"$T/trace"
    t0=$EPOCHREALTIME
    # stderr stamped as it comes (builtins: no fork per line), for the time to "attached"
    "$STAT" --attach=$m -d 0.1 >/dev/null 2> >(while IFS= read -r l; do echo "$EPOCHREALTIME $l"; done >"$R/$tag.err")
    echo $? >"$R/$tag.rc"
    echo "$t0" >"$R/$tag.t0"
    sleep 0.2	# the stamper's last lines
    if [ $counting = 1 ]; then
      n=0
      while IFS= read -r l; do [[ $l == *kallsyms_open:* ]] && n=$((n + 1)); done <"$T/trace"
      echo "$n" >"$R/$tag.kallsyms"
    fi
  done
done
touch "$R/done"
