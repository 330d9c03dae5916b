#!/usr/bin/env bash
# make soak: the model at full rate (msmvm-sim run -w mixed -P 2, flat out) for SOAK_SECS
# seconds (default 600) with msmvm-stat (--json, interval lines), msmvm-trace --ring 5
# --max-size 2 (the flight recorder, its window capped at 2 MiB) and msmvm-alert (--stall 100/1000, a Prometheus textfile) attached to the
# same model binary the whole time. Checks, one ok/not ok line each:
#
#   soak_rss_flat_TOOL     each tool's RSS, sampled every SOAK_SAMPLE seconds: after the
#                          warm-up (SOAK_WARMUP, default a quarter of the run, 20 to 60 s)
#                          it grows by less than 1 % to the end (and its peak is said)
#   soak_counters_equal    msmvm-stat's final counters = the model's summary, every counter
#                          but the nanosecond ones, in total, per process and per VM
#   soak_alert_metrics_equal  msmvm-alert's metrics = the model's summary (the same path)
#   soak_no_drops          the aggregate path lost nothing: msmvm-stat's and msmvm-alert's
#                          probe health counters are all zero
#   soak_flight_recorder   msmvm-trace ran through it and wrote its window at the end: the
#                          run's last seconds (the tools are stopped a second after the
#                          model), at least one event; its ring-buffer drops, if any, are
#                          reported, not failed
#   soak_tools_exit_cleanly   all three exit 0 when stopped
#
# Everything (RSS samples as CSV, the tools' output, the model's summary) stays in
# $BUILD/soak/ for a look afterwards. Needs root (uprobes).
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
SECS=${SOAK_SECS:-600}
SAMPLE=${SOAK_SAMPLE:-5}
# the warm-up: a quarter of the run, 20 to 60 s (the flight recorder's window fills in its
# first 5 s; from then on its memory follows the events the window holds, up and down)
WARMUP=${SOAK_WARMUP:-$(( SECS / 4 < 20 ? 20 : SECS / 4 > 60 ? 60 : SECS / 4 ))}
OUT=$B/soak

pass() { echo "ok $1${2:+ # $2}"; }
fail() { echo "not ok $1"; shift; for l in "$@"; do printf '%s\n' "$l" | head -20 | sed 's/^/#   /'; done; }

if [ "$(id -u)" -ne 0 ]; then
  echo "skip soak # needs root to attach uprobes"
  exit 0
fi
if [ "$SECS" -lt $((2 * WARMUP)) ]; then
  echo "not ok soak # SOAK_SECS=$SECS: give at least $((2 * WARMUP)) s (the $WARMUP s warm-up, then as long to watch the RSS)"
  exit 1
fi
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
# One private copy of the model: the three tools and the model share its inode, and no other
# msmvm-sim running on this machine adds to what they count.
cp "$B/msmvm-sim" "$OUT/msmvm-sim"
SIM=$OUT/msmvm-sim

pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
}
trap cleanup EXIT

wait_for() {	# FILE PATTERN: up to 20 s
  for _ in $(seq 200); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

echo "# soak: msmvm-sim run -w mixed -P 2 flat out for $SECS s, tools attached; RSS every $SAMPLE s, warm-up $WARMUP s; output in $OUT"
"$B/msmvm-stat" --sim="$SIM" --json -d $((SECS + 120)) 10 >"$OUT/stat.json" 2>"$OUT/stat.err" &
stat_pid=$!; pids+=("$stat_pid")
# The window's memory follows the event rate (a flat-out model on a shared machine makes
# 2-6k binds/s: 3.5-9.5 MB in 5 s), so two RSS samples would differ by chance. Capped below
# that, the window sits at its cap and any growth is a leak; the recorder still maps and
# unmaps a chunk every few hundred events. Eviction by age is tested in tests/test_trace.c.
"$B/msmvm-trace" --sim="$SIM" --ring 5 --max-size 2 -o "$OUT/ring.perfetto-trace" \
  2>"$OUT/trace.err" &
trace_pid=$!; pids+=("$trace_pid")
"$B/msmvm-alert" --sim="$SIM" --stall 100/1000 --textfile "$OUT/metrics.prom" \
  >"$OUT/alerts.txt" 2>"$OUT/alert.err" &
alert_pid=$!; pids+=("$alert_pid")
if ! wait_for "$OUT/stat.err" attached || ! wait_for "$OUT/trace.err" attached ||
   ! wait_for "$OUT/alert.err" watching; then
  fail soak "the tools did not attach" "$(cat "$OUT"/*.err)"
  exit 1
fi

"$SIM" run -w mixed -P 2 -d "$SECS" -o "$OUT/summary.json" 2>"$OUT/sim.err" &
sim_pid=$!; pids+=("$sim_pid")
t0=$(date +%s)

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
echo "t_s,msmvm_stat_kb,msmvm_trace_kb,msmvm_alert_kb" >"$OUT/rss.csv"
while kill -0 "$sim_pid" 2>/dev/null; do
  echo "$(( $(date +%s) - t0 )),$(rss "$stat_pid"),$(rss "$trace_pid"),$(rss "$alert_pid")" >>"$OUT/rss.csv"
  # the next sample, or the model's end as soon as it comes: the tools are stopped a second
  # after it, while the flight recorder's window still holds the run's last seconds
  next=$(( ${EPOCHREALTIME//[^0-9]/} + SAMPLE * 1000000 ))	# bash 5: microseconds
  while [ "${EPOCHREALTIME//[^0-9]/}" -lt "$next" ] && kill -0 "$sim_pid" 2>/dev/null; do
    sleep 0.1
  done
done
wait "$sim_pid"; sim_rc=$?
sleep 1	# the tools read the last frees
cp "$OUT/metrics.prom" "$OUT/metrics.final.prom" 2>/dev/null
kill -INT "$stat_pid" "$trace_pid"; kill -TERM "$alert_pid"
wait "$stat_pid"; stat_rc=$?
wait "$trace_pid"; trace_rc=$?
wait "$alert_pid"; alert_rc=$?
pids=()

# --- RSS: flat after the warm-up ---
col=2
for tool in msmvm_stat msmvm_trace msmvm_alert; do
  read -r base last peak n < <(awk -F, -v c=$col -v w="$WARMUP" '
    NR > 1 && $1 >= w && $c > 0 { if (!n) base = $c; last = $c; if ($c > peak) peak = $c; n++ }
    END { print base + 0, last + 0, peak + 0, n + 0 }' "$OUT/rss.csv")
  first=$(awk -F, -v c=$col 'NR == 2 {print $c}' "$OUT/rss.csv")
  # where it grew after the warm-up: one step (a high-water mark) or a slope (a leak)
  steps=$(awk -F, -v c=$col -v w="$WARMUP" '
    NR > 1 && $1 >= w && $c > 0 { if (prev && $c != prev) printf "%s%+d kB at %d s", sep, $c - prev, $1; if (prev && $c != prev) sep = ", "; prev = $c }' "$OUT/rss.csv")
  col=$((col + 1))
  if [ "$n" -lt 2 ]; then
    fail "soak_rss_flat_$tool" "fewer than 2 samples after the warm-up ($WARMUP s)"
    continue
  fi
  growth=$(awk -v b="$base" -v l="$last" 'BEGIN {printf "%.2f", (l - b) * 100 / b}')
  note="RSS ${first} kB at start, ${base} kB after the warm-up, ${last} kB at the end (${growth} %), peak ${peak} kB, $n samples"
  if awk -v b="$base" -v l="$last" 'BEGIN {exit !((l - b) * 100 < b)}'; then
    pass "soak_rss_flat_$tool" "$note"
  else
    fail "soak_rss_flat_$tool" "grew ${growth} % after the warm-up (limit 1 %)" "$note" \
      "changes after the warm-up: $steps"
  fi
done

# --- counters: msmvm-stat against the model, exactly (tests/stat_sim.sh's comparison) ---
read -r -d '' COMPARE <<'JQ'
def exact: ["binds","ops","errors","pages_counted","pages_used","pages_overcount","waits",
            "interrupted_waits","peak_in_flight","in_flight","drift"];
def cmp($where; $a; $b):
  exact[] as $k | select($a[$k] != $b[$k]) | "\($where) \($k): msmvm-stat \($a[$k]), model \($b[$k])";
$stat[0] as $s | $sum[0] as $m |
cmp("totals"; $s.totals; $m.totals),
($m.processes[] as $mp |
  ([$s.processes[] | select(.pid == $mp.pid)] | first) as $sp |
  if $sp == null then "process \($mp.pid) missing"
  else cmp("process \($mp.pid)"; $sp.totals; $mp.totals),
    ($mp.vms[] as $mv | ([$sp.vms[] | select(.addr == $mv.addr)] | first) as $sv |
      if $sv == null then "process \($mp.pid) vm \($mv.addr) missing"
      else cmp("process \($mp.pid) vm \($mv.addr)"; $sv.totals; $mv.totals) end)
  end)
JQ
tail -n 1 "$OUT/stat.json" >"$OUT/stat.final.json"
if [ "$sim_rc" -ne 0 ] || ! jq -e '.type == "final"' "$OUT/stat.final.json" >/dev/null 2>&1; then
  fail soak_counters_equal "model exit $sim_rc, or no final report from msmvm-stat" \
    "$(cat "$OUT/sim.err" "$OUT/stat.err")"
else
  diffs=$(jq -rn --slurpfile stat "$OUT/stat.final.json" --slurpfile sum "$OUT/summary.json" "$COMPARE" 2>&1)
  if [ -n "$diffs" ]; then
    fail soak_counters_equal "$diffs" "model: $(jq -c .totals "$OUT/summary.json")"
  else
    pass soak_counters_equal "$(jq -r '.totals | "binds \(.binds), ops \(.ops), pages_counted \(.pages_counted), waits \(.waits), peak_in_flight \(.peak_in_flight)"' "$OUT/summary.json"), in total, per process and per VM"
  fi
fi

# --- msmvm-alert's metrics against the model ---
problems=()
for pair in binds:binds ops:ops errors:errors pages_counted:pages_counted pages_used:pages_used \
            waits:waits interrupted_waits:interrupted_waits; do
  metric=msmvm_${pair%%:*}_total
  got=$(awk -v m="$metric" 'index($0, m "{") == 1 {s += $NF} END {printf "%.0f", s}' "$OUT/metrics.final.prom" 2>/dev/null)
  want=$(jq ".totals.${pair##*:}" "$OUT/summary.json" 2>/dev/null)
  [ "$got" = "$want" ] || problems+=("$metric: $got, model $want")
done
if [ ${#problems[@]} -eq 0 ]; then pass soak_alert_metrics_equal "$(grep -c . "$OUT/alerts.txt") alerts fired"
else fail soak_alert_metrics_equal "${problems[@]}"; fi

# --- the aggregate path lost nothing ---
problems=()
h=$(jq -c '.health' "$OUT/stat.final.json" 2>/dev/null)
jq -e '.health | (.thread_state_missing + .job_state_missing + .map_update_failed + .ringbuf_drops) == 0' \
  "$OUT/stat.final.json" >/dev/null 2>&1 || problems+=("msmvm-stat health: $h")
ah=$(grep '^msmvm_probe_health_total' "$OUT/metrics.final.prom" 2>/dev/null | grep -v 'counter="events"' |
     awk '$NF != 0' | tr '\n' ' ')
[ -z "$ah" ] || problems+=("msmvm-alert health: $ah")
grep -q '^msmvm_probe_health_total' "$OUT/metrics.final.prom" 2>/dev/null || problems+=("msmvm-alert wrote no health metrics")
if [ ${#problems[@]} -eq 0 ]; then pass soak_no_drops "msmvm-stat health $h; msmvm-alert's all zero"
else fail soak_no_drops "${problems[@]}"; fi

# --- the flight recorder ---
summary=$(grep -o '[0-9]* events, [0-9]* dropped, [0-9]* bytes' "$OUT/trace.err" | tail -1)
drops=$(sed -n 's/.* \([0-9]*\) dropped.*/\1/p' <<<"$summary")
events=$(sed -n 's/^\([0-9]*\) events.*/\1/p' <<<"$summary")
# the tools stop a second after the model: the window holds the run's last seconds, not nothing
if [ "$trace_rc" -eq 0 ] && [ -s "$OUT/ring.perfetto-trace" ] && [ "${events:-0}" -gt 0 ] &&
   "$B/msmvm-stat" --replay "$OUT/ring.perfetto-trace" >/dev/null 2>"$OUT/replay.err"; then
  pass soak_flight_recorder "last 5 s written at the end: $summary; ring-buffer drops: ${drops:-?}"
else
  fail soak_flight_recorder "exit $trace_rc; ${events:-no} events in the window written at the end" \
    "$(cat "$OUT/trace.err" "$OUT/replay.err" 2>/dev/null)"
fi

if [ "$stat_rc" -eq 0 ] && [ "$trace_rc" -eq 0 ] && [ "$alert_rc" -eq 0 ]; then
  pass soak_tools_exit_cleanly
else
  fail soak_tools_exit_cleanly "msmvm-stat $stat_rc, msmvm-trace $trace_rc, msmvm-alert $alert_rc"
fi
