#!/usr/bin/env bash
# make soak: the model at full rate (msmvm-sim run -w mixed -P 2, flat out) for SOAK_SECS
# seconds (default 600) with msmvm-stat (--json, interval lines), msmvm-trace --ring 5
# --max-size 2 (the flight recorder, its window capped at 2 MiB) and msmvm-alert (--stall 100/1000, a Prometheus textfile) attached to the
# same model binary the whole time. Checks, one ok/not ok line each:
#
#   soak_rss_flat_TOOL     each tool's memory, sampled every SOAK_SAMPLE (1) seconds: after
#                          the warm-up (SOAK_WARMUP, default a quarter of the run, 20 to 60 s)
#                          the peak of its private memory (RssAnon) in the second half of the
#                          watch is at most 1 % (16 kB at least) over the first half's peak;
#                          its RSS at start, after the warm-up, at the end and its peak are said
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
# Everything (memory samples as CSV, the tools' output, the model's summary) stays in
# $BUILD/soak/ for a look afterwards. Needs root (uprobes).
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
SECS=${SOAK_SECS:-600}
SAMPLE=${SOAK_SAMPLE:-1}
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

echo "# soak: msmvm-sim run -w mixed -P 2 flat out for $SECS s, tools attached; memory every $SAMPLE s, warm-up $WARMUP s; output in $OUT"
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
t0=${EPOCHREALTIME//[^0-9]/}	# bash 5: microseconds

# One sample of a tool: its RSS (VmRSS) and the private part of it (RssAnon: heap, anonymous
# mappings, stacks), in kB; 0 0 once it is gone.
mem() { awk '/^VmRSS/ {r = $2} /^RssAnon/ {a = $2} END {printf "%d,%d", r, a}' "/proc/$1/status" 2>/dev/null || echo 0,0; }
echo "t_s,msmvm_stat_rss_kb,msmvm_stat_anon_kb,msmvm_trace_rss_kb,msmvm_trace_anon_kb,msmvm_alert_rss_kb,msmvm_alert_anon_kb" >"$OUT/rss.csv"
while kill -0 "$sim_pid" 2>/dev/null; do
  now=${EPOCHREALTIME//[^0-9]/}
  t=$(( (now - t0) / 100000 ))
  echo "$((t / 10)).$((t % 10)),$(mem "$stat_pid"),$(mem "$trace_pid"),$(mem "$alert_pid")" >>"$OUT/rss.csv"
  # the next sample, or the model's end as soon as it comes: the tools are stopped a second
  # after it, while the flight recorder's window still holds the run's last seconds
  next=$(( now + SAMPLE * 1000000 ))
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

# --- memory: no growth after the warm-up ---
# What is judged is the private memory (RssAnon), not VmRSS: most of a tool's RSS is its
# libraries' text and data mapped from the page cache (5.7 of msmvm-alert's 7 MB), shared
# with every process that maps them and mapped 64 KiB at a time (the kernel's fault-around)
# the first time a code path runs; none of that is the tool's to leak. A leak (malloc,
# mmap, a thread's stack) is in RssAnon. The post-warm-up samples are cut in two halves
# by time and the peak of each is taken: a leak raises the second half's peak over the
# first's by what it leaked in half the watch (a leak of 1 kB/s: 20 kB in SOAK_SECS=60);
# memory that comes and goes (the flight recorder maps and unmaps 64 KiB chunks as its
# window moves) has the same peak in both. The limit is 1 % of the first half's peak, and
# never less than 16 kB (4 pages): msmvm-stat's heap top moves up a page now and then in
# the first minute while its live heap stays flat (docs/hardening.md).
col=2
for tool in msmvm_stat msmvm_trace msmvm_alert; do
  read -r rss0 rssw rssl rssp anonw anonl p1 p2 n slope < <(awk -F, -v r=$col -v a=$((col + 1)) -v w="$WARMUP" '
    NR == 2 { rss0 = $r }
    NR > 1 && $1 >= w && $a > 0 { n++; t[n] = $1; an[n] = $a; rs[n] = $r }
    END {
      mid = (t[1] + t[n]) / 2
      for (i = 1; i <= n; i++) {
        if (t[i] < mid) { if (an[i] > p1) p1 = an[i] } else if (an[i] > p2) p2 = an[i]
        if (rs[i] > rp) rp = rs[i]
        sx += t[i]; sy += an[i]
      }
      # the least-squares slope of the private memory, kB a minute: said, not judged
      for (i = 1; i <= n; i++) { d = t[i] - sx / n; num += d * (an[i] - sy / n); den += d * d }
      printf "%d %d %d %d %d %d %d %d %d %+.1f\n", rss0, rs[1], rs[n], rp, an[1], an[n], p1, p2, n,
        den ? 60 * num / den : 0
    }' "$OUT/rss.csv")
  # where the private memory changed after the warm-up
  steps=$(awk -F, -v a=$((col + 1)) -v w="$WARMUP" '
    NR > 1 && $1 >= w && $a > 0 { if (prev && $a != prev) { printf "%s%+d kB at %s s", sep, $a - prev, $1; sep = ", " } prev = $a }' "$OUT/rss.csv")
  col=$((col + 2))
  if [ "$n" -lt 4 ]; then
    fail "soak_rss_flat_$tool" "fewer than 4 samples after the warm-up ($WARMUP s)"
    continue
  fi
  limit=$(( p1 / 100 > 16 ? p1 / 100 : 16 ))
  growth=$(( p2 - p1 ))
  note="private (RssAnon) ${anonw} kB after the warm-up, ${anonl} kB at the end, peak ${p1} kB in the first half of the watch and ${p2} kB in the second ($(printf %+d "$growth") kB, limit ${limit} kB), slope ${slope} kB/min; RSS ${rss0} kB at start, ${rssw} kB after the warm-up, ${rssl} kB at the end, peak ${rssp} kB; $n samples"
  if [ "$growth" -le "$limit" ]; then
    pass "soak_rss_flat_$tool" "$note"
  else
    fail "soak_rss_flat_$tool" "private memory grew ${growth} kB from the first half of the watch to the second (limit ${limit} kB)" "$note" \
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
