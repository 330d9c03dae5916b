#!/usr/bin/env bash
# In the arm64 guest, against the REAL msm.ko: msmvm-trace records for about a second and
# stops cleanly on SIGINT (exit 0), leaving a trace file; msmvm-stat --replay reads it back
# with every count 0 (msm binds no device: no VM_BIND can happen). The file itself is
# decoded on the host once the guest is off (protoc and the trace checker are x86 programs):
# tests/guest-arm64.sh checks $BUILD/guest-arm64/results/trace_msm.perfetto-trace for
# trace_processor's rules and zero VM_BIND slices.
set -u
cd "$(dirname "$0")/../../.." || exit 1
tmp=$(mktemp -d)
rec_pid=
trap '[ -n "$rec_pid" ] && kill -9 "$rec_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
. tests/guest-arm64/lib.sh

msm_ready trace_msm || exit 0
mkdir -p "$OUT"
f=$OUT/trace_msm.perfetto-trace
rm -f "$f" "$f.recorded"

t0=$EPOCHREALTIME
: >"$tmp/rec.err"
"$TRACE" -o "$f" 2>"$tmp/rec.err" &
rec_pid=$!
if ! wait_for "$tmp/rec.err" attached "$rec_pid" 120; then
  kstop "$rec_pid" KILL; rec_pid=
  fail trace_msm "msmvm-trace did not attach in 120 s (status $krc):" "$(cat "$tmp/rec.err")"
  exit 0
fi
attach_s=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
sleep 1
kstop "$rec_pid" INT; rec_pid=
if [ "$krc" -ne 0 ]; then
  fail trace_msm "msmvm-trace exited $krc on SIGINT:" "$(cat "$tmp/rec.err")"
elif [ ! -s "$f" ]; then
  fail trace_msm "no trace file (or an empty one) at $f:" "$(cat "$tmp/rec.err")"
elif ! "$STAT" --replay "$f" --json >"$tmp/replay.json" 2>"$tmp/replay.err"; then
  fail trace_msm "msmvm-stat --replay cannot read it:" "$(cat "$tmp/replay.err")"
elif zero=$(zero_report "$tmp/replay.json") && [ -n "$zero" ]; then
  fail trace_msm "the replay is not zero with no msm device:" "$zero"
else
  # for the host's check of the file (tests/guest-arm64.sh)
  touch "$f.recorded"
  pass trace_msm "stopped on SIGINT, exit 0; $(stat -c %s "$f") bytes, replayed: every count 0; attach ${attach_s}s"
fi
