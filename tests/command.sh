#!/usr/bin/env bash
# A command run under the tools (-- CMD, -c CMD), end to end on the model: the probes are
# attached before the command starts and watch its whole process tree, so what they count
# is exactly what the model's own summary (its stdout) says, per process too; the tool ends
# when the command exits and says how it ended; errors before anything is attached (a
# command not found: 1; -p or -c with --: 2); SIGINT to the tool goes on to the command.
# Without --sim and with no msm driver loaded, the model given as the command is the target
# (said on stderr): the acceptance run below gives no --sim.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
B=${BUILD:-build}
STAT=$B/msmvm-stat
TRACE=$B/msmvm-trace
TOP=$B/msmvmtop
ALERT=$B/msmvm-alert
SIM=$B/msmvm-sim
CHECK=$B/tests/test_trace

if [ "$(id -u)" -ne 0 ]; then
  echo "skip command # needs root to attach uprobes"
  exit 0
fi
tmp=$(mktemp -d)
tool_pid=
sess=
cleanup() {
  [ -n "$tool_pid" ] && kill -9 "$tool_pid" 2>/dev/null
  [ -n "$sess" ] && tmux kill-session -t "$sess" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
. tests/lib.sh

failed=0
# the driver's presence decides whether the model is taken for the target without --sim
no_driver=1
[ -e /sys/module/msm ] || [ -e /sys/module/msm_kmodel ] && no_driver=0

# split OUT SUM STAT: msmvm-stat --json's stdout with the model's summary before its final
# line (the tool's final report comes after the command's output)
split() {
  head -n -1 "$1" >"$2"
  tail -n 1 "$1" >"$3"
}

# valid FILE: protoc decodes it and it keeps trace_processor's rules (tests/trace_sim.sh)
valid() {
  command -v protoc >/dev/null || return 0
  protoc --decode=perfetto.protos.Trace -I tests tests/trace.proto <"$1" >"$1.txt" 2>"$1.perr" &&
    "$CHECK" check --trace "$1" "$1.txt" >"$1.chk" 2>"$1.cerr"
}

# --- the acceptance run: msmvm-trace -- the model, no --sim; every bind recorded
rm -f "$tmp/t.perfetto-trace"
"$TRACE" -o "$tmp/t.perfetto-trace" -- "$SIM" run -w sparse -P 2 -n 600 \
  >"$tmp/sum.json" 2>"$tmp/trace.err"
rc=$?
"$STAT" --replay "$tmp/t.perfetto-trace" --json >"$tmp/replay.json" 2>"$tmp/replay.err"
diffs=$(stat_compare "$tmp/replay.json" "$tmp/sum.json" model)
if [ $rc -ne 0 ] || [ -n "$diffs" ] || ! jq -e '.totals.binds == 1200' "$tmp/sum.json" >/dev/null; then
  fail command_trace_model "msmvm-trace exit $rc" "$diffs" "$(cat "$tmp/trace.err" "$tmp/replay.err")"
else
  pass command_trace_model "$(jq -c '.totals | {binds, ops, pages_counted, pages_used, waits}' "$tmp/replay.json") = the model's"
fi
if ! grep -qx "msmvm-trace: $SIM exited with status 0" "$tmp/trace.err"; then
  fail command_trace_says_exit "$(cat "$tmp/trace.err")"
elif [ $no_driver = 1 ] && [ "$(grep -c "is the msmvm-sim model: watching it" "$tmp/trace.err")" != 1 ]; then
  fail command_trace_says_exit "no one line saying the model is the target:" "$(cat "$tmp/trace.err")"
else
  pass command_trace_says_exit
fi
if valid "$tmp/t.perfetto-trace"; then
  pass command_trace_valid
else
  fail command_trace_valid "$(cat "$tmp/t.perfetto-trace".{perr,cerr} 2>/dev/null)"
fi

# --- msmvm-stat -- a storm of two processes: totals and each process exactly, no others
"$STAT" --json -- "$SIM" run -w storm -P 2 -n 200 >"$tmp/out" 2>"$tmp/stat.err"
rc=$?
split "$tmp/out" "$tmp/sum.json" "$tmp/stat.json"
diffs=$(stat_compare "$tmp/stat.json" "$tmp/sum.json" model)
pids_stat=$(jq -c '[.processes[].pid] | sort' "$tmp/stat.json" 2>/dev/null)
pids_sum=$(jq -c '[.processes[].pid] | sort' "$tmp/sum.json" 2>/dev/null)
if [ $rc -ne 0 ] || [ -n "$diffs" ] || [ "$pids_stat" != "$pids_sum" ] || [ -z "$pids_sum" ]; then
  fail command_stat_storm "msmvm-stat exit $rc; processes $pids_stat, model $pids_sum" "$diffs" \
    "$(cat "$tmp/stat.err")"
else
  pass command_stat_storm "processes $pids_sum, $(jq -c '.totals | {binds, pages_counted, waits}' "$tmp/stat.json")"
fi
if jq -e --argjson n "$(jq '.processes | length' "$tmp/sum.json")" \
  '.command.exit_status == 0 and .command.signal == null and .command.argv[3] == "storm"
   and ([.processes[] | select(.totals.binds > 0)] | length) == $n' "$tmp/stat.json" >/dev/null; then
  pass command_stat_json_status
else
  fail command_stat_json_status "$(jq -c .command "$tmp/stat.json" 2>&1)"
fi

# --- -c: one string, split into words
"$STAT" --json -c "$SIM run -w sparse -P 2 -n 100 --seed 7" >"$tmp/out" 2>"$tmp/stat.err"
rc=$?
split "$tmp/out" "$tmp/sum.json" "$tmp/stat.json"
diffs=$(stat_compare "$tmp/stat.json" "$tmp/sum.json" model)
if [ $rc -ne 0 ] || [ -n "$diffs" ] || ! jq -e '.seed == 7 and .totals.binds == 200' "$tmp/sum.json" >/dev/null; then
  fail command_dash_c "exit $rc" "$diffs" "$(cat "$tmp/stat.err")"
else
  pass command_dash_c
fi

# --- errors, said before anything is attached
for t in "$STAT" "$TRACE -o $tmp/x" "$TOP -b" "$ALERT --drift 1"; do
  name=$(basename "${t%% *}")
  $t -- msmvm-no-such-command-here >/dev/null 2>"$tmp/e"
  rc=$?
  if [ $rc -ne 1 ] || ! grep -q "cannot run 'msmvm-no-such-command-here': command not found" "$tmp/e" ||
    grep -q attached "$tmp/e"; then
    fail "command_not_found_$name" "exit $rc (want 1)" "$(cat "$tmp/e")"
  else
    pass "command_not_found_$name"
  fi
done
printf 'not executable\n' >"$tmp/plain"
"$STAT" -c "$tmp/plain" >/dev/null 2>"$tmp/e"
rc=$?
if [ $rc -ne 1 ] || ! grep -q "cannot run '$tmp/plain': Permission denied" "$tmp/e"; then
  fail command_not_executable "exit $rc" "$(cat "$tmp/e")"
else
  pass command_not_executable
fi
"$STAT" -p 1 -- true >/dev/null 2>"$tmp/e"
rc=$?
if [ $rc -ne 2 ] || ! grep -q -- "-p PID and a command" "$tmp/e"; then
  fail command_p_with_command "exit $rc (want 2)" "$(cat "$tmp/e")"
else
  pass command_p_with_command
fi
"$TRACE" -o "$tmp/x" -c true -- true >/dev/null 2>"$tmp/e"
rc=$?
if [ $rc -ne 2 ] || ! grep -q -- "-c CMD and -- CMD" "$tmp/e"; then
  fail command_c_and_dashdash "exit $rc (want 2)" "$(cat "$tmp/e")"
else
  pass command_c_and_dashdash
fi
"$STAT" -c "echo a | cat" >/dev/null 2>"$tmp/e"
rc=$?
if [ $rc -ne 2 ] || ! grep -q "needs a shell" "$tmp/e"; then
  fail command_c_shell_syntax "exit $rc (want 2)" "$(cat "$tmp/e")"
else
  pass command_c_shell_syntax
fi

# in a pid namespace of its own the command's pid is not the one the probes see: refused
if unshare -p -f --mount-proc true 2>/dev/null; then
  unshare -p -f --mount-proc "$STAT" --sim="$SIM" -- true >/dev/null 2>"$tmp/e"
  rc=$?
  if [ $rc -ne 1 ] || ! grep -q "a command needs the tool in the initial pid namespace" "$tmp/e"; then
    fail command_pid_namespace "exit $rc (want 1)" "$(cat "$tmp/e")"
  else
    pass command_pid_namespace
  fi
else
  echo "skip command_pid_namespace # unshare -p does not work here"
fi

# --- the command gets the signal state and the fds this shell gives the tool: none of the
# tool's handlers, mask or BPF objects (its fd numbers and signal masks, held to the same
# commands run directly)
direct=$(grep -E '^Sig(Blk|Ign)' /proc/self/status; ls /proc/self/fd | sort -n | tr '\n' ' ')
under=$("$STAT" --sim="$SIM" --json -- grep -E '^Sig(Blk|Ign)' /proc/self/status 2>/dev/null | head -n -1
        "$STAT" --sim="$SIM" --json -- ls /proc/self/fd 2>/dev/null | head -n -1 | sort -n | tr '\n' ' ')
if [ "$under" = "$direct" ]; then
  pass command_inherits_nothing "$(echo $direct)"
else
  fail command_inherits_nothing "run directly: $(echo $direct)" "under msmvm-stat: $(echo $under)"
fi

# --- the command's status is reported, the tool's own stays 0
"$STAT" --sim="$SIM" --json -- sh -c 'exit 3' >"$tmp/out" 2>"$tmp/e"
rc=$?
if [ $rc -ne 0 ] || ! grep -qx "msmvm-stat: sh exited with status 3" "$tmp/e" ||
  ! jq -e '.command.exit_status == 3' "$tmp/out" >/dev/null; then
  fail command_exit_status "exit $rc" "$(cat "$tmp/e" "$tmp/out")"
else
  pass command_exit_status
fi
"$STAT" --sim="$SIM" --json -- sh -c 'kill -TERM $$' >"$tmp/out" 2>"$tmp/e"
rc=$?
if [ $rc -ne 0 ] || ! grep -qx "msmvm-stat: sh was killed by signal 15 (SIGTERM)" "$tmp/e" ||
  ! jq -e '.command.signal == 15 and .command.exit_status == null' "$tmp/out" >/dev/null; then
  fail command_killed_status "exit $rc" "$(cat "$tmp/e" "$tmp/out")"
else
  pass command_killed_status
fi
# exec fails in the child (found, but not a format the kernel runs): its errno comes back
printf '\x7fELF-not-really' >"$tmp/badexe"
chmod +x "$tmp/badexe"
"$STAT" --sim="$SIM" -- "$tmp/badexe" >/dev/null 2>"$tmp/e"
rc=$?
if [ $rc -ne 1 ] || ! grep -q "cannot run '$tmp/badexe': Exec format error" "$tmp/e"; then
  fail command_exec_fails "exit $rc (want 1)" "$(cat "$tmp/e")"
else
  pass command_exec_fails
fi

# --- SIGINT to the tool while the command runs: both end, nothing is lost, the file whole
for tool in trace stat; do
  : >"$tmp/err"
  rm -f "$tmp/s.perfetto-trace"
  if [ $tool = trace ]; then
    "$TRACE" -o "$tmp/s.perfetto-trace" -- "$SIM" run -w sparse -P 2 -n 1000000 \
      >"$tmp/out" 2>"$tmp/err" &
  else
    "$STAT" --json -- "$SIM" run -w sparse -P 2 -n 1000000 >"$tmp/out" 2>"$tmp/err" &
  fi
  tool_pid=$!
  # running: attached, and the model has started its processes
  for _ in $(seq 1200); do
    grep -q attached "$tmp/err" && pgrep -P "$(pgrep -P "$tool_pid" | head -1)" >/dev/null 2>&1 && break
    sleep 0.05
  done
  cmd_pid=$(pgrep -P "$tool_pid" | head -1)
  sleep 0.5
  kill -INT "$tool_pid"
  # generous: the model drains its queues, the tool its ring buffer
  for _ in $(seq 1200); do kill -0 "$tool_pid" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$tool_pid" 2>/dev/null; then
    fail "command_sigint_$tool" "msmvm-$tool did not end within 60 s of SIGINT" "$(cat "$tmp/err")"
    kill -9 "$tool_pid"
    tool_pid=
    continue
  fi
  wait "$tool_pid"
  rc=$?
  tool_pid=
  if [ $tool = trace ]; then
    cp "$tmp/out" "$tmp/sum.json"
    "$STAT" --replay "$tmp/s.perfetto-trace" --json >"$tmp/stat.json" 2>>"$tmp/err"
  else
    split "$tmp/out" "$tmp/sum.json" "$tmp/stat.json"
  fi
  diffs=$(stat_compare "$tmp/stat.json" "$tmp/sum.json" model)
  if [ $rc -ne 0 ] || [ -z "$cmd_pid" ] || kill -0 "$cmd_pid" 2>/dev/null ||
    ! grep -qx "msmvm-$tool: $SIM exited with status 0" "$tmp/err" || [ -n "$diffs" ] ||
    ! jq -e '.totals.binds > 0' "$tmp/sum.json" >/dev/null; then
    fail "command_sigint_$tool" "exit $rc, command pid ${cmd_pid:-none}" "$diffs" "$(cat "$tmp/err")"
  elif [ $tool = trace ] && ! valid "$tmp/s.perfetto-trace"; then
    fail "command_sigint_$tool" "the trace is not valid" "$(cat "$tmp/s.perfetto-trace".{perr,cerr} 2>/dev/null)"
  else
    pass "command_sigint_$tool" "$(jq .totals.binds "$tmp/sum.json") binds before the stop, counted exactly"
  fi
done

# --- -d ends the recording: the command is stopped (SIGTERM) and recorded until it ends
"$TRACE" -d 1 -o "$tmp/d.perfetto-trace" -- "$SIM" run -w storm -P 2 -n 1000000 \
  >"$tmp/sum.json" 2>"$tmp/err"
rc=$?
"$STAT" --replay "$tmp/d.perfetto-trace" --json >"$tmp/stat.json" 2>>"$tmp/err"
diffs=$(stat_compare "$tmp/stat.json" "$tmp/sum.json" model)
if [ $rc -ne 0 ] || [ -n "$diffs" ] || ! grep -qx "msmvm-trace: $SIM exited with status 0" "$tmp/err" ||
  ! jq -e '.totals.binds > 0' "$tmp/sum.json" >/dev/null || ! valid "$tmp/d.perfetto-trace"; then
  fail command_trace_duration "exit $rc" "$diffs" "$(cat "$tmp/err")"
else
  pass command_trace_duration "$(jq .totals.binds "$tmp/sum.json") binds until the stop, all recorded"
fi

# --- msmvmtop -b and msmvm-alert end with the command
timeout 120 "$TOP" -b -d 0.2 -- "$SIM" run -w sparse -P 2 -n 100 >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] || ! grep -qx "msmvmtop: $SIM exited with status 0" "$tmp/err" ||
  ! grep -q '^totals: binds 200 ' "$tmp/out"; then
  fail command_top_batch "exit $rc" "$(tail -5 "$tmp/out")" "$(cat "$tmp/err")"
else
  pass command_top_batch
fi
# the dashboard stays when the command ends, its status line saying how, until q
if command -v tmux >/dev/null; then
  sess=msmvm-command-test-$$
  top_abs=$(realpath "$TOP") sim_abs=$(realpath "$SIM")
  tmux new-session -d -s "$sess" -x 120 -y 40 \
    "$top_abs --sim=$sim_abs -d 0.2 -- sh -c '$sim_abs run -w sparse -P 2 -n 100 >$tmp/top-sum.json' 2>$tmp/top.err; echo \$? >$tmp/top.rc; sleep 60"
  seen=
  for _ in $(seq 300); do
    tmux capture-pane -p -t "$sess" | grep -q "sh exited with status 0 | direct hooks" && { seen=1; break; }
    sleep 0.2
  done
  still=$(tmux capture-pane -p -t "$sess" | grep -c "q quit h help")
  tmux send-keys -t "$sess" q
  for _ in $(seq 100); do [ -s "$tmp/top.rc" ] && break; sleep 0.1; done
  tmux kill-session -t "$sess" 2>/dev/null
  if [ -z "$seen" ] || [ "$still" != 1 ] || [ "$(cat "$tmp/top.rc" 2>/dev/null)" != 0 ] ||
    ! grep -qx "msmvmtop: sh exited with status 0" "$tmp/top.err" ||
    ! jq -e '.totals.binds == 200' "$tmp/top-sum.json" >/dev/null; then
    fail command_top_dashboard "status line seen: ${seen:-no}, exit $(cat "$tmp/top.rc" 2>/dev/null)" \
      "$(cat "$tmp/top.err" 2>/dev/null)"
  else
    pass command_top_dashboard "the status line says the command exited; q ends it"
  fi
else
  echo "skip command_top_dashboard # tmux is not installed"
fi
timeout 120 "$ALERT" --drift 1 -- "$SIM" run -w sparse -P 2 -n 100 >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] || ! grep -qx "msmvm-alert: $SIM exited with status 0" "$tmp/err"; then
  fail command_alert_ends "exit $rc" "$(cat "$tmp/err")"
else
  pass command_alert_ends
fi

exit $((failed > 0))
