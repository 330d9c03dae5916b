#!/usr/bin/env bash
# The arm64 guest suite: tests/guest-arm64/msm/*.sh run inside the arm64 guest
# (tools/guest/run --arch arm64: Debian's 7.2 arm64 kernel under QEMU, the REAL msm.ko loaded,
# no Qualcomm hardware), all in ONE boot through tests/guest/run-all.sh, with the arm64 tools
# of `make arm64` ($BUILD/arm64/). Their "ok"/"not ok"/"skip" lines reach run-tests.sh through
# this script's output. Then, on the host (protoc and the trace checker are x86 programs), the
# trace the guest recorded: decoded, trace_processor's rules, zero VM_BIND slices. Then, when
# the kernel twin is built for arm64 (make kmodel-arm64: $BUILD/arm64/kmodel/msm_kmodel.ko), a
# second boot on the twin's kernel (--kernel twin) for tests/guest-arm64/twin/*.sh (which runs
# tests/guest-arm64/twin.sh).
# When the guest cannot run here (no QEMU, no mirror for the packages, no arm64 tools,
# MSMVM_GUEST_SKIP=1) each test is one "skip" line with the reason.
# Env: MSMVM_GUEST_TIMEOUT (the whole boot, default 1800 s), MSMVM_GUEST_TEST_TIMEOUT (each
# test, default 600 s, in run-all.sh).
set -u
cd "$(dirname "$0")/.." || exit 1
B=${BUILD:-build}
export BUILD=$B

tests=()
for t in tests/guest-arm64/msm/*.sh; do
  [ -f "$t" ] && tests+=("msm/$(basename "$t" .sh)")
done
[ ${#tests[@]} -gt 0 ] || { echo "# guest-arm64: no tests in tests/guest-arm64/msm"; exit 0; }

skip_all() {
  local n
  for n in "${tests[@]}" msm/trace_msm_file twin; do echo "skip guest-arm64/$n # $1"; done
  exit 0
}

[ "${MSMVM_GUEST_SKIP:-0}" = 1 ] && skip_all "MSMVM_GUEST_SKIP=1"
command -v qemu-system-aarch64 >/dev/null || skip_all "no qemu-system-aarch64 (package qemu-system-arm)"
if ! out=$(tools/guest/fetch --arch arm64 --kernel msm 2>&1); then
  skip_all "no arm64 guest kernel: $(printf '%s\n' "$out" | grep 'guest fetch:' | tail -n1 | sed 's/^guest fetch: //')"
fi

# The arm64 tools are what is tested: a build failure is a failure, not a skip.
if grep -q '^arm64:' Makefile; then
  if ! make --no-print-directory -s arm64 >/dev/null 2>"$B/arm64-make.log"; then
    echo "not ok guest_arm64_build # make arm64 failed:"
    tail -n 20 "$B/arm64-make.log" | sed 's/^/#   /'
    exit 1
  fi
fi
for t in msmvm-stat msmvmtop msmvm-trace msmvm-alert; do
  [ -x "$B/arm64/$t" ] || skip_all "no $B/arm64/$t (make arm64)"
done

R=$B/guest-arm64/results
rm -rf "$R"
t0=$SECONDS
MSMVM_GUEST_TIMES=1 tools/guest/run --arch arm64 --timeout "${MSMVM_GUEST_TIMEOUT:-1800}" -- \
  tests/guest/run-all.sh tests/guest-arm64/msm
rc=$?
echo "# guest-arm64: the boot took $((SECONDS - t0))s"
if [ $rc = 125 ]; then
  echo "not ok guest-arm64 # the guest did not run the tests to their end (tools/guest/run said why, above)"
  exit 1
fi

# --- the trace recorded in the guest, on the host ---
f=$R/trace_msm.perfetto-trace
CHECK=$B/tests/test_trace
if [ ! -e "$f.recorded" ]; then
  echo "skip guest-arm64/msm/trace_msm_file # no trace recorded in the guest (guest-arm64/msm/trace_msm says why)"
elif ! command -v protoc >/dev/null; then
  echo "skip guest-arm64/msm/trace_msm_file # protoc is not installed (tools/deps.sh installs protobuf-compiler)"
elif [ ! -x "$CHECK" ] && ! make --no-print-directory -s "$CHECK" >/dev/null 2>&1; then
  echo "not ok guest-arm64/msm/trace_msm_file # could not build $CHECK"
  rc=1
elif ! protoc --decode=perfetto.protos.Trace -I tests tests/trace.proto <"$f" >"$f.txt" 2>"$f.perr"; then
  echo "not ok guest-arm64/msm/trace_msm_file # protoc cannot decode $f: $(head -c 300 "$f.perr")"
  rc=1
elif ! "$CHECK" check "$f.txt" >"$f.chk" 2>"$f.cerr"; then
  echo "not ok guest-arm64/msm/trace_msm_file # trace_processor's rules broken in $f:"
  sed 's/^/#   /' "$f.cerr"
  rc=1
else
  # no VM_BIND slice, no open slice, no event recorded: msm binds no device in the guest
  v=$(jq -r '"\(.errors) \(.open_slices) \(.slices.VM_BIND // 0) \(.stats.events_recorded // 0)"' "$f.chk")
  if [ "$v" = "0 0 0 0" ]; then
    echo "ok guest-arm64/msm/trace_msm_file # $(stat -c %s "$f") bytes, $(jq .packets "$f.chk") packets; protoc and trace_processor's rules: valid; 0 VM_BIND slices, 0 events"
  else
    echo "not ok guest-arm64/msm/trace_msm_file # errors, open slices, VM_BIND slices, events: $v (0 0 0 0 wanted): $(cat "$f.chk")"
    rc=1
  fi
fi

# --- the twin's kernel (6.12 arm64), when the twin is built for arm64: a second boot ---
ko=$B/arm64/kmodel/msm_kmodel.ko
# (built here when the Makefile can: a build failure is a failure)
if grep -q '^kmodel-arm64:' Makefile && [ -f tools/kmodel/Kbuild ] &&
   ! make --no-print-directory -s kmodel-arm64 >/dev/null 2>"$B/kmodel-arm64-make.log"; then
  echo "not ok guest-arm64/twin_build # make kmodel-arm64 failed:"
  tail -n 20 "$B/kmodel-arm64-make.log" | sed 's/^/#   /'
  exit 1
fi
if [ ! -f "$ko" ]; then
  echo "skip guest-arm64/twin # no $ko (make kmodel-arm64)"
elif ! out=$(tools/guest/fetch --arch arm64 --kernel twin 2>&1); then
  echo "skip guest-arm64/twin # no arm64 twin kernel: $(printf '%s\n' "$out" | grep 'guest fetch:' | tail -n1 | sed 's/^guest fetch: //')"
else
  t0=$SECONDS
  MSMVM_GUEST_TIMES=1 tools/guest/run --arch arm64 --kernel twin --timeout "${MSMVM_GUEST_TIMEOUT:-1800}" -- \
    tests/guest/run-all.sh tests/guest-arm64/twin
  trc=$?
  echo "# guest-arm64/twin: the boot took $((SECONDS - t0))s"
  if [ $trc = 125 ]; then
    echo "not ok guest-arm64/twin # the twin's guest did not run the tests to their end (tools/guest/run said why, above)"
    rc=1
  elif [ $trc != 0 ]; then
    rc=1
  fi
fi
exit $rc
