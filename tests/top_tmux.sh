#!/usr/bin/env bash
# msmvmtop, driven for real: in tmux (send-keys, capture-pane) against a running model, and
# in batch and JSON modes over fixed-seed runs whose totals must equal the model's summary.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
TOP=$(realpath "$B/msmvmtop")

if [ "$(id -u)" -ne 0 ]; then
  echo "skip msmvmtop # needs root to attach uprobes"
  exit 0
fi
tmp=$(mktemp -d)
sess=msmvmtop-test-$$
model=
cleanup() {
  tmux kill-session -t "$sess" 2>/dev/null
  tmux kill-session -t "$sess-small" 2>/dev/null
  [ -n "$model" ] && kill "$model" 2>/dev/null && wait "$model" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
cp "$B/msmvm-sim" "$tmp/msmvm-sim"	# a private inode: only these runs are probed
SIM=$tmp/msmvm-sim

pass() { echo "ok $1${2:+ # $2}"; }
fail() { echo "not ok $1"; shift; for l in "$@"; do echo "#   $l"; done; }
screen() { tmux capture-pane -p -t "$1"; }
# wait_screen SESSION PATTERN: up to 10 s for PATTERN (grep -E) on the screen
wait_screen() {
  for _ in $(seq 50); do screen "$1" | grep -qE "$2" && return 0; sleep 0.2; done
  return 1
}

# --- interactive, against a model that keeps running ---
"$SIM" run -w mixed -P 3 --rate 200 -d 120 --job-cost 500 -o "$tmp/bg.json" 2>/dev/null &
model=$!
sleep 0.5
children=$(pgrep -P "$model" | tr '\n' ' ')
tmux new-session -d -s "$sess" -x 120 -y 40 "$TOP --sim=$SIM -d 0.5; echo \$? > $tmp/rc; sleep 30"

# 1. the model's pids appear, with non-zero BINDS/s
ok=1
for pid in $children; do
  wait_screen "$sess" "^ +$pid +[^ ]+ +[0-9]+ +[1-9]" || ok=0
done
if [ "$ok" = 1 ] && [ -n "$children" ]; then
  pass top_shows_model_pids_with_binds "pids $children"
else
  fail top_shows_model_pids_with_binds "pids: $children" "$(screen "$sess" | head -20)"
fi

# 2. sorting: by PID (three columns left of BINDS/s), then reversed: the order changes
tmux send-keys -t "$sess" '<' '<' '<'
wait_screen "$sess" "sort PID desc" || true
order_desc=$(screen "$sess" | awk -v p=" $children " '$1 ~ /^[0-9]+$/ && index(p, " " $1 " ") {print $1}' | tr '\n' ' ')
tmux send-keys -t "$sess" r
wait_screen "$sess" "sort PID asc" || true
sleep 0.7
order_asc=$(screen "$sess" | awk -v p=" $children " '$1 ~ /^[0-9]+$/ && index(p, " " $1 " ") {print $1}' | tr '\n' ' ')
want_desc=$(printf '%s\n' $children | sort -rn | tr '\n' ' ')
want_asc=$(printf '%s\n' $children | sort -n | tr '\n' ' ')
if [ "$order_desc" = "$want_desc" ] && [ "$order_asc" = "$want_asc" ] && [ "$order_desc" != "$order_asc" ]; then
  pass top_sort_changes_order "desc: $order_desc asc: $order_asc"
else
  fail top_sort_changes_order "desc '$order_desc' (want '$want_desc')" "asc '$order_asc' (want '$want_asc')"
fi

# 3. the detail view draws histogram bars
tmux send-keys -t "$sess" Enter
if wait_screen "$sess" "wait latency" && wait_screen "$sess" "<= +[0-9.]+[a-z]* +[0-9]+ +(▒|#)"; then
  pass top_detail_view_histograms
else
  fail top_detail_view_histograms "$(screen "$sess" | tail -25)"
fi

# 4. q: exit status 0, and no probe left behind
top_pid=$(pgrep -f "^$TOP --sim=$SIM -d 0.5" | head -1)
cat /proc/"$top_pid"/fdinfo/* 2>/dev/null | sed -n 's/^prog_id:[[:space:]]*//p' >"$tmp/prog_ids"
tmux send-keys -t "$sess" q
for _ in $(seq 50); do [ -s "$tmp/rc" ] && break; sleep 0.1; done
# the programs it loaded (ids noted from its fds while it ran) are gone
left=$(bpftool -j prog show 2>/dev/null | jq --slurpfile ids <(sort -u "$tmp/prog_ids" | jq -R 'tonumber' 2>/dev/null) \
       '[.[] | select(.id as $i | $ids | index($i))] | length')
if [ "$(cat "$tmp/rc" 2>/dev/null)" = 0 ] && [ -s "$tmp/prog_ids" ] && [ "$left" -eq 0 ]; then
  pass top_quit_status_0_no_probe_left
else
  fail top_quit_status_0_no_probe_left "status '$(cat "$tmp/rc" 2>/dev/null)', $left of its programs still loaded"
fi

# 5. a 40x12 terminal still shows the process rows
tmux new-session -d -s "$sess-small" -x 40 -y 12 "$TOP --sim=$SIM -d 0.5; sleep 30"
ok=1
for pid in $children; do wait_screen "$sess-small" "^ +$pid " || ok=0; done
if [ "$ok" = 1 ]; then
  pass top_small_terminal_keeps_process_rows
else
  fail top_small_terminal_keeps_process_rows "$(screen "$sess-small")"
fi
tmux send-keys -t "$sess-small" q
kill "$model" 2>/dev/null; wait "$model" 2>/dev/null; model=

# --- batch and JSON over fixed-seed runs ---
exact='binds ops errors pages_counted pages_used pages_overcount waits interrupted_waits peak_in_flight in_flight drift'

# run_mode ARGS...: top in that mode during a fixed-seed run; leaves $tmp/out
run_mode() {
  local top_pid
  "$TOP" --sim="$SIM" -d 0.3 "$@" >"$tmp/out" 2>"$tmp/err" &
  top_pid=$!
  # the first frame comes once it has attached: seconds on a loaded machine
  for _ in $(seq 300); do [ -s "$tmp/out" ] && break; sleep 0.1; done
  "$SIM" run -w storm -P 2 --queues 2 -n 60 --seed 21 -o "$tmp/sum.json" 2>/dev/null
  sleep 0.8
  kill -TERM "$top_pid"
  wait "$top_pid"
}

run_mode --json
rc=$?
problems=()
[ "$rc" -eq 0 ] || problems+=("exit status $rc: $(head -c 300 "$tmp/err")")
while IFS= read -r line; do
  printf '%s' "$line" | jq -e . >/dev/null 2>&1 || { problems+=("invalid JSON line: ${line:0:80}"); break; }
done <"$tmp/out"
last=$(tail -n 1 "$tmp/out")
for k in $exact; do
  a=$(printf '%s' "$last" | jq ".totals.$k"); b=$(jq ".totals.$k" "$tmp/sum.json")
  [ "$a" = "$b" ] || problems+=("$k: msmvmtop $a, model $b")
done
if [ ${#problems[@]} -eq 0 ]; then
  pass top_json_totals_equal_model "$(wc -l <"$tmp/out") frames"
else
  fail top_json_totals_equal_model "${problems[@]}"
fi

run_mode -b
rc=$?
problems=()
[ "$rc" -eq 0 ] || problems+=("exit status $rc")
last=$(grep '^totals:' "$tmp/out" | tail -n 1)
for k in $exact; do
  a=$(printf '%s\n' "$last" | awk -v k="$k" '{for (i = 2; i < NF; i += 2) if ($i == k) print $(i + 1)}')
  b=$(jq ".totals.$k" "$tmp/sum.json")
  [ "$a" = "$b" ] || problems+=("$k: msmvmtop $a, model $b")
done
grep -q 'PID COMM' "$tmp/out" || problems+=("no process table")
if [ ${#problems[@]} -eq 0 ]; then
  pass top_batch_totals_equal_model
else
  fail top_batch_totals_equal_model "${problems[@]}" "last: $last"
fi

# JSON cut short by SIGTERM in the middle of a run: still only whole, valid lines
"$TOP" --sim="$SIM" -d 0.2 --json >"$tmp/cut" 2>/dev/null &
top_pid=$!
sleep 0.3
"$SIM" run -w storm -P 2 -d 3 --seed 22 -o /dev/null 2>/dev/null &
sim_pid=$!
sleep 1.3
kill -TERM "$top_pid"; wait "$top_pid"; rc=$?
wait "$sim_pid"
bad=$(while IFS= read -r l; do printf '%s' "$l" | jq -e . >/dev/null 2>&1 || echo x; done <"$tmp/cut" | wc -l)
if [ "$rc" -eq 0 ] && [ "$bad" -eq 0 ] && [ -s "$tmp/cut" ]; then
  pass top_json_valid_after_sigterm "$(wc -l <"$tmp/cut") lines"
else
  fail top_json_valid_after_sigterm "status $rc, $bad invalid lines"
fi

# usage errors
"$TOP" --bogus >/dev/null 2>&1; a=$?
"$TOP" -n 3 >/dev/null 2>&1; b=$?
"$TOP" -d 0 >/dev/null 2>&1; c=$?
if [ "$a" = 2 ] && [ "$b" = 2 ] && [ "$c" = 2 ]; then
  pass top_usage_errors_exit_2
else
  fail top_usage_errors_exit_2 "--bogus $a, -n without -b $b, -d 0 $c"
fi
if [ ! -e /sys/module/msm ]; then
  "$TOP" -b -n 1 >/dev/null 2>"$tmp/err"; rc=$?
  if [ "$rc" = 1 ] && grep -q -- '--sim' "$tmp/err"; then
    pass top_no_driver_says_so
  else
    fail top_no_driver_says_so "status $rc: $(cat "$tmp/err")"
  fi
fi
