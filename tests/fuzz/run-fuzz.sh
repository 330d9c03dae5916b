#!/usr/bin/env bash
# make fuzz: runs each fuzz target NAME... (build/fuzz/fuzz_NAME, libFuzzer) for FUZZ_SECS
# seconds, FUZZ_JOBS at a time (default: the number of CPUs), starting from the committed
# seed corpus tests/fuzz/NAME/corpus plus what earlier runs found ($FUZZ_WORK/NAME/corpus,
# kept between runs). Prints "ok fuzz_NAME # secs, execs, coverage" or "not ok fuzz_NAME"
# with the crash input and how to reproduce it; exits 1 if any target found a crash,
# a leak, a timeout or an out-of-memory.
set -uo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
SECS=${FUZZ_SECS:-60}
JOBS=${FUZZ_JOBS:-$(nproc)}
WORK=${FUZZ_WORK:-$B/fuzz/work}
[ $# -gt 0 ] || set -- trace config count

max_len() {	# the largest input worth trying, per format
  case $1 in
    trace) echo 16384 ;;	# seeds are 2 to 5 KB; a few more packets
    config) echo 8192 ;;	# past the 2047-byte line limit
    *) echo 4096 ;;
  esac
}

run_one() {	# NAME: one fuzzer to completion, then its ok/not ok line
  local n=$1 bin=$B/fuzz/fuzz_$1 dir=$WORK/$1 log execs rate cov arts
  mkdir -p "$dir/corpus" "$dir/artifacts"
  log=$dir/log
  "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$n")" \
    -dict="tests/fuzz/$n.dict" -artifact_prefix="$dir/artifacts/" -print_final_stats=1 \
    "$dir/corpus" "tests/fuzz/$n/corpus" $(ls -d "tests/fuzz/$n/crashes" 2>/dev/null) >"$log" 2>&1
  local rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$log" | tail -1)
  arts=$(find "$dir/artifacts" -type f -newer "$dir/started" 2>/dev/null | head -5)
  if [ "$rc" -eq 0 ] && [ -z "$arts" ]; then
    echo "ok fuzz_$n # ${SECS} s, ${execs:-?} execs (${rate:-?}/s), ${cov:-no coverage line}"
  else
    echo "not ok fuzz_$n"
    echo "#   libFuzzer exited $rc after ${execs:-?} execs; ${arts:-no artifact written}"
    grep -m1 -E 'ERROR: |fuzz check failed|runtime error|SUMMARY' "$log" | sed 's/^/#   /'
    for a in $arts; do
      echo "#   reproduce: $bin $a"
      echo "#   once fixed, keep it: cp $a tests/fuzz/$n/crashes/WHAT-IT-BROKE (make test replays it)"
    done
    echo "#   full log: $log"
  fi
}

for n in "$@"; do
  [ -x "$B/fuzz/fuzz_$n" ] || { echo "not ok fuzz_$n"; echo "#   $B/fuzz/fuzz_$n not built"; exit 1; }
  mkdir -p "$WORK/$n"; touch "$WORK/$n/started"
done
echo "# fuzzing $* for $SECS s each, $JOBS at a time (logs and corpus in $WORK)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
running=0
for n in "$@"; do
  run_one "$n" >"$out/$n" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait
status=0
for n in "$@"; do
  cat "$out/$n"
  grep -q '^not ok' "$out/$n" && status=1
done
exit $status
