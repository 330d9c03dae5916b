#!/usr/bin/env bash
# In the arm64 guest, against the REAL msm.ko: what msmvm-stat's start-up costs, from exec to
# its "attached" line (the default plan and attach kind), and how many times it opens
# /proc/kallsyms meanwhile (counted by the kernel: a kprobe event on do_sys_openat2 with the
# path as a string, filtered on /proc/kallsyms). A measurement: the line fails only when
# msmvm-stat does not attach or exit 0; the figures are in its note.
set -u
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
T=/sys/kernel/tracing
ev=msmvm_startup/kallsyms_open
cleanup() {
  echo 0 >"$T/events/$ev/enable" 2>/dev/null
  echo "-:$ev" >>"$T/kprobe_events" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
. tests/guest-arm64/lib.sh

msm_ready startup_msm || exit 0

# the opens of /proc/kallsyms, whoever opens it (nothing else runs meanwhile)
counting=0
if echo "p:$ev do_sys_openat2 path=+0(%x1):ustring" >>"$T/kprobe_events" 2>"$tmp/kp.err" &&
   echo 'path == "/proc/kallsyms"' >"$T/events/$ev/filter" && echo >"$T/trace" &&
   echo 1 >"$T/events/$ev/enable"; then
  counting=1
fi

# stderr lines stamped as they come (bash builtins: no fork per line)
stamp() { local l; while IFS= read -r l; do echo "$EPOCHREALTIME $l"; done; }
t0=$EPOCHREALTIME
"$STAT" -d 1 >"$tmp/out" 2> >(stamp >"$tmp/err")
rc=$?
t1=$EPOCHREALTIME
sleep 0.2	# the stamper's last lines
[ $counting = 1 ] && echo 0 >"$T/events/$ev/enable"
opens=n/a
if [ $counting = 1 ]; then
  opens=$(grep -c 'kallsyms_open:' "$T/trace")
  by=$(grep 'kallsyms_open:' "$T/trace" | awk '{ sub(/-[0-9]+$/, "", $1); print $1 }' | sort | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')
  opens="$opens${by:+ ($by)}"
else
  opens="n/a (no kprobe event: $(head -c 100 "$tmp/kp.err"))"
fi
att=$(awk '/attached/ { print $1; exit }' "$tmp/err")
if [ $rc -ne 0 ] || [ -z "$att" ]; then
  fail startup_msm "msmvm-stat -d 1 exited $rc, attached: ${att:-never}:" "$(cat "$tmp/err")"
  exit 0
fi
to_att=$(awk -v a="$t0" -v b="$att" 'BEGIN { printf "%.2f", b - a }')
total=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
self=$(sed -n 's/.* in \([0-9.]* ms\).*/\1/p' "$tmp/err" | head -1)
# what one whole read of /proc/kallsyms costs here, for scale
k0=$EPOCHREALTIME
lines=$(wc -l </proc/kallsyms)
ks=$(awk -v a="$k0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
pass startup_msm "exec to attached ${to_att}s (msmvm-stat's own figure: ${self:-none}); whole -d 1 run ${total}s; /proc/kallsyms opened $opens times (one whole read here: $lines lines, ${ks}s)"
