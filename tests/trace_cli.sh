#!/usr/bin/env bash
# msmvm-trace's command line and msmvm-stat --replay's: usage errors exit 2, runtime errors
# (unwritable paths, a missing model, files that are not traces) exit 1, with clear words.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
TRACE=$B/msmvm-trace
STAT=$B/msmvm-stat
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass() { echo "ok $1${2:+ # $2}"; }
fail() { echo "not ok $1"; shift; for l in "$@"; do echo "#   $l"; done; }

# expect NAME STATUS PATTERN -- COMMAND...: exit status, and PATTERN in stderr+stdout
expect() {
  local name=$1 want=$2 pat=$3; shift 4
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$name" "exit $rc, expected $want" "$(head -c 400 "$tmp/err")"
  elif ! grep -q -- "$pat" "$tmp/out" "$tmp/err"; then
    fail "$name" "output lacks '$pat'" "$(head -c 400 "$tmp/err")"
  else
    pass "$name"
  fi
}

expect trace_help 0 'USAGE: msmvm-trace' -- "$TRACE" --help
expect trace_help_exit_status 0 'EXIT STATUS' -- "$TRACE" --help
expect trace_no_output 2 '-o FILE is required' -- "$TRACE" -d 1
expect trace_bad_flag 2 'unrecognized option' -- "$TRACE" --bogus -o "$tmp/x"
expect trace_bad_duration 2 "invalid duration 'soon'" -- "$TRACE" -o "$tmp/x" -d soon
expect trace_bad_max_size 2 "invalid --max-size '0'" -- "$TRACE" -o "$tmp/x" --max-size 0
expect trace_bad_ring 2 "invalid --ring '-1'" -- "$TRACE" -o "$tmp/x" --ring -1
expect trace_bad_format 2 "invalid --format 'xml'" -- "$TRACE" -o "$tmp/x" --format xml
expect trace_bad_buffer 2 "invalid --buffer-size '5'" -- "$TRACE" -o "$tmp/x" -b 5
expect trace_bad_pid 2 'invalid PID' -- "$TRACE" -o "$tmp/x" -p 0
expect trace_extra_argument 2 "unexpected argument 'later'" -- "$TRACE" -o "$tmp/x" later
expect replay_with_sim 2 '--replay reads a trace' -- "$STAT" --replay "$tmp/x" --sim
expect replay_with_interval 2 '--replay reads a trace' -- "$STAT" --replay "$tmp/x" 1
expect replay_missing_file 1 "cannot open $tmp/none" -- "$STAT" --replay "$tmp/none"
echo '[{"ph":"B","name":"x","pid":1,"tid":1,"ts":1}]' >"$tmp/chrome.json"
expect replay_json_file 1 'is a JSON trace (--format json)' -- "$STAT" --replay "$tmp/chrome.json"
head -c 3000 /dev/zero >"$tmp/zeros"
expect replay_zeros 1 'zeros is not a Perfetto protobuf trace (its first bytes are not a trace packet)' -- "$STAT" --replay "$tmp/zeros"
expect replay_directory 1 "reading $tmp: Is a directory" -- "$STAT" --replay "$tmp"
head -c 3000 /dev/urandom >"$tmp/noise"
expect replay_noise 1 "$tmp/noise" -- "$STAT" --replay "$tmp/noise"

if [ "$(id -u)" -ne 0 ]; then
  echo "skip trace_errors_as_root # needs root"
  exit 0
fi
# Unwritable output: said before anything is attached, and nothing is left behind.
expect trace_unwritable_dir 1 "cannot create $tmp/no/such/dir/t.perfetto-trace" -- \
  "$TRACE" --sim="$B/msmvm-sim" -o "$tmp/no/such/dir/t.perfetto-trace" -d 1
mkdir "$tmp/adir"
expect trace_output_is_a_dir 1 "cannot create $tmp/adir" -- \
  "$TRACE" --sim="$B/msmvm-sim" -o "$tmp/adir" -d 1
expect trace_sim_missing 1 'not found' -- "$TRACE" --sim=/nonexistent/msmvm-sim -o "$tmp/x" -d 1
if [ ! -e /sys/module/msm ]; then
  expect trace_no_msm_driver 1 'use --sim' -- "$TRACE" -o "$tmp/x" -d 1
else
  echo "skip trace_no_msm_driver # msm is loaded here"
fi
