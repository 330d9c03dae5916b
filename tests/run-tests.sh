#!/usr/bin/env bash
# Runs every test program and script, shows their output, and ends with the line
# "N passed, N failed, N skipped" counted from their "ok" / "not ok" / "skip" lines.
# A program that dies without reporting (crash, sanitizer abort) counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD

passed=0 failed=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_one() {	# NAME COMMAND...
  local name=$1; shift
  echo "# --- $name"
  "$@" >"$log" 2>&1
  local rc=$?
  cat "$log"
  local p f s
  p=$(grep -c '^ok ' "$log"); f=$(grep -c '^not ok ' "$log"); s=$(grep -c '^skip ' "$log")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "not ok $name # exited with status $rc without reporting a failure"
    failed=$((failed + 1))
  fi
}

for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  run_one "$(basename "$t")" "$t"
done
for s in tests/*.sh; do
  case $s in tests/run-tests.sh | tests/lib.sh) continue ;; esac	# lib.sh: sourced by them
  run_one "$(basename "$s")" bash "$s"
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
