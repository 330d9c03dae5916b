#!/usr/bin/env bash
# msmvm-sim run's lifecycle (issue 16, item 4). Its workload processes die with it: a
# SIGKILLed run (nothing forwards a stop) leaves none binding on. --log write errors are
# reported, naming the file, and fail the run (exit 1): /dev/full, a full file system (a
# small tmpfs in a private mount namespace), a path that cannot be opened; a log that could be
# written holds every call the model's own summary counts.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
SIM=$B/msmvm-sim

. tests/lib.sh

tmp=$(mktemp -d)
run_pid=
kids=
# this run's workload processes only: their name starts with our own prefix
prefix=lc$$x$((RANDOM % 1000))
ours() { [ -r "/proc/$1/comm" ] && case $(cat "/proc/$1/comm" 2>/dev/null) in "$prefix"-*) true ;; *) false ;; esac; }
alive() { ours "$1" && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
cleanup() {
  local c
  [ -n "$run_pid" ] && kill -KILL "$run_pid" 2>/dev/null
  for c in $kids; do alive "$c" && kill -KILL "$c" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- the workload processes die with msmvm-sim run ----------------------------------------
# A long run at a modest rate, three processes; once each one has logged a call, the parent
# is SIGKILLed: its children must be gone (exited; a zombie until init reaps it) within a
# generous deadline, not bind on for the rest of their 600 s.
"$SIM" run -w sparse -P 3 -r 200 -d 600 --comm "$prefix" --log "$tmp/life.log" \
  -o "$tmp/life.json" 2>"$tmp/life.err" &
run_pid=$!
ready=0
for _ in $(seq 600); do		# up to 60 s: each child is there and has bound
  kids=$(cat /proc/"$run_pid"/task/*/children 2>/dev/null)
  if [ "$(wc -w <<<"$kids")" -eq 3 ] && [ -s "$tmp/life.log" ]; then
    bound=$(jq -r 'select(.ev == "bind") | .pid' "$tmp/life.log" 2>/dev/null | sort -u | wc -l)
    [ "$bound" -eq 3 ] && { ready=1; break; }
  fi
  kill -0 "$run_pid" 2>/dev/null || break
  sleep 0.1
done
named=0
for c in $kids; do ours "$c" && named=$((named + 1)); done
if [ "$ready" != 1 ] || [ "$named" -ne 3 ]; then
  fail sim_workers_die_with_parent "the run did not start its 3 processes binding (children:" \
    "'$kids', $named named $prefix-N); stderr: $(head -c 300 "$tmp/life.err")"
else
  t0=$(date +%s%N)
  kill -KILL "$run_pid"
  wait "$run_pid" 2>/dev/null
  run_pid=
  left=$kids
  for _ in $(seq 600); do	# up to 60 s
    left=$(for c in $kids; do alive "$c" && echo "$c"; done)
    [ -z "$left" ] && break
    sleep 0.1
  done
  if [ -z "$left" ]; then
    pass sim_workers_die_with_parent \
      "3 processes gone $(( ($(date +%s%N) - t0) / 1000000 )) ms after the parent's SIGKILL"
  else
    fail sim_workers_die_with_parent "still running 60 s after the parent's SIGKILL:" \
      "$(for c in $left; do echo "$c $(cat /proc/"$c"/comm) $(awk '{ print $3 }' /proc/"$c"/stat)"; done)"
  fi
fi

# --- --log: what a run writes, and write errors --------------------------------------------
# A log that could be written: exit 0, every line JSON, a "bind" line per call of the summary.
"$SIM" run -w sparse -P 2 -n 100 --log "$tmp/ok.log" -o "$tmp/ok.json" 2>"$tmp/ok.err"
rc=$?
binds=$(jq '.totals.binds' "$tmp/ok.json" 2>/dev/null)
lines=$(jq -r '.ev' "$tmp/ok.log" 2>/dev/null | grep -c '^bind$')
if [ $rc -eq 0 ] && [ -n "$binds" ] && [ "$binds" -gt 0 ] && [ "$lines" = "$binds" ] &&
   jq -e . "$tmp/ok.log" >/dev/null 2>&1 && [ ! -s "$tmp/ok.err" ]; then
  pass sim_log_written "$lines bind lines, the summary's $binds binds"
else
  fail sim_log_written "exit $rc, $lines bind lines for the summary's '$binds' binds" \
    "stderr: $(head -c 300 "$tmp/ok.err")"
fi

# log_fails NAME LOG WANT_RE BINDS: the run exits 1 and says why, naming LOG; its summary
# holds BINDS calls (the run went on; "none": it did not start)
log_fails() {
  local name=$1 log=$2 want=$3 binds=$4 rc
  "$SIM" run -w sparse -P 2 -n 100 --log "$log" -o "$tmp/$name.json" 2>"$tmp/$name.err"
  rc=$?
  if [ $rc -eq 1 ] && grep -q -- "'$log'" "$tmp/$name.err" && grep -Eq -- "$want" "$tmp/$name.err" &&
     { [ "$binds" = none ] && [ ! -s "$tmp/$name.json" ] ||
       [ "$(jq '.totals.binds' "$tmp/$name.json" 2>/dev/null)" = "$binds" ]; }; then
    pass "$name" "$(head -n 1 "$tmp/$name.err")"
  else
    fail "$name" "exit $rc (want 1, naming '$log': $want); stderr: $(head -c 300 "$tmp/$name.err")"
  fi
}
log_fails sim_log_dev_full /dev/full "No space left on device" 200
log_fails sim_log_unopenable "$tmp/no-such-dir/x.log" "cannot open log.*No such file" none

# A full file system: a 16 KiB tmpfs in a mount namespace of its own (nothing mounted here
# stays). The log stops where the space ends: the run fails and says so, every whole line is
# JSON, and a line cut short at the end is said to be.
if ! command -v unshare >/dev/null || ! unshare -m true 2>/dev/null; then
  echo "skip sim_log_full_disk # no mount namespace here (unshare -m)"
else
  mkdir "$tmp/small"
  unshare -m sh -c 'mount -t tmpfs -o size=16k msmvm-test "$1" || exit 99
    "$2" run -w sparse -P 2 -n 200 --log "$1/full.log" -o "$3/full.json" 2>"$3/full.err"
    rc=$?; cp "$1/full.log" "$3/full.log"; exit $rc' sh "$tmp/small" "$SIM" "$tmp"
  rc=$?
  all=$(wc -l <"$tmp/full.log" 2>/dev/null || echo 0)	# whole lines: newline-ended
  whole=$(head -n "$all" "$tmp/full.log" 2>/dev/null | jq -c . 2>/dev/null | wc -l)
  cut=$([ -s "$tmp/full.log" ] && [ -n "$(tail -c 1 "$tmp/full.log")" ] && echo yes || echo no)
  if [ $rc -eq 99 ]; then
    echo "skip sim_log_full_disk # cannot mount a tmpfs here"
  elif [ $rc -eq 1 ] && grep -q -- "'$tmp/small/full.log'" "$tmp/full.err" &&
       grep -Eq "No space left on device|short write" "$tmp/full.err" &&
       { [ $cut = no ] || grep -q "cut short" "$tmp/full.err"; } &&
       [ "$all" -gt 10 ] && [ "$whole" -eq "$all" ] &&
       [ "$(jq '.totals.binds' "$tmp/full.json" 2>/dev/null)" = 400 ]; then
    pass sim_log_full_disk "$all whole lines, last cut: $cut; $(head -n 1 "$tmp/full.err")"
  else
    fail sim_log_full_disk "exit $rc (want 1), $all whole lines of which $whole JSON, last cut: $cut" \
      "stderr: $(head -c 300 "$tmp/full.err")"
  fi
fi
