#!/usr/bin/env bash
# Signals (issue 16): SIGHUP, SIGUSR1 (where it means nothing), SIGPIPE and SIGTERM end every
# tool as Ctrl-C does, with its final output whole; msmvm-alert re-reads its config on SIGHUP
# and lives on through SIGUSR1; a reader of stdout that goes away ends a tool quietly, exit 0.
#
# Each case, on the tool's own copy of the model: the tool attached, run A (fixed, to its
# end: the ground truth, the model's summary), then run B binding in the background; the
# signal comes while B binds. The final output must hold A's processes exactly:
#   sig_stat_SIG          msmvm-stat --json: exit 0, the final line; A's processes, VMs exact
#   sig_trace_SIG         msmvm-trace: exit 0, the file whole (test_trace complete = its size),
#                         trace rules kept, final stats in it, its replay = A exactly
#   sig_trace_ring_*      --ring: SIGUSR1 writes FILE-1 and recording goes on; SIGHUP ends it
#   sig_top_json_SIG      msmvmtop --json: exit 0, a last object after the signal, A exact
#   sig_top_batch_SIG     msmvmtop -b: exit 0, a last whole frame after the signal, its binds
#                         between A + B's binds logged before the signal and A + B's total
#   sig_top_screen_SIG    msmvmtop on a terminal (tmux): exit 0, the terminal restored (stty)
#   sig_alert_*           msmvm-alert: SIGUSR1 said and survived, SIGHUP re-read and survived,
#                         the metrics then still equal A's; SIGTERM and SIGPIPE end it, exit 0
#   epipe_*               `| head -1` on msmvm-stat (text, JSON, --replay) and msmvmtop -b:
#                         exit 0, nothing on stderr but the "attached" line
#   stdout_full_stat      stdout on /dev/full: exit 1, the error named
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
STAT=$(realpath "$B/msmvm-stat")
TOP=$(realpath "$B/msmvmtop")
TRACE=$(realpath "$B/msmvm-trace")
ALERT=$(realpath "$B/msmvm-alert")
CHECK=$(realpath "$B/tests/test_trace")
. tests/lib.sh	# pass, fail, stat_compare

if [ "$(id -u)" -ne 0 ]; then
  echo "skip signals # needs root to attach uprobes"
  exit 0
fi
for c in jq protoc tmux; do
  command -v $c >/dev/null || { echo "skip signals # $c is not installed (tools/deps.sh)"; exit 0; }
done

tmp=$(mktemp -d)
bg_pids=()	# the groups below, killed by pid at exit (each kills what it starts)
cleanup() {
  local p
  for p in "${bg_pids[@]}" $(cat "$tmp"/*/pids 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  tmux kill-session -t "sigtest-$$" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# Within a group: $d its directory, $s its copy of the model (uprobes bind to the inode).
# Every pid a group starts goes into its pids file (track), killed at exit if still there.
track() { echo "$1" >>"$d/pids"; }
untrack() { sed -i "/^$1\$/d" "$d/pids"; }
reap() { kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; untrack "$1"; }

# wait_file FILE PATTERN: up to 30 s for PATTERN (grep -E) in FILE
wait_file() {
  local i
  for ((i = 0; i < 300; i++)); do
    grep -qE -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# wait_exit PID: its exit status (up to 30 s; then killed: 124)
wait_exit() {
  local i
  for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$1" 2>/dev/null; then
      wait "$1"
      local rc=$?
      untrack "$1"
      return $rc
    fi
    sleep 0.1
  done
  reap "$1"
  return 124
}

# run_a SEED: run A to its end, its summary in $d/A.json
run_a() {
  "$s" run -w mixed -P 2 -n 150 --rate 400 --seed "$1" -o "$d/A.json" 2>/dev/null
}
# start_b: run B in the background (b_pid), once it has bound; stop_b: its end, summary $d/B.json
start_b() {
  : >"$d/B.log"
  "$s" run -w sparse -P 1 --rate 100 -d 120 --seed 5 --log "$d/B.log" -o "$d/B.json" 2>/dev/null &
  b_pid=$!; track $b_pid
  wait_file "$d/B.log" '"ev"'
}
stop_b() { kill -TERM "$b_pid" 2>/dev/null; wait "$b_pid" 2>/dev/null; untrack "$b_pid"; b_pid=; }

# A's processes against a msmvmtop JSON frame (on stdin): one line per mismatch
TOP_CMP='
  ["binds","ops","errors","pages_counted","pages_used","pages_overcount","waits",
   "interrupted_waits","in_flight","drift"] as $exact
  | . as $f | $a[0].processes[] as $p
  | ([$f.processes[] | select(.pid == $p.pid)] | first) as $t
  | if $t == null then "process \($p.pid) missing"
    else ($exact[] as $k | select($t.totals[$k] != $p.totals[$k])
          | "process \($p.pid) \($k): msmvmtop \($t.totals[$k]), model \($p.totals[$k])")
    end'

# --- msmvm-stat ---
group_stat() {
  local sig rc n=0 bad
  for sig in HUP USR1 PIPE TERM INT; do
    n=$((n + 1))
    : >"$d/err"
    "$STAT" --sim="$s" --json >"$d/out" 2>"$d/err" &
    local pid=$!; track $pid
    if ! wait_file "$d/err" attached; then
      fail "sig_stat_$sig" "did not attach" "$(cat "$d/err")"; reap $pid; continue
    fi
    run_a $((100 + n))
    start_b
    kill -"$sig" $pid
    wait_exit $pid; rc=$?
    stop_b
    bad=$(tail -n 1 "$d/out" | jq -r 'select(.type != "final") | "the last line is no final report"' 2>&1)
    [ -z "$bad" ] && bad=$(stat_compare "$d/out" "$d/A.json" model processes)
    if [ $rc = 0 ] && [ -z "$bad" ] && [ "$(wc -l <"$d/err")" = 1 ]; then
      pass "sig_stat_$sig" "exit 0, final report: run A's $(jq '.totals.binds' "$d/A.json") binds exact"
    else
      fail "sig_stat_$sig" "exit $rc" "$bad" "$(cat "$d/err")" "$(tail -c 300 "$d/out")"
    fi
  done

  # a reader gone: `| head -1`, quietly, exit 0 (not 141)
  local mode
  for mode in text json; do
    : >"$d/err"
    if [ $mode = json ]; then
      "$STAT" --sim="$s" --json 0.1 2>"$d/err" | head -1 >"$d/head"
    else
      "$STAT" --sim="$s" 0.1 2>"$d/err" | head -1 >"$d/head"
    fi
    rc=${PIPESTATUS[0]}
    if [ "$rc" = 0 ] && [ "$(wc -l <"$d/head")" = 1 ] && [ "$(wc -l <"$d/err")" = 1 ] &&
       grep -q attached "$d/err"; then
      pass "epipe_stat_$mode" "exit 0, stderr: the attached line alone"
    else
      fail "epipe_stat_$mode" "exit $rc" "$(cat "$d/err")" "$(cat "$d/head")"
    fi
  done

  # stdout that cannot be written: said, exit 1
  "$STAT" --sim="$s" -d 0.3 >/dev/full 2>"$d/err"; rc=$?
  if [ $rc = 1 ] && grep -q 'msmvm-stat: writing to standard output: No space left on device' "$d/err"; then
    pass stdout_full_stat "exit 1: $(grep 'standard output' "$d/err")"
  else
    fail stdout_full_stat "exit $rc" "$(cat "$d/err")"
  fi
}

# --- msmvm-trace ---
# trace_ok FILE: whole, trace rules kept, final stats, its replay = run A (else why, on stdout)
trace_ok() {
  local f=$1 size whole
  size=$(stat -c %s "$f" 2>/dev/null || echo 0)
  whole=$("$CHECK" complete "$f" 2>&1)
  [ "$whole" = "$size" ] && [ "$size" -gt 0 ] || { echo "$size bytes, $whole in whole packets"; return; }
  protoc --decode=perfetto.protos.Trace -I tests tests/trace.proto <"$f" >"$f.txt" 2>"$f.perr" ||
    { echo "protoc: $(head -c 300 "$f.perr")"; return; }
  # (--allow-open: B's jobs in flight when the signal came are written begun, never ended)
  "$CHECK" check --allow-open "$f.txt" >"$f.chk" 2>"$f.cerr" ||
    { echo "trace rules: $(head -c 300 "$f.cerr")"; return; }
  [ "$(jq '.stats.events_recorded // -1' "$f.chk")" -gt 0 ] || { echo "no final stats"; return; }
  "$STAT" --replay "$f" --json >"$f.replay" 2>"$f.rerr" || { echo "replay: $(cat "$f.rerr")"; return; }
  stat_compare "$f.replay" "$d/A.json" model processes
}

group_trace() {
  local sig rc n=0 bad f
  for sig in HUP USR1 PIPE TERM; do
    n=$((n + 1))
    f=$d/$sig.perfetto-trace
    : >"$d/err"
    "$TRACE" --sim="$s" -o "$f" 2>"$d/err" &
    local pid=$!; track $pid
    if ! wait_file "$d/err" attached; then
      fail "sig_trace_$sig" "did not attach" "$(cat "$d/err")"; reap $pid; continue
    fi
    run_a $((200 + n))
    start_b
    kill -"$sig" $pid
    wait_exit $pid; rc=$?
    stop_b
    bad=$(trace_ok "$f")
    if [ $rc = 0 ] && [ -z "$bad" ] && grep -q "msmvm-trace: $f: [0-9]* events" "$d/err"; then
      pass "sig_trace_$sig" "exit 0, $(stat -c %s "$f") bytes whole, final stats, replay = run A"
    else
      fail "sig_trace_$sig" "exit $rc" "$bad" "$(cat "$d/err")"
    fi
  done

  # the flight recorder: SIGUSR1 is its "write now" (recording goes on), SIGHUP ends it
  f=$d/ring.perfetto-trace
  : >"$d/err"
  "$TRACE" --sim="$s" --ring 30 -o "$f" 2>"$d/err" &
  local pid=$!; track $pid
  if wait_file "$d/err" attached; then
    run_a 250
    kill -USR1 $pid
    if wait_file "$d/err" "ring-1.perfetto-trace: [0-9]+ events" && kill -0 $pid 2>/dev/null &&
       [ -z "$(trace_ok "$d/ring-1.perfetto-trace")" ]; then
      pass sig_trace_ring_usr1_dumps_and_goes_on "ring-1 whole, replay = run A, still recording"
    else
      fail sig_trace_ring_usr1_dumps_and_goes_on "$(trace_ok "$d/ring-1.perfetto-trace")" "$(cat "$d/err")"
    fi
    start_b
    kill -HUP $pid
    wait_exit $pid; rc=$?
    stop_b
    bad=$(trace_ok "$f")
    if [ $rc = 0 ] && [ -z "$bad" ]; then
      pass sig_trace_ring_hup_ends "exit 0, the window written whole"
    else
      fail sig_trace_ring_hup_ends "exit $rc" "$bad" "$(cat "$d/err")"
    fi
  else
    fail sig_trace_ring "did not attach" "$(cat "$d/err")"; reap $pid
  fi

  # a reader of --replay gone (before it writes: its report fits in a pipe's buffer, so
  # `| head -1` would not be gone in time): exit 0, nothing said
  rm -f "$d/fifo"; mkfifo "$d/fifo"
  exec {r}<>"$d/fifo"		# read-write: opening the write end below does not block
  exec {w}>"$d/fifo"
  exec {r}<&-			# no reader left: every write to $w is EPIPE
  "$STAT" --replay "$d/TERM.perfetto-trace" -P 2>"$d/err" >&$w
  rc=$?
  exec {w}>&-
  if [ "$rc" = 0 ] && [ ! -s "$d/err" ]; then
    pass epipe_stat_replay "exit 0, nothing on stderr"
  else
    fail epipe_stat_replay "exit $rc" "$(cat "$d/err")"
  fi
}

# --- msmvmtop ---
group_top() {
  local sig rc n=0 bad frames_before frames_after last logged pid
  for sig in HUP USR1 PIPE TERM; do
    n=$((n + 1))
    : >"$d/out"
    "$TOP" --sim="$s" --json -d 0.3 >"$d/out" 2>"$d/err" &
    pid=$!; track $pid
    if ! wait_file "$d/out" '"type":"frame"'; then
      fail "sig_top_json_$sig" "no first frame" "$(cat "$d/err")"; reap $pid; continue
    fi
    run_a $((300 + n))
    start_b
    frames_before=$(wc -l <"$d/out")
    kill -"$sig" $pid
    wait_exit $pid; rc=$?
    stop_b
    frames_after=$(wc -l <"$d/out")
    bad=$(tail -n 1 "$d/out" | jq -r --slurpfile a "$d/A.json" "$TOP_CMP" 2>&1)
    if [ $rc = 0 ] && [ "$frames_after" -gt "$frames_before" ] && [ -z "$bad" ] && [ ! -s "$d/err" ]; then
      pass "sig_top_json_$sig" "exit 0, a last frame; run A's processes exact"
    else
      fail "sig_top_json_$sig" "exit $rc, frames $frames_before then $frames_after" "$bad" "$(cat "$d/err")"
    fi
  done

  for sig in HUP TERM; do
    : >"$d/out"
    "$TOP" --sim="$s" -b -d 0.3 >"$d/out" 2>"$d/err" &
    pid=$!; track $pid
    if ! wait_file "$d/out" '^totals:'; then
      fail "sig_top_batch_$sig" "no first frame" "$(cat "$d/err")"; reap $pid; continue
    fi
    run_a $((310 + n))
    start_b
    frames_before=$(grep -c '^totals:' "$d/out")
    logged=$(grep -c '"ev":"bind"' "$d/B.log")
    kill -"$sig" $pid
    wait_exit $pid; rc=$?
    stop_b
    frames_after=$(grep -c '^totals:' "$d/out")
    last=$(grep '^totals:' "$d/out" | tail -1 | awk '{for (i = 2; i < NF; i += 2) if ($i == "binds") print $(i + 1)}')
    local a_binds b_binds
    a_binds=$(jq .totals.binds "$d/A.json"); b_binds=$(jq .totals.binds "$d/B.json")
    # a frame ends with its table and a blank line
    if [ $rc = 0 ] && [ "$frames_after" -gt "$frames_before" ] && [ -z "$(tail -n 1 "$d/out")" ] &&
       [ -n "$last" ] && [ "$last" -ge $((a_binds + logged)) ] && [ "$last" -le $((a_binds + b_binds)) ] &&
       [ ! -s "$d/err" ]; then
      pass "sig_top_batch_$sig" "exit 0, a last whole frame: binds $last in [$((a_binds + logged)), $((a_binds + b_binds))]"
    else
      fail "sig_top_batch_$sig" "exit $rc, frames $frames_before then $frames_after, binds '$last' (A $a_binds, B logged $logged, B total ${b_binds:-?})" \
        "$(cat "$d/err")" "$(tail -5 "$d/out")"
    fi
  done

  : >"$d/err"
  "$TOP" --sim="$s" -b -d 0.1 2>"$d/err" | head -1 >"$d/head"
  rc=${PIPESTATUS[0]}
  if [ "$rc" = 0 ] && [ "$(wc -l <"$d/head")" = 1 ] && [ ! -s "$d/err" ]; then
    pass epipe_top_batch "exit 0, nothing on stderr"
  else
    fail epipe_top_batch "exit $rc" "$(cat "$d/err")"
  fi

  # on a terminal: the signal ends it, the terminal comes back as it was (cooked, echo)
  local sess=sigtest-$$ shell
  for sig in HUP TERM USR1; do
    rm -f "$d/rc" "$d/stty"
    tmux kill-session -t "$sess" 2>/dev/null
    tmux new-session -d -s "$sess" -x 120 -y 40 \
      "stty -a >$d/stty0; $TOP --sim=$s -d 0.3; echo \$? >$d/rc; stty -a >$d/stty; sleep 60"
    shell=$(tmux display-message -p -t "$sess" '#{pane_pid}')
    pid=
    for ((i = 0; i < 300; i++)); do
      pid=$(pgrep -P "$shell" -x msmvmtop)
      [ -n "$pid" ] && tmux capture-pane -p -t "$sess" | grep -q 'msmvmtop  every' && break
      sleep 0.1
    done
    if [ -z "$pid" ]; then
      fail "sig_top_screen_$sig" "msmvmtop did not draw" "$(tmux capture-pane -p -t "$sess" | head -5)"
      continue
    fi
    kill -"$sig" "$pid"
    wait_file "$d/stty" 'echo'
    if [ "$(cat "$d/rc" 2>/dev/null)" = 0 ] && grep -qw icanon "$d/stty" && grep -qw echo "$d/stty" &&
       [ "$(tr -s ' ' <"$d/stty" | grep -o -- '-\?\(icanon\|echo\|isig\|icrnl\|opost\)\b' | sort | tr '\n' ' ')" = \
         "$(tr -s ' ' <"$d/stty0" | grep -o -- '-\?\(icanon\|echo\|isig\|icrnl\|opost\)\b' | sort | tr '\n' ' ')" ]; then
      pass "sig_top_screen_$sig" "exit 0, the terminal's modes as before"
    else
      fail "sig_top_screen_$sig" "exit $(cat "$d/rc" 2>/dev/null)" "$(grep -o -- '-\?icanon\|-\?echo\b' "$d/stty" 2>/dev/null | tr '\n' ' ')"
    fi
    tmux kill-session -t "$sess" 2>/dev/null
  done
}

# --- msmvm-alert ---
# metrics_binds FILE PID: msmvm_binds_total of one process in a textfile
metrics_binds() {
  awk -v p="pid=\"$2\"" 'index($0, "msmvm_binds_total{") == 1 && index($0, p) {s += $NF} END {print s + 0}' "$1"
}
group_alert() {
  local rc pid bad sig
  : >"$d/err"
  "$ALERT" --sim="$s" --stall 100/1000 --textfile "$d/m.prom" >"$d/out" 2>"$d/err" &
  pid=$!; track $pid
  if ! wait_file "$d/err" watching; then
    fail sig_alert_start "did not start" "$(cat "$d/err")"; reap $pid; return
  fi
  start_b
  kill -USR1 $pid
  wait_file "$d/err" 'SIGUSR1: nothing to do'; rc=$?
  if [ $rc = 0 ] && kill -0 $pid 2>/dev/null; then
    pass sig_alert_usr1_survives "$(grep SIGUSR1 "$d/err")"
  else
    fail sig_alert_usr1_survives "$(kill -0 $pid 2>/dev/null && echo alive || echo dead)" "$(cat "$d/err")"
  fi
  kill -HUP $pid
  wait_file "$d/err" 'SIGHUP: settings re-read'; rc=$?
  if [ $rc = 0 ] && kill -0 $pid 2>/dev/null; then
    pass sig_alert_hup_rereads_and_survives
  else
    fail sig_alert_hup_rereads_and_survives "$(kill -0 $pid 2>/dev/null && echo alive || echo dead)" "$(cat "$d/err")"
  fi
  stop_b
  # still counting after both: run A's processes in the metrics, exactly
  run_a 401
  bad=
  for ((i = 0; i < 300; i++)); do
    bad=
    for p in $(jq '.processes[].pid' "$d/A.json"); do
      want=$(jq --argjson p "$p" '.processes[] | select(.pid == $p) | .totals.binds' "$d/A.json")
      got=$(metrics_binds "$d/m.prom" "$p")
      [ "$got" = "$want" ] || bad+="pid $p: msmvm_binds_total $got, model $want; "
    done
    [ -z "$bad" ] && break
    sleep 0.1
  done
  if [ -z "$bad" ]; then pass sig_alert_counts_after_usr1_and_hup "run A's binds exact"; else
    fail sig_alert_counts_after_usr1_and_hup "$bad"; fi
  for sig in TERM PIPE; do
    if [ $sig = PIPE ]; then
      : >"$d/err"
      "$ALERT" --sim="$s" --stall 100/1000 --textfile "$d/m.prom" >"$d/out" 2>"$d/err" &
      pid=$!; track $pid
      wait_file "$d/err" watching
      start_b
    fi
    kill -$sig $pid
    wait_exit $pid; rc=$?
    [ $sig = PIPE ] && stop_b
    if [ $rc = 0 ] && [ "$(grep -cv '^msmvm-alert: ' "$d/err")" = 0 ]; then
      pass "sig_alert_${sig,,}_ends" "exit 0"
    else
      fail "sig_alert_${sig,,}_ends" "exit $rc" "$(cat "$d/err")"
    fi
  done
}

for g in stat trace top alert; do
  mkdir -p "$tmp/$g"
  cp "$B/msmvm-sim" "$tmp/$g/msmvm-sim"
  (d=$tmp/$g; s=$d/msmvm-sim; b_pid=; "group_$g") >"$tmp/out-$g" 2>&1 &
  bg_pids+=("$!")
done
wait
cat "$tmp"/out-{stat,trace,top,alert}
