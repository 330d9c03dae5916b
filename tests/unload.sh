#!/usr/bin/env bash
# The driver going away, on any machine: the tools watch the model (--sim) with the test
# hooks MSMVM_SYSFS (a fake sysfs tree) and MSMVM_WATCH_MODULE (a fake module in it), so
# that moving /module/fakemod away is an rmmod and making it again an insmod. Checked:
# msmvm-stat (--json), msmvm-trace and msmvmtop (--json, -b) end on the unload with status
# 0, a line naming the module, and everything the model did before it (its own summary:
# exact counts); the trace is whole (msmvm-stat --replay recounts it). msmvm-alert stays up,
# exports msmvm_driver_attached 0 and one detach, keeps serving; once the module is back it
# re-attaches, and its counters are the first run's plus the second's, exactly, never lower
# in any scrape. tests/guest/unload.sh does the same with rmmod in the guest's kernel.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}

if [ "$(id -u)" -ne 0 ]; then
  echo "skip unload # needs root to attach uprobes"
  exit 0
fi
if ! command -v curl >/dev/null; then
  echo "skip unload # curl is not installed"
  exit 0
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
cp "$B/msmvm-sim" "$tmp/msmvm-sim"	# a private inode: only these runs are probed
SIM=$tmp/msmvm-sim
. tests/lib.sh

export MSMVM_SYSFS=$tmp/sys MSMVM_WATCH_MODULE=fakemod
insmod_fake() {
  mkdir -p "$tmp/sys/module/fakemod" "$tmp/sys/kernel/btf"
  echo live >"$tmp/sys/module/fakemod/initstate"
  : >"$tmp/sys/kernel/btf/fakemod"
}
n_rmmod=0
rmmod_fake() {	# kept aside: a new directory can never have the old one's inode
  n_rmmod=$((n_rmmod + 1))
  mv "$tmp/sys/module/fakemod" "$tmp/sys/module/fakemod.gone$n_rmmod"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# wait_for FILE PATTERN [SECS]: until FILE holds PATTERN
wait_for() {
  local i
  for i in $(seq $((${3:-20} * 20))); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
# when FILE first held PATTERN, polled every 10 ms from now (ms since the epoch), or empty
seen_at() {
  local i
  for i in $(seq 500); do grep -q -- "$2" "$1" 2>/dev/null && { now_ms; return 0; }; sleep 0.01; done
}

# --- msmvm-stat, msmvm-trace, msmvmtop (--json and -b) on the same model runs ---
insmod_fake
"$B/msmvm-stat" --sim="$SIM" --json >"$tmp/stat.json" 2>"$tmp/stat.err" & stat_pid=$!
"$B/msmvm-trace" --sim="$SIM" -o "$tmp/rec.perfetto-trace" 2>"$tmp/trace.err" & trace_pid=$!
"$B/msmvmtop" --sim="$SIM" --json -d 0.5 >"$tmp/top.json" 2>"$tmp/top.err" & top_pid=$!
"$B/msmvmtop" --sim="$SIM" -b -d 0.5 >"$tmp/top.txt" 2>"$tmp/topb.err" & topb_pid=$!
pids+=("$stat_pid" "$trace_pid" "$top_pid" "$topb_pid")
attached=1
for f in stat trace; do wait_for "$tmp/$f.err" attached 30 || attached=0; done
wait_for "$tmp/top.json" '"totals"' 30 || attached=0
wait_for "$tmp/top.txt" 'totals:' 30 || attached=0
if [ "$attached" = 0 ]; then
  fail unload_tools_attach "$(cat "$tmp"/*.err)"
  exit 0
fi
"$SIM" run -w mixed -P 3 -n 60 --seed 51 -o "$tmp/sum.json" 2>/dev/null
t0=$(now_ms)
rmmod_fake
t_stat=$(seen_at "$tmp/stat.err" 'driver module fakemod was unloaded; stopping')
wait "$stat_pid"; stat_rc=$?
wait "$trace_pid"; trace_rc=$?
wait "$top_pid"; top_rc=$?
wait "$topb_pid"; topb_rc=$?
pids=()

# counts: the model's, exactly
read -r -d '' COMPARE <<'JQ'
[ ("binds","ops","errors","pages_counted","pages_used","pages_overcount","waits",
   "interrupted_waits","peak_in_flight","drift") as $k
  | select($got[0].totals[$k] != $want[0].totals[$k])
  | "\($k): \($got[0].totals[$k]), model \($want[0].totals[$k])" ] | .[]
JQ
problems=()
[ "$stat_rc" = 0 ] || problems+=("exit status $stat_rc")
[ -n "$t_stat" ] || problems+=("no 'driver module fakemod was unloaded; stopping' line: $(cat "$tmp/stat.err")")
tail -1 "$tmp/stat.json" >"$tmp/stat.final"
[ "$(jq -r .type "$tmp/stat.final")" = final ] || problems+=("no final report")
mapfile -t d < <(jq -n -r --slurpfile got "$tmp/stat.final" --slurpfile want "$tmp/sum.json" "$COMPARE")
problems+=("${d[@]}")
if [ ${#problems[@]} -eq 0 ]; then
  pass unload_stat_final_report "$(jq .totals.binds "$tmp/stat.final") binds; said $((t_stat - t0)) ms after the unload"
else
  fail unload_stat_final_report "${problems[@]}"
fi
if [ -n "$t_stat" ] && [ $((t_stat - t0)) -lt 2000 ]; then
  pass unload_detected_promptly "$((t_stat - t0)) ms (polled every 50 ms)"
else
  fail unload_detected_promptly "${t_stat:-never} (unloaded at $t0)"
fi

problems=()
[ "$trace_rc" = 0 ] || problems+=("exit status $trace_rc")
grep -q 'driver module fakemod was unloaded; stopping' "$tmp/trace.err" || problems+=("no unload line: $(cat "$tmp/trace.err")")
grep -q 'events, 0 dropped' "$tmp/trace.err" || problems+=("no closing summary")
if "$B/msmvm-stat" --replay "$tmp/rec.perfetto-trace" --json >"$tmp/replay.json" 2>"$tmp/replay.err"; then
  grep -q 'has no final stats\|ends inside a packet' "$tmp/replay.err" && problems+=("not closed: $(cat "$tmp/replay.err")")
  mapfile -t d < <(jq -n -r --slurpfile got "$tmp/replay.json" --slurpfile want "$tmp/sum.json" "$COMPARE")
  problems+=("${d[@]}")
else
  problems+=("--replay failed: $(cat "$tmp/replay.err")")
fi
if [ ${#problems[@]} -eq 0 ]; then pass unload_trace_finalised; else fail unload_trace_finalised "${problems[@]}"; fi

problems=()
[ "$top_rc" = 0 ] || problems+=("--json exit status $top_rc")
[ "$topb_rc" = 0 ] || problems+=("-b exit status $topb_rc")
for f in top topb; do
  grep -q 'driver module fakemod was unloaded; stopping' "$tmp/$f.err" || problems+=("$f: no unload line: $(cat "$tmp/$f.err")")
done
tail -1 "$tmp/top.json" >"$tmp/top.final"
mapfile -t d < <(jq -n -r --slurpfile got "$tmp/top.final" --slurpfile want "$tmp/sum.json" "$COMPARE")
problems+=("${d[@]}")
last=$(grep '^totals:' "$tmp/top.txt" | tail -1)
want=$(jq .totals.binds "$tmp/sum.json")
[[ "$last" == *" binds $want "* ]] || problems+=("-b last frame: '$last', model binds $want")
if [ ${#problems[@]} -eq 0 ]; then pass unload_top_last_frame; else fail unload_top_last_frame "${problems[@]}"; fi

# --- msmvmtop on a terminal (tmux): the screen restored, its last state printed ---
if command -v tmux >/dev/null; then
  rm -rf "$tmp/sys"; insmod_fake
  sess=msmvm-unload-$$
  tmux new-session -d -s "$sess" -x 160 -y 40 \
    "MSMVM_SYSFS='$MSMVM_SYSFS' MSMVM_WATCH_MODULE=fakemod '$B/msmvmtop' --sim='$SIM' 2>'$tmp/tty.err'; echo \$? >'$tmp/tty.rc'; sleep 60"
  sleep 2
  "$SIM" run -w sparse -P 2 -n 30 --seed 54 -o "$tmp/sum3.json" 2>/dev/null
  sleep 1.5
  rmmod_fake
  wait_for "$tmp/tty.rc" . 20
  tmux capture-pane -p -J -t "$sess" >"$tmp/tty.screen" 2>/dev/null
  tmux kill-session -t "$sess" 2>/dev/null
  want=$(jq .totals.binds "$tmp/sum3.json")
  if [ "$(cat "$tmp/tty.rc" 2>/dev/null)" = 0 ] &&
     grep -q 'driver module fakemod was unloaded; stopping' "$tmp/tty.err" &&
     grep -q "^totals: binds $want " "$tmp/tty.screen"; then
    pass unload_top_terminal_last_state "$want binds on the restored terminal"
  else
    fail unload_top_terminal_last_state "status $(cat "$tmp/tty.rc" 2>/dev/null), model binds $want" \
      "$(cat "$tmp/tty.err")" "$(grep totals: "$tmp/tty.screen")"
  fi
else
  echo "skip unload_top_terminal_last_state # no tmux"
fi

# --- msmvm-alert: detaches, keeps serving, re-attaches, counters never go down ---
rm -rf "$tmp/sys"
insmod_fake
port=$((20000 + RANDOM % 20000))
"$B/msmvm-alert" --sim="$SIM" --listen "127.0.0.1:$port" --stall 100/1000 >/dev/null 2>"$tmp/alert.err" &
alert_pid=$!
pids+=("$alert_pid")
if ! wait_for "$tmp/alert.err" watching 30; then
  fail unload_alert "did not start: $(cat "$tmp/alert.err")"
  exit 0
fi
# every scrape's sums, in order, until told to stop
scrape_sum() {	# FILE FAMILY
  awk -v m="$2" 'index($0, m "{") == 1 {s += $NF} END {print s + 0}' "$1"
}
(
  while [ ! -e "$tmp/stop" ]; do
    if curl -sf "http://127.0.0.1:$port/metrics" >"$tmp/scrape" 2>/dev/null; then
      echo "$(scrape_sum "$tmp/scrape" msmvm_binds_total) $(scrape_sum "$tmp/scrape" msmvm_pages_counted_total) $(scrape_sum "$tmp/scrape" msmvm_waits_total)"
    fi
    sleep 0.1
  done
) >"$tmp/scrapes" &
scraper=$!
pids+=("$scraper")
metric() {	# NAME: its value in a fresh scrape
  curl -sf "http://127.0.0.1:$port/metrics" | awk -v m="$1" 'index($0, m "{") == 1 {print $NF}'
}
"$SIM" run -w mixed -P 2 -n 50 --seed 52 -o "$tmp/sum1.json" 2>/dev/null
sleep 0.5
rmmod_fake
wait_for "$tmp/alert.err" 'driver module fakemod was unloaded: detached' 10
sleep 0.5
problems=()
kill -0 "$alert_pid" 2>/dev/null || problems+=("msmvm-alert exited")
[ "$(metric msmvm_driver_attached)" = 0 ] || problems+=("msmvm_driver_attached $(metric msmvm_driver_attached), not 0")
[ "$(metric msmvm_driver_detaches_total)" = 1 ] || problems+=("msmvm_driver_detaches_total $(metric msmvm_driver_detaches_total), not 1")
curl -sf "http://127.0.0.1:$port/metrics" >"$tmp/detached.prom" || problems+=("no metrics while detached")
got=$(scrape_sum "$tmp/detached.prom" msmvm_binds_total)
[ "$got" = "$(jq .totals.binds "$tmp/sum1.json")" ] || problems+=("binds while detached $got, model $(jq .totals.binds "$tmp/sum1.json")")
got=$(scrape_sum "$tmp/detached.prom" msmvm_in_flight_pages)
[ "$got" = 0 ] || problems+=("in_flight of the gone module $got, not 0")
if [ ${#problems[@]} -eq 0 ]; then pass unload_alert_detached_serving; else fail unload_alert_detached_serving "${problems[@]}" "$(cat "$tmp/alert.err")"; fi

insmod_fake
wait_for "$tmp/alert.err" 'is loaded again: re-attached' 20
"$SIM" run -w mixed -P 3 -n 40 --seed 53 -o "$tmp/sum2.json" 2>/dev/null
sleep 0.5
curl -sf "http://127.0.0.1:$port/metrics" >"$tmp/after.prom"
touch "$tmp/stop"
wait "$scraper" 2>/dev/null
kill -TERM "$alert_pid"; wait "$alert_pid"; alert_rc=$?
pids=()
problems=()
[ "$alert_rc" = 0 ] || problems+=("exit status $alert_rc after SIGTERM")
grep -q 'is loaded again: re-attached' "$tmp/alert.err" || problems+=("no re-attach line")
[ "$(awk 'index($0, "msmvm_driver_attached{") == 1 {print $NF}' "$tmp/after.prom")" = 1 ] || problems+=("not attached again")
[ "$(awk 'index($0, "msmvm_driver_attaches_total{") == 1 {print $NF}' "$tmp/after.prom")" = 2 ] || problems+=("attaches_total not 2")
for k in binds:msmvm_binds_total pages_counted:msmvm_pages_counted_total \
         pages_used:msmvm_pages_used_total ops:msmvm_ops_total waits:msmvm_waits_total; do
  want=$(( $(jq ".totals.${k%%:*}" "$tmp/sum1.json") + $(jq ".totals.${k%%:*}" "$tmp/sum2.json") ))
  got=$(scrape_sum "$tmp/after.prom" "${k##*:}")
  [ "$got" = "$want" ] || problems+=("${k##*:}: $got, runs $want (before + after)")
done
down=$(awk 'NR > 1 && ($1 < b || $2 < p || $3 < w) {n++} {b = $1; p = $2; w = $3} END {print n + 0}' "$tmp/scrapes")
[ "$down" = 0 ] || problems+=("$down scrapes where a total went down")
n=$(wc -l <"$tmp/scrapes")
[ "$n" -ge 10 ] || problems+=("only $n scrapes")
if [ ${#problems[@]} -eq 0 ]; then
  pass unload_alert_reattached_monotonic "$(scrape_sum "$tmp/after.prom" msmvm_binds_total) binds = $(jq .totals.binds "$tmp/sum1.json") + $(jq .totals.binds "$tmp/sum2.json"), $n scrapes, none lower"
else
  fail unload_alert_reattached_monotonic "${problems[@]}" "$(cat "$tmp/alert.err")"
fi
