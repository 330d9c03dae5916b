#!/usr/bin/env bash
# msmvm-sim's command line: help, usage errors (exit 2, one "msmvm-sim: ..." line naming the
# bad argument), the count calculator's worked examples, run's output and errors, a clean
# stop on SIGTERM, and the symbols the toolkit's uprobes need.
# Prints "ok NAME" or "not ok NAME" (then "#   " diagnostics) per check; exits 1 on failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
SIM=$BUILD/msmvm-sim

failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

FAIL_LINES=1000
# shellcheck source=tests/lib.sh
. tests/lib.sh

# sim ARGS...: run the model; sets rc, $tmp/out, $tmp/err
sim() {
  timeout -s KILL 60 "$SIM" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  rc=$?
}

if [ ! -x "$SIM" ]; then
  fail sim_binary_exists "$SIM is missing: run make first"
  exit 1
fi

# --- help
check_help() {	# NAME ARGS...
  local name=$1
  shift
  sim "$@"
  if [ "$rc" -ne 0 ]; then
    fail "$name" "msmvm-sim $* exited $rc" "$(cat "$tmp/err")"
  elif ! grep -q '^Usage' "$tmp/out"; then
    fail "$name" "msmvm-sim $*: no Usage line on stdout" "$(head -5 "$tmp/out")"
  elif [ -s "$tmp/err" ]; then
    fail "$name" "msmvm-sim $*: unexpected stderr" "$(cat "$tmp/err")"
  else
    pass "$name"
  fi
}
check_help help --help
check_help run_help run --help
check_help count_help count --help

# --- usage errors: exit 2, exactly one stderr line "msmvm-sim: ..." naming the argument
check_usage() {	# NAME "NEEDLE[|NEEDLE...]" ARGS...
  local name=$1 needles=$2 n lines first
  shift 2
  sim "$@"
  lines=$(wc -l <"$tmp/err")
  first=$(head -n 1 "$tmp/err")
  if [ "$rc" -ne 2 ]; then
    fail "$name" "msmvm-sim $*: exit status $rc, expected 2" "$(cat "$tmp/err")"
    return
  fi
  if [ "$lines" -ne 1 ] || [ "$(wc -c <"$tmp/err")" -ne $((${#first} + 1)) ]; then
    fail "$name" "msmvm-sim $*: $lines stderr lines, expected exactly one:" "$(cat "$tmp/err")"
    return
  fi
  case $first in
    msmvm-sim:*) ;;
    *) fail "$name" "msmvm-sim $*: stderr does not start with 'msmvm-sim:': $first"; return ;;
  esac
  IFS='|' read -r -a n <<<"$needles"
  local needle
  for needle in "${n[@]}"; do
    if [[ $first != *"$needle"* ]]; then
      fail "$name" "msmvm-sim $*: the error does not name '$needle': $first"
      return
    fi
  done
  if [ -s "$tmp/out" ]; then
    fail "$name" "msmvm-sim $*: unexpected stdout" "$(head -5 "$tmp/out")"
    return
  fi
  pass "$name"
}
check_usage no_args "command"
check_usage unknown_command "frobnicate" frobnicate
check_usage run_unknown_option "--frobnicate" run --frobnicate
check_usage run_unknown_short_option "-x" run -x
check_usage run_missing_option_argument "--procs" run --procs
check_usage run_procs_0 "--procs|'0'" run --procs 0
check_usage run_procs_abc "--procs|abc" run --procs abc
check_usage run_workload_nope "nope" run --workload nope
check_usage run_interrupt_rate_2 "--interrupt-rate|'2'" run --interrupt-rate 2
check_usage run_duration_and_binds "--duration|--binds" run --duration 1 --binds 5
check_usage run_stray_argument "stray" run stray
check_usage count_no_op "OP" count
check_usage count_unaligned "map:0x1001:4K" count map:0x1001:4K
check_usage count_foo "foo" count foo
check_usage count_missing_range "map:1G" count map:1G

# --- count: docs/driver.md's worked examples (first line is the total)
check_count() {	# NAME EXPECTED OP...
  local name=$1 want=$2 got
  shift 2
  sim count "$@"
  got=$(head -n 1 "$tmp/out")
  if [ "$rc" -ne 0 ] || [ "$got" != "$want" ]; then
    fail "$name" "msmvm-sim count $*: exit $rc, first line '$got', expected '$want'" \
      "$(cat "$tmp/err")"
  else
    pass "$name"
  fi
}
check_count count_4k_is_3 3 map:0x100000000:4K
check_count count_64m_is_34 34 map:0x100000000:64M
check_count count_null_64g_is_32833 32833 null:0x1000000000:64G
check_count count_unmap_is_0 0 unmap:0x100000000:1G

# --- run -n 50 -o FILE: valid JSON with 50 binds
sim run -n 50 -o "$tmp/s.json"
if [ "$rc" -ne 0 ]; then
  fail run_summary_file "run -n 50 -o FILE exited $rc" "$(cat "$tmp/err")"
elif ! jq -e '.totals.binds == 50 and .totals.in_flight == 0 and .totals.drift == 0' \
    "$tmp/s.json" >/dev/null 2>"$tmp/jq"; then
  fail run_summary_file "summary is not valid JSON with totals.binds == 50" \
    "$(cat "$tmp/jq")" "$(head -c 600 "$tmp/s.json")"
elif [ -s "$tmp/out" ]; then
  fail run_summary_file "with -o, stdout should be empty" "$(head -5 "$tmp/out")"
else
  pass run_summary_file
fi

# --- run -o into a directory that does not exist: exit 1, a clear error
sim run -o /nonexistent/dir/x.json -n 5
if [ "$rc" -ne 1 ]; then
  fail run_summary_unwritable "exit status $rc, expected 1" "$(cat "$tmp/err")"
elif ! grep -q '^msmvm-sim: .*/nonexistent/dir/x.json.*No such file or directory' "$tmp/err"; then
  fail run_summary_unwritable "no clear error naming the path and the reason:" "$(cat "$tmp/err")"
else
  pass run_summary_unwritable
fi

# --- SIGTERM after 1 s: exit 0, a complete summary, nothing recorded lost
"$SIM" run -d 30 -P 2 --log "$tmp/term.log" >"$tmp/term.json" 2>"$tmp/term.err" </dev/null &
pid=$!
sleep 1
t0=$(date +%s)
kill -TERM "$pid"
stopped=0
for _ in $(seq 150); do
  if ! kill -0 "$pid" 2>/dev/null; then
    stopped=1
    break
  fi
  sleep 0.1
done
if [ "$stopped" -eq 0 ]; then
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  fail run_sigterm "still running 15 s after SIGTERM"
else
  wait "$pid"
  rc=$?
  secs=$(($(date +%s) - t0))
  log_binds=$(grep -c '"ev":"bind"' "$tmp/term.log")
  log_frees=$(grep -c '"ev":"free"' "$tmp/term.log")
  # Stopping signals the threads asleep in the throttle, as a kill would: those waits end
  # in -ERESTARTSYS and their jobs' free subtracts a count never added (downward drift).
  intr_count=$(jq -s '[.[] | select(.ev == "bind" and .ret == -512) | .count] | add // 0' \
    "$tmp/term.log")
  if [ "$rc" -ne 0 ]; then
    fail run_sigterm "exit status $rc after SIGTERM, expected 0" "$(cat "$tmp/term.err")"
  elif ! jq -e --argjson lb "$log_binds" --argjson lf "$log_frees" --argjson ic "$intr_count" '
        (.processes | length) == 2
        and .totals.binds > 0
        and ([.processes[].totals.binds] | add) == .totals.binds
        and all(.processes[]; .totals.binds > 0)
        and .totals.binds == $lb and $lf == $lb
        and .totals.errors == .totals.interrupted_waits
        and .totals.drift == -$ic and .totals.in_flight == .totals.drift' \
      "$tmp/term.json" >/dev/null 2>"$tmp/jq"; then
    fail run_sigterm "incomplete summary after SIGTERM (log: $log_binds binds, $log_frees frees):" \
      "$(cat "$tmp/jq")" "$(jq -c .totals "$tmp/term.json" 2>&1 | head -c 600)" \
      "$(cat "$tmp/term.err")"
  elif [ -s "$tmp/term.err" ]; then
    fail run_sigterm "unexpected stderr" "$(cat "$tmp/term.err")"
  else
    pass run_sigterm
    echo "#   stopped in ${secs}s: $(jq -c '.totals | {binds, interrupted_waits, drift}' \
      "$tmp/term.json")"
  fi
fi

# --- the symbols the probes attach to: not stripped, FUNC symbols
if ! readelf -SW "$SIM" | grep -q '\.symtab'; then
  fail sim_not_stripped "$SIM has no .symtab: stripped"
else
  pass sim_not_stripped
fi
readelf -sW "$SIM" | awk '$4 == "FUNC" && $7 != "UND" { print $8 }' | sort -u >"$tmp/funcs"
missing=()
for s in msm_ioctl_vm_bind vm_bind_prealloc_count msm_vma_job_run msm_vma_job_free \
  msm_iommu_pagetable_prealloc_count msm_iommu_pagetable_prealloc_allocate \
  msm_iommu_pagetable_prealloc_cleanup prepare_to_wait_event finish_wait; do
  grep -qx "$s" "$tmp/funcs" || missing+=("$s")
done
if [ ${#missing[@]} -ne 0 ]; then
  fail sim_probe_symbols "not defined FUNC symbols in $SIM: ${missing[*]}"
else
  pass sim_probe_symbols
fi

[ "$failed" -eq 0 ]
