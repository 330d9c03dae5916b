#!/usr/bin/env bash
# Runs every test program and script, shows their output, and ends with the line
# "N passed, N failed, N skipped" counted from their "ok" / "not ok" / "skip" lines.
# A program that dies without reporting (crash, sanitizer abort) counts as a failure.
#   tests/run-tests.sh         the host suite (make test): build/tests/test_*, tests/*.sh
#   tests/run-tests.sh arm64   the arm64 suite (make test-arm64): tests/arm64/*.sh (the
#                              arm64 build under qemu-user), then tests/guest-arm64.sh (the
#                              arm64 guests: the real msm.ko, and the twin)
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

case ${1:-host} in
host)
  for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
  done
  for s in tests/*.sh; do
    # lib.sh: sourced by them; guest-arm64.sh: the arm64 suite's
    case $s in tests/run-tests.sh | tests/lib.sh | tests/guest-arm64.sh) continue ;; esac
    run_one "$(basename "$s")" bash "$s"
  done
  ;;
arm64)
  for s in tests/arm64/*.sh tests/guest-arm64.sh; do
    [ -f "$s" ] && run_one "${s#tests/}" bash "$s"
  done
  ;;
*) echo "usage: tests/run-tests.sh [host|arm64]" >&2; exit 2 ;;
esac

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
