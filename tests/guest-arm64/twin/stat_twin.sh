#!/usr/bin/env bash
# In the arm64 guest on the twin's kernel (tools/guest/run --arch arm64 --kernel twin:
# Debian's 6.12 arm64 kernel, drm and gpu-sched, $BUILD/arm64/kmodel/msm_kmodel.ko loaded):
# msmvm-stat attaches to the twin with each attach kind for a second, exits 0, names the
# twin, and counts exactly what the twin's ground truth says happened: nothing (no VM in
# /sys/kernel/debug/msm_kmodel/vms, as nothing opened the device).
set -u
cd "$(dirname "$0")/../../.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/guest-arm64/lib.sh

if [ "$EUID" -ne 0 ] || [ "$HOSTTYPE" != aarch64 ]; then skip stat_twin "not root in an arm64 guest"; exit 0; fi
if [ ! -e /sys/module/msm_kmodel ]; then skip stat_twin "msm_kmodel is not loaded (no $A/kmodel/msm_kmodel.ko?)"; exit 0; fi
[ -x "$STAT" ] || { skip stat_twin "$STAT is missing (make arm64)"; exit 0; }
vms=/sys/kernel/debug/msm_kmodel/vms
for attach in fentry kprobe; do
  name=stat_twin_$attach
  kind=$([ $attach = fentry ] && echo fentry/fexit || echo kprobes)
  t0=$EPOCHREALTIME
  "$STAT" --json --attach="$attach" -d 1 >"$tmp/$name.json" 2>"$tmp/$name.err"
  rc=$?
  secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  line=$(grep -m1 attached "$tmp/$name.err")
  if [ $rc -ne 0 ]; then
    fail "$name" "msmvm-stat --attach=$attach -d 1 exited $rc:" "$(cat "$tmp/$name.err")"
  elif [[ $line != *"(msm_kmodel, the kernel twin; $kind)"* ]]; then
    fail "$name" "start-up line without '(msm_kmodel, the kernel twin; $kind)':" "$line"
  elif [ -s "$vms" ]; then
    fail "$name" "the twin has VMs, so the zero check does not hold here:" "$(head -c 300 "$vms")"
  elif zero=$(zero_report "$tmp/$name.json") && [ -n "$zero" ]; then
    fail "$name" "not zero while the twin saw no VM:" "$zero"
  else
    pass "$name" "every count 0 as the twin's vms (empty); ${line#msmvm-stat: }; ${secs}s"
  fi
done
