#!/usr/bin/env bash
# In the arm64 guest, against the REAL msm.ko: msmvmtop in batch mode (-b), two frames a
# second apart, attached to msm as it decides by itself; exit 0, two frames, each frame's
# "totals:" line all zero (msm binds no device: no VM_BIND can happen) and no process rows.
set -u
cd "$(dirname "$0")/../../.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/guest-arm64/lib.sh

msm_ready top_msm || exit 0

t0=$EPOCHREALTIME
"$TOP" -b -n 2 -d 1 >"$tmp/b.out" 2>"$tmp/b.err"
rc=$?
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
frames=$(grep -c '^msmvmtop ' "$tmp/b.out")
totals=$(grep -c '^totals:' "$tmp/b.out")
# every "totals:" line: NAME VALUE pairs, every value 0
nonzero=$(awk '/^totals:/ { for (i = 2; i < NF; i += 2) if ($(i + 1) != 0) print NR ": " $i " " $(i + 1) }' "$tmp/b.out")
rows=$(awk '/PID COMM/ { t = 1; next } /^msmvmtop / { t = 0 } t && /^ +[0-9]+ / { print }' "$tmp/b.out")
if [ $rc -ne 0 ]; then
  fail top_msm_batch "msmvmtop -b -n 2 -d 1 exited $rc:" "$(cat "$tmp/b.err")" "$(tail -n 20 "$tmp/b.out")"
elif [ "$frames" -ne 2 ] || [ "$totals" -ne 2 ]; then
  fail top_msm_batch "$frames frames, $totals totals lines (2 wanted):" "$(cat "$tmp/b.out")"
elif [ -n "$nonzero" ]; then
  fail top_msm_batch "not zero with no msm device:" "$nonzero"
elif [ -n "$rows" ]; then
  fail top_msm_batch "process rows with no msm device:" "$rows"
else
  pass top_msm_batch "2 frames, totals all 0; ${secs}s$( [ -s "$tmp/b.err" ] && echo "; stderr: $(head -c 120 "$tmp/b.err")")"
fi
