#!/usr/bin/env bash
# In the arm64 guest: with msm NOT loaded (unloaded here when the harness loaded it, then
# loaded again; or a boot with tools/guest/run --no-msm), msmvm-stat must exit 1 (a runtime
# error: no driver) with a message that names the msm module, and attach nothing.
set -u
cd "$(dirname "$0")/../../.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/guest-arm64/lib.sh

if [ "$(id -u)" -ne 0 ]; then skip stat_msm_unloaded "needs root"; exit 0; fi
[ -x "$STAT" ] || { skip stat_msm_unloaded "$STAT is missing (make arm64)"; exit 0; }
reload=0
if [ -e /sys/module/msm ]; then
  if ! rmmod msm 2>"$tmp/rmmod.err"; then
    fail stat_msm_unloaded "rmmod msm failed (refcnt $(cat /sys/module/msm/refcnt 2>/dev/null)):" "$(cat "$tmp/rmmod.err")"
    exit 0
  fi
  reload=1
fi
if [ -e /sys/module/msm ]; then
  fail stat_msm_unloaded "msm is still loaded"
  exit 0
fi

t0=$EPOCHREALTIME
"$STAT" -d 1 >"$tmp/out" 2>"$tmp/err"
rc=$?
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
if [ $rc -ne 1 ]; then
  fail stat_msm_unloaded "msmvm-stat -d 1 exited $rc with msm unloaded (1 wanted):" "$(cat "$tmp/err" "$tmp/out")"
elif ! grep -qw msm "$tmp/err"; then
  fail stat_msm_unloaded "the error does not name the msm module:" "$(cat "$tmp/err")"
elif grep -q attached "$tmp/err"; then
  fail stat_msm_unloaded "it says it attached:" "$(cat "$tmp/err")"
else
  pass stat_msm_unloaded "exit 1 in ${secs}s: $(grep -m1 -w msm "$tmp/err" | head -c 200)"
fi

if [ $reload = 1 ] && ! modprobe msm 2>"$tmp/modprobe.err"; then
  fail stat_msm_reloaded "modprobe msm after the test failed:" "$(cat "$tmp/modprobe.err")"
fi
