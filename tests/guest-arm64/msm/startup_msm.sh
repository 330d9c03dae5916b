#!/usr/bin/env bash
# In the arm64 guest, against the REAL msm.ko: what msmvm-stat's start-up costs, from exec to
# its "attached" line (the default plan and attach kind), and how many times it opens
# /proc/kallsyms meanwhile (counted by the kernel: a kprobe event on do_sys_openat2 with the
# path as a string, filtered on /proc/kallsyms). Then a second run with msmvm-stat's read()
# and close() traced too (syscall events filtered on its comm): how many reads of that file
# and how long from its open to its close. A measurement: the line fails only when
# msmvm-stat does not attach or exit 0; the figures are in its note.
set -u
cd "$(dirname "$0")/../../.." || exit 1
tmp=$(mktemp -d)
T=/sys/kernel/tracing
ev=msmvm_startup/kallsyms_open
ret=msmvm_startup/open_ret
sys=(syscalls/sys_enter_read syscalls/sys_enter_close)
cleanup() {
  local e
  for e in "$ev" "$ret" "${sys[@]}"; do echo 0 >"$T/events/$e/enable" 2>/dev/null; done
  for e in "${sys[@]}"; do echo 0 >"$T/events/$e/filter" 2>/dev/null; done
  echo "-:$ev" >>"$T/kprobe_events" 2>/dev/null
  echo "-:$ret" >>"$T/kprobe_events" 2>/dev/null
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
# The second run: the file's reads and its open-to-close time, from the kernel's events
# (open: the path's event, then the fd do_sys_openat2 returned to that pid; reads and close
# of that fd by that pid; sys_read prints its arguments in hex).
reads=n/a
if [ $counting = 1 ] &&
   echo "r:$ret do_sys_openat2 fd=\$retval:s32" >>"$T/kprobe_events" 2>>"$tmp/kp.err" &&
   echo 'comm == "msmvm-stat"' >"$T/events/$ret/filter" &&
   echo 'comm == "msmvm-stat"' >"$T/events/${sys[0]}/filter" &&
   echo 'comm == "msmvm-stat"' >"$T/events/${sys[1]}/filter" && echo >"$T/trace"; then
  for e in "$ev" "$ret" "${sys[@]}"; do echo 1 >"$T/events/$e/enable"; done
  "$STAT" -d 1 >/dev/null 2>"$tmp/err2"
  for e in "$ev" "$ret" "${sys[@]}"; do echo 0 >"$T/events/$e/enable"; done
  [ -n "${MSMVM_STARTUP_KEEP:-}" ] && cp "$T/trace" "$MSMVM_STARTUP_KEEP"
  reads=$(awk '
    function pid(f) { sub(/.*-/, "", f); return f }
    function ts(l) { match(l, /[0-9]+\.[0-9]+:/); return substr(l, RSTART, RLENGTH - 1) + 0 }
    function hex(h,   i, v) { v = 0; h = tolower(h); sub(/^0x/, "", h); for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1; return v }
    / kallsyms_open:/ { want[pid($1)] = 1; t0[pid($1)] = ts($0); next }
    / open_ret:/ && want[pid($1)] == 1 { match($0, /fd=-?[0-9]+/); fd[pid($1)] = substr($0, RSTART + 3, RLENGTH - 3) + 0; want[pid($1)] = 2; next }
    / sys_read\(/ && want[pid($1)] == 2 { match($0, /fd: (0x)?[0-9a-f]+/); if (hex(substr($0, RSTART + 4, RLENGTH - 4)) == fd[pid($1)]) { n[pid($1)]++; match($0, /count: (0x)?[0-9a-f]+/); asked[pid($1)] = hex(substr($0, RSTART + 7, RLENGTH - 7)) } next }
    / sys_close\(/ && want[pid($1)] == 2 { match($0, /fd: (0x)?[0-9a-f]+/); if (hex(substr($0, RSTART + 4, RLENGTH - 4)) == fd[pid($1)]) {
        printf "%s%d reads (of %d bytes each), %.2fs open to close", (k++ ? "; " : ""), n[pid($1)], asked[pid($1)], ts($0) - t0[pid($1)]; want[pid($1)] = 0 } }
    END { if (!k) printf "n/a (no open and close of it seen)" }' "$T/trace")
fi

# what one whole read of /proc/kallsyms costs here, for scale
k0=$EPOCHREALTIME
lines=$(wc -l </proc/kallsyms)
ks=$(awk -v a="$k0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
pass startup_msm "exec to attached ${to_att}s (msmvm-stat's own figure: ${self:-none}); whole -d 1 run ${total}s; /proc/kallsyms opened $opens times; second run: $reads (one whole read here: $lines lines, ${ks}s)"
