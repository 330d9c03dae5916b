#!/usr/bin/env bash
# The guest suite: tests/guest/*.sh (not run-all.sh nor lib*.sh) run inside the x86 guest
# (tools/guest/run: Debian's 6.12 kernel under QEMU, the kernel twin loaded), all in ONE boot
# through tests/guest/run-all.sh, whose "ok"/"not ok"/"skip" lines reach run-tests.sh through
# this script's output. When the guest cannot run here (no QEMU, no mirror for the kernel
# packages, MSMVM_GUEST_SKIP=1) each guest test is one "skip" line with the reason.
# Env: MSMVM_GUEST_TIMEOUT (the whole boot, default 1800 s), MSMVM_GUEST_TEST_TIMEOUT (each
# test, default 600 s, in run-all.sh).
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
export BUILD=$B

tests=()
for t in tests/guest/*.sh; do
  n=$(basename "$t" .sh)
  case $n in run-all | lib*) continue ;; esac
  [ -f "$t" ] && tests+=("$n")
done
[ ${#tests[@]} -gt 0 ] || { echo "# guest: no tests in tests/guest"; exit 0; }

skip_all() {
  local n
  for n in "${tests[@]}"; do echo "skip guest/$n # $1"; done
  exit 0
}

[ "${MSMVM_GUEST_SKIP:-0}" = 1 ] && skip_all "MSMVM_GUEST_SKIP=1"
command -v qemu-system-x86_64 >/dev/null || skip_all "no qemu-system-x86_64 (package qemu-system-x86)"
if ! out=$(tools/guest/fetch 2>&1); then
  skip_all "no guest kernel: $(printf '%s\n' "$out" | grep 'guest fetch:' | tail -n1 | sed 's/^guest fetch: //')"
fi

# The twin is part of what is tested: a build failure is a failure, not a skip.
if [ -f tools/kmodel/Kbuild ]; then
  if ! make --no-print-directory -s kmodel >/dev/null 2>"$B/kmodel-make.log"; then
    echo "not ok guest_kmodel_build # make kmodel failed:"
    tail -n 20 "$B/kmodel-make.log" | sed 's/^/#   /'
    exit 1
  fi
fi

MSMVM_GUEST_TIMES=1 tools/guest/run --timeout "${MSMVM_GUEST_TIMEOUT:-1800}" -- tests/guest/run-all.sh
rc=$?
if [ $rc = 125 ]; then
  echo "not ok guest # the guest did not run the tests to their end (tools/guest/run said why, above)"
  exit 1
fi
exit $rc
