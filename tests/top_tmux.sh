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
  tmux kill-session -t "$sess-80" 2>/dev/null
  tmux kill-session -t "$sess-idle" 2>/dev/null
  [ -n "$model" ] && kill "$model" 2>/dev/null && wait "$model" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
cp "$B/msmvm-sim" "$tmp/msmvm-sim"	# a private inode: only these runs are probed
SIM=$tmp/msmvm-sim

pass() { echo "ok $1${2:+ # $2}"; }
fail() { echo "not ok $1"; shift; for l in "$@"; do echo "#   $l"; done; }
screen() { tmux capture-pane -p -t "$1"; }
# wait_screen SESSION PATTERN: up to 30 s (attaching under load) for PATTERN (grep -E) on the screen
wait_screen() {
  for _ in $(seq 150); do screen "$1" | grep -qE "$2" && return 0; sleep 0.2; done
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
for _ in $(seq 300); do [ -s "$tmp/rc" ] && break; sleep 0.1; done
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

# --- 80x24: columns by priority, horizontal scroll, help, pid filter, VM ids ---
# The table's column names (docs/msmvmtop.md): a header word that is not one is a cut header.
colnames=' PID COMM VMS BINDS/s OPS/s PAGES/s IN_FLIGHT WAITS/s WAIT_P50 WAIT_P99 WAIT_MAX OVER% INTR ERR '
header() { screen "$1" | grep -E '^ +PID +COMM' | head -1; }
tmux new-session -d -s "$sess-80" -x 80 -y 24 "$TOP --sim=$SIM -d 0.5; sleep 30"
wait_screen "$sess-80" "^ +PID +COMM" || true

# 6. on 80 columns: whole headers, the sort column shown, and the wait percentiles one →
# at a time away; the sort column stays while scrolling
problems=()
h=$(header "$sess-80")
for w in $h; do
  case $colnames in *" ${w%\*} "*) ;; *) problems+=("cut header '$w' in '$h'") ;; esac
done
case $h in *'BINDS/s*'*) ;; *) problems+=("sort column BINDS/s not in '$h'") ;; esac
case $h in *WAIT_P50*) problems+=("80 columns should not hold every column: '$h'") ;; esac
presses=0
while [ $presses -lt 12 ]; do
  h=$(header "$sess-80")
  case $h in *WAIT_P50*WAIT_P99*) break ;; esac
  tmux send-keys -t "$sess-80" Right
  presses=$((presses + 1))
  # the header changes once the key is taken: wait for that, not for a time
  for _ in $(seq 150); do [ "$(header "$sess-80")" != "$h" ] && break; sleep 0.1; done
done
h=$(header "$sess-80")
case $h in *WAIT_P50*WAIT_P99*) ;; *) problems+=("WAIT_P50/P99 not reached with $presses →: '$h'") ;; esac
case $h in *'BINDS/s*'*) ;; *) problems+=("sort column gone after scrolling: '$h'") ;; esac
for w in $h; do
  case $colnames in *" ${w%\*} "*) ;; *) problems+=("cut header '$w' after scrolling") ;; esac
done
if [ ${#problems[@]} -eq 0 ]; then
  pass top_80cols_scroll_to_percentiles "$presses x →: $h"
else
  fail top_80cols_scroll_to_percentiles "${problems[@]}"
fi

# 7. sorting by WAIT_P99 then scrolling all the way left: the sort column stays in view,
# pinned on the right
tmux send-keys -t "$sess-80" Left Left Left Left Left Left Left Left Left Left Left Left
for _ in $(seq 12); do
  screen "$sess-80" | grep -q "sort WAIT_P99 " && break
  s=$(screen "$sess-80" | head -1)
  tmux send-keys -t "$sess-80" '>'
  for _ in $(seq 150); do [ "$(screen "$sess-80" | head -1)" != "$s" ] && break; sleep 0.1; done
done
wait_screen "$sess-80" "^ +PID +COMM +VMS .*WAIT_P99\*" || true
h=$(header "$sess-80")
case $h in
  *VMS*'WAIT_P99*'*) pass top_sort_column_pinned "$h" ;;
  *) fail top_sort_column_pinned "header '$h' (want VMS ... WAIT_P99* at scroll 0)" ;;
esac
tmux send-keys -t "$sess-80" '<' '<' '<' '<' '<' '<' '<'
wait_screen "$sess-80" "sort BINDS/s " || true

# 8. the help on a clean screen: none of the VM lines or process rows beneath it
tmux send-keys -t "$sess-80" h
wait_screen "$sess-80" "msmvmtop keys" || true
sleep 0.7	# a frame or more drawn with the help up
beneath=$(screen "$sess-80" | grep -E '^VM |binds/s [0-9]+ pages/s|^ +PID +COMM|^ +[0-9]+ +mixed-')
if screen "$sess-80" | grep -q "msmvmtop keys" && [ -z "$beneath" ]; then
  pass top_help_on_clean_screen
else
  fail top_help_on_clean_screen "beneath: $beneath" "$(screen "$sess-80")"
fi
tmux send-keys -t "$sess-80" x
wait_screen "$sess-80" "^VM " || true

# 9. p PID: that process's row and its VMs only; the model's pids are the truth
set -- $children
fpid=$1
tmux send-keys -t "$sess-80" p
wait_screen "$sess-80" "filter by pid" || true
tmux send-keys -t "$sess-80" "$fpid" Enter
wait_screen "$sess-80" "pid filter" || true
sleep 0.7
vm_owners=$(screen "$sess-80" | sed -nE 's/^VM ([0-9]+):[0-9a-f]{6} .*/\1/p' | sort -u | tr '\n' ' ')
row_pids=$(screen "$sess-80" | awk -v p=" $children " '$1 ~ /^[0-9]+$/ && index(p, " " $1 " ") {print $1}' | sort -u | tr '\n' ' ')
if [ "$vm_owners" = "$fpid " ] && [ "$row_pids" = "$fpid " ]; then
  pass top_pid_filter_hides_other_vms "pid $fpid of $children"
else
  fail top_pid_filter_hides_other_vms "filter $fpid: VM owners shown '$vm_owners', rows '$row_pids'" "$(screen "$sess-80")"
fi
tmux send-keys -t "$sess-80" p
wait_screen "$sess-80" "filter by pid" || true
tmux send-keys -t "$sess-80" Enter

# 10. VM ids: PID:last 6 hex digits of the address, one per VM of the model's summary,
# distinct although every process's VM sits at the same address in its own address space
kill -TERM "$model"; wait "$model" 2>/dev/null; model=
want=$(jq -r '.processes[] | .pid as $p | .vms[] | "\($p):\(.addr[-6:])"' "$tmp/bg.json" | sort)
nwant=$(printf '%s\n' "$want" | grep -c .)
got=
for _ in $(seq 150); do
  got=$(screen "$sess-80" | sed -nE 's/^VM ([0-9]+:[0-9a-f]{6}) .*/\1/p' | sort)
  [ "$got" = "$want" ] && break
  sleep 0.2
done
if [ "$got" = "$want" ] && [ "$nwant" -ge 2 ] && [ "$(printf '%s\n' "$want" | sort -u | wc -l)" -eq "$nwant" ]; then
  pass top_vm_ids_distinct "$(echo $want)"
else
  fail top_vm_ids_distinct "want '$(echo $want)'" "got '$(echo $got)'"
fi
tmux send-keys -t "$sess-80" q

# 11. Enter with no process at all: says so (a model binary nothing runs)
cp "$B/msmvm-sim" "$tmp/msmvm-sim-idle"
tmux new-session -d -s "$sess-idle" -x 80 -y 24 "$TOP --sim=$tmp/msmvm-sim-idle -d 0.3; sleep 30"
wait_screen "$sess-idle" "no VM_BIND yet" || true
tmux send-keys -t "$sess-idle" Enter
if wait_screen "$sess-idle" "no process to show" && ! screen "$sess-idle" | grep -q "too small"; then
  pass top_detail_without_process
else
  fail top_detail_without_process "$(screen "$sess-idle")"
fi
tmux send-keys -t "$sess-idle" q


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

# --- rates in a process's first interval, against the model's summary and log ---
# A process that appears during an interval: its counts are all that interval's, so
# binds_s * interval_s is its bind count; where the whole run lies inside the interval, that
# is the model's. Inside: it started after the last frame written before it was launched
# (the process did not exist then), and each bind returned (the model's log, CLOCK_MONOTONIC
# as ts_ns) before the next frame's snapshot.
"$TOP" --sim="$SIM" -d 3 --json >"$tmp/fi" 2>"$tmp/fi.err" &
top_pid=$!
for _ in $(seq 300); do [ -s "$tmp/fi" ] && break; sleep 0.1; done
problems=()
checked=
for try in 1 2 3 4; do
  n0=$(wc -l <"$tmp/fi")	# whole lines: each frame is written and flushed at once
  "$SIM" run -w mixed -P 2 -n 40 --seed $((30 + try)) -o "$tmp/fi.json" --log "$tmp/fi.log" 2>/dev/null
  hi=$(jq -s '[.[] | select(.ev == "bind") | .ts] | max' "$tmp/fi.log")
  # the frame after the run's last bind
  for _ in $(seq 100); do
    [ "$(tail -n 1 "$tmp/fi" | jq '.ts_ns')" -gt "$hi" ] 2>/dev/null && break
    sleep 0.1
  done
  verdicts=$(jq -s -c --argjson n0 "$n0" --slurpfile sum "$tmp/fi.json" --slurpfile log <(jq -c 'select(.ev == "bind")' "$tmp/fi.log") '
    . as $frames
    | $sum[0].processes[] | .pid as $p | .totals as $truth
    | ([$log[] | select(.pid == $p) | .ts]) as $ts
    | ($frames | to_entries | map(select(any(.value.processes[]; .pid == $p))) | .[0].key) as $k
    | $frames[$k] as $f | $frames[$k - 1] as $pf
    | ($f.processes[] | select(.pid == $p)) as $r
    | { pid: $p,
        inside: ($k == $n0 and ($ts | max) < $f.ts_ns),
        interval_ok: (($f.interval_s - ($f.ts_ns - $pf.ts_ns) / 1e9) | fabs < 1e-6),
        binds: ($r.binds_s * $f.interval_s), pages: ($r.pages_s * $f.interval_s),
        truth_binds: $truth.binds, truth_pages: $truth.pages_counted }' "$tmp/fi")
  # only a run that lay inside one interval decides; else another run
  if [ -n "$verdicts" ] && ! grep -q '"inside":false' <<<"$verdicts"; then
    checked=$try
    while IFS= read -r v; do
      jq -e '.interval_ok and (.binds - .truth_binds | fabs) < 1e-6 * .truth_binds + 1e-6
             and (.pages - .truth_pages | fabs) < 1e-6 * .truth_pages + 1e-6 and .truth_binds > 0' \
        <<<"$v" >/dev/null || problems+=("$v")
    done <<<"$verdicts"
    break
  fi
done
kill -TERM "$top_pid"; wait "$top_pid"
if [ -z "$checked" ]; then
  fail top_first_interval_rates_json "no run of 4 lay inside one 3 s interval: $verdicts"
elif [ ${#problems[@]} -eq 0 ]; then
  pass top_first_interval_rates_json "run $checked: $(jq -r -s 'map("\(.pid) \(.binds|round)/\(.truth_binds) binds") | join(", ")' <<<"$verdicts")"
else
  fail top_first_interval_rates_json "${problems[@]}"
fi

# The first frame of --json and of -b: rates over the time since msmvmtop attached, for
# processes already running then; the model's log counts the binds in that window
"$SIM" run -w mixed -P 2 --rate 100 -d 60 --seed 40 -o "$tmp/ff.json" --log "$tmp/ff.log" 2>/dev/null &
model=$!
for _ in $(seq 300); do
  [ "$(grep '"ev":"bind"' "$tmp/ff.log" 2>/dev/null | jq -r .pid 2>/dev/null | sort -u | wc -l)" -ge 2 ] && break
  sleep 0.1
done
"$TOP" --sim="$SIM" -d 1 --json -n 1 >"$tmp/ff.out" 2>"$tmp/ff.err"; rc_json=$?
"$TOP" --sim="$SIM" -d 1 -b -n 1 >"$tmp/ffb.out" 2>"$tmp/ffb.err"; rc_b=$?
kill -TERM "$model"; wait "$model" 2>/dev/null; model=
problems=()
[ "$rc_json" = 0 ] && [ "$rc_b" = 0 ] || problems+=("exit status: --json $rc_json, -b $rc_b")
frame=$(head -n 1 "$tmp/ff.out")
for p in $(jq -r '.processes[].pid' "$tmp/ff.json"); do
  v=$(jq -c --argjson p "$p" --slurpfile log <(jq -c 'select(.ev == "bind")' "$tmp/ff.log") '
    (.processes[] | select(.pid == $p)) as $r
    | (.ts_ns - .interval_s * 1e9) as $lo | .ts_ns as $hi
    | { pid: $p, interval: .interval_s, binds: ($r.binds_s * .interval_s), counted: $r.totals.binds,
        log: ([$log[] | select(.pid == $p and .ts > $lo and .ts <= $hi)] | length) }' \
    <<<"$frame" 2>/dev/null)
  # a bind in flight at either edge may fall on the other side of it
  jq -e '.interval > 0.9 and .binds > 0 and (.binds - .counted | fabs) < 1e-6 * .counted + 1e-6
         and (.binds - .log | fabs) <= 3' <<<"$v" >/dev/null 2>&1 || problems+=("json: ${v:-pid $p missing}")
  b=$(awk -v p="$p" '$1 == p { print $4 }' "$tmp/ffb.out")
  [ -n "$b" ] && [ "$b" -gt 0 ] || problems+=("-b: pid $p BINDS/s '${b}'")
done
grep -qE 'interval (0\.9|[1-9])' "$tmp/ffb.out" || problems+=("-b: interval: $(head -n 1 "$tmp/ffb.out")")
if [ ${#problems[@]} -eq 0 ]; then
  pass top_first_frame_rates "$(jq -r '[.processes[] | "\(.pid) \(.binds_s|round)/s"] | join(", ")' <<<"$frame")"
else
  fail top_first_frame_rates "${problems[@]}" "$(cat "$tmp/ffb.out")"
fi
