#!/usr/bin/env bash
# msmvm-tune end to end. Closed loop: msmvm-trace records fixed-seed model runs at a limit;
# msmvm-tune replaying the trace at that limit must give the model's own summary (calls,
# pages counted and used, waits and peak in_flight exactly: these runs are deterministic,
# one queue thread per VM against jobs far slower than the calls, so no check races a free;
# each sleeper keeps its recorded wake-up latency; the stall within 10 % +
# 200 us per wait), no waits at a limit above anything in flight, peaks that grow with the
# limit, an exact count never above the driver's and never short. Then: truncated and malformed traces, a trace without ops, the SVG (valid XML, one
# point per limit), the budget, bad usage, and --json's fields against docs/msmvm-tune.md's list.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
TRACE=$B/msmvm-trace
TUNE=$B/msmvm-tune

. tests/lib.sh

tmp=$(mktemp -d)
rec_pid=
cleanup() {
  [ -n "$rec_pid" ] && kill -9 "$rec_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- no privileges needed: usage errors and synthetic workloads ---

usage_case() {	# NAME EXPECTED_TEXT ARGS...
  local name=$1 want=$2; shift 2
  "$TUNE" "$@" >"$tmp/u.out" 2>"$tmp/u.err"
  local rc=$?
  if [ $rc -eq 2 ] && grep -qi -- "$want" "$tmp/u.err"; then pass "$name"
  else fail "$name" "exit $rc (want 2), stderr: $(head -c 300 "$tmp/u.err")"; fi
}
usage_case tune_no_input "no TRACE"
usage_case tune_bad_limits "invalid --limits" --limits 128,abc x.trace
usage_case tune_zero_limit "invalid --limits" --limits 0 x.trace
usage_case tune_trailing_comma "invalid --limits" --limits 128, x.trace
usage_case tune_bad_job_cost "invalid --job-cost" --job-cost fast x.trace
usage_case tune_bad_budget "invalid --max-prealloc-mib" --max-prealloc-mib -1 x.trace
usage_case tune_trace_and_workload "do not go together" --workload sparse x.trace
usage_case tune_bad_workload "unknown workload" --workload nonsense
usage_case tune_two_traces "unexpected argument" a.trace b.trace
usage_case tune_workload_option_alone "goes with --workload" --rate 100 a.trace
if grep -q -- "--max-prealloc-mib" <<<"$("$TUNE" --help)" && grep -q "EXAMPLES" <<<"$("$TUNE" --help)"; then
  pass tune_help
else
  fail tune_help "--help lacks the options or examples"
fi

# Synthetic: the recommendation respects the budget and is the least stall within it
# (recomputed here from the rows), every point of the SVG is there.
if "$TUNE" --workload sparse --procs 2 --binds 200 --limits 128,512,1024,4096 \
     --max-prealloc-mib 8 --svg "$tmp/s.svg" --json >"$tmp/s.json" 2>"$tmp/s.err"; then
  bad=$(jq -r '
    .recommendation.limit as $rl |
    [.limits[] | select(.driver.peak_mib <= 8)] as $fit |
    ($fit | map(.driver.wait_ns_total) | min) as $least |
    (.limits[] | select(.limit == $rl)) as $r |
    if ($fit | length) == 0 then "no limit fits the budget in this workload: pick another"
    elif $r.driver.peak_mib > 8 then "recommended \($r.limit) peaks at \($r.driver.peak_mib) MiB > 8"
    elif $r.driver.wait_ns_total > ($least + ([$least / 20, 1000000] | max)) then
      "recommended \($r.limit) stalls \($r.driver.wait_ns_total) ns, least within budget \($least)"
    else empty end' "$tmp/s.json")
  if [ -z "$bad" ]; then pass tune_budget_respected "limit $(jq .recommendation.limit "$tmp/s.json")"
  else fail tune_budget_respected "$bad"; fi
  if ! command -v xmllint >/dev/null; then
    echo "skip tune_svg_valid # xmllint missing (tools/deps.sh installs libxml2-utils)"
  elif ! xmllint --noout "$tmp/s.svg" 2>"$tmp/x.err"; then
    fail tune_svg_valid "not XML: $(head -c 300 "$tmp/x.err")"
  else
    n=$(xmllint --xpath "count(//*[local-name()='circle'][@class='point'])" "$tmp/s.svg")
    ne=$(xmllint --xpath "count(//*[local-name()='rect'][@class='point-exact'])" "$tmp/s.svg")
    lims=$(xmllint --xpath "//*[@class='point']/@data-limit" "$tmp/s.svg" | grep -o '[0-9]*' | sort -n | paste -sd,)
    if [ "$n" = 4 ] && [ "$ne" = 4 ] && [ "$lims" = "128,512,1024,4096" ]; then
      pass tune_svg_valid "4 points, limits $lims"
    else
      fail tune_svg_valid "points: $n driver, $ne exact, limits '$lims' (want 4, 4, 128,512,1024,4096)"
    fi
  fi
else
  fail tune_budget_respected "msmvm-tune --workload failed: $(head -c 300 "$tmp/s.err")"
fi

# A stall budget: the least memory among the limits that keep the stall within it.
if "$TUNE" --workload sparse --procs 2 --binds 200 --json >"$tmp/sb0.json" 2>"$tmp/sb.err"; then
  budget=$(jq '[.limits[].driver.wait_ns_total] | sort | .[length / 2 | floor] / 1e6 + 0.001' "$tmp/sb0.json")
  "$TUNE" --workload sparse --procs 2 --binds 200 --max-stall-ms "$budget" --json \
    >"$tmp/sb.json" 2>>"$tmp/sb.err"
  bad=$(jq -r --argjson S "$budget" '
    .recommendation.limit as $rl |
    ([.limits[] | select(.driver.wait_ns_total / 1e6 <= $S)] | map(.driver.peak_pages) | min) as $least |
    (.limits[] | select(.limit == $rl)) as $r |
    if $r.driver.wait_ns_total / 1e6 > $S then "recommended \($rl) stalls \($r.driver.wait_ns_total) ns > \($S) ms"
    elif $r.driver.peak_pages != $least then "recommended \($rl) peaks at \($r.driver.peak_pages), least within the stall budget \($least)"
    else empty end' "$tmp/sb.json" 2>&1)
  if [ -z "$bad" ]; then pass tune_stall_budget_respected "budget $budget ms: limit $(jq .recommendation.limit "$tmp/sb.json")"
  else fail tune_stall_budget_respected "$bad"; fi
else
  fail tune_stall_budget_respected "msmvm-tune failed: $(head -c 300 "$tmp/sb.err")"
fi

doc_fields() {	# the documented paths: the first table's, and the result table's under driver and exact
  awk '
    /^## JSON output/ { on = 1; next }
    on && /^## / { exit }
    on && /^\| `/ { if (!intable) { ntab++; intable = 1 }
      f = $0; sub(/^\| `/, "", f); sub(/`.*/, "", f)
      if (ntab == 1) print f
      else { print "limits[].driver." f; print "limits[].exact." f } next }
    on { intable = 0 }' docs/msmvm-tune.md | sort -u
}
printed_fields() {	# FILE: every path of the JSON but the arrays themselves, [] for an index
  jq -r '[paths as $p | select(getpath($p) | type != "array") |
          $p | reduce .[] as $k (""; if ($k | type) == "number" then . + "[]"
                                   elif . == "" then $k else . + "." + $k end)] | unique[]' "$1"
}

# --json's fields are the ones docs/msmvm-tune.md documents, both ways (on a synthetic run;
# on a trace's below)
schema_case() {	# NAME JSON
  local diffs
  diffs=$(diff <(doc_fields) <(printed_fields "$2") | grep '^[<>]' |
    sed 's/^</documented, not printed:/; s/^>/printed, not documented:/')
  if [ -n "$diffs" ]; then fail "$1" "$diffs"
  elif [ "$(doc_fields | wc -l)" -lt 20 ]; then fail "$1" "too few fields read from docs/msmvm-tune.md"
  else pass "$1" "$(doc_fields | wc -l) fields"; fi
}
if [ -s "$tmp/s.json" ]; then schema_case tune_json_schema_documented "$tmp/s.json"
else fail tune_json_schema_documented "no JSON from the synthetic run"; fi

# An SVG that cannot be written: exit 1 and why, not a silent success.
"$TUNE" --workload sparse --binds 10 --svg "$tmp/no-such-dir/t.svg" >/dev/null 2>"$tmp/svg.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "cannot write" "$tmp/svg.err"; then pass tune_svg_unwritable
else fail tune_svg_unwritable "exit $rc (want 1): $(head -c 200 "$tmp/svg.err")"; fi

# Unreadable inputs: a clear error and exit 1, never a crash.
bad_input() {	# NAME FILE WANT
  "$TUNE" "$2" >"$tmp/b.out" 2>"$tmp/b.err"
  local rc=$?
  if [ $rc -eq 1 ] && [ -s "$tmp/b.err" ] && grep -qi -- "$3" "$tmp/b.err"; then
    pass "$1" "$(head -c 120 "$tmp/b.err")"
  else fail "$1" "exit $rc (want 1), stderr: $(head -c 300 "$tmp/b.err")"; fi
}
bad_input tune_missing_file "$tmp/nope.perfetto-trace" "nope"
: >"$tmp/empty.trace"
bad_input tune_empty_file "$tmp/empty.trace" "empty.trace"
head -c 4000 /dev/urandom >"$tmp/noise.trace"
bad_input tune_noise "$tmp/noise.trace" "noise.trace"
printf '{"traceEvents": []}' >"$tmp/json.trace"
bad_input tune_json_trace "$tmp/json.trace" "json.trace"

# --- with the model: record, then replay ---
if [ "$(id -u)" -ne 0 ]; then
  echo "skip tune_closed_loop # needs root to attach uprobes"
  exit 0
fi
cp "$B/msmvm-sim" "$tmp/msmvm-sim"	# private inode: see stat_sim.sh
SIM=$tmp/msmvm-sim


# record NAME LIMIT SIM_ARGS...: $tmp/NAME.trace and $tmp/NAME.sum
record() {
  local name=$1 limit=$2; shift 2
  if ! start_rec -o "$tmp/$name.trace" --limit "$limit"; then
    fail "$name" "msmvm-trace did not attach: $(cat "$tmp/rec.err")"; stop_rec; return 1
  fi
  "$SIM" run --limit "$limit" "$@" -o "$tmp/$name.sum" 2>"$tmp/$name.simerr"
  stop_rec
  if [ "$rec_rc" -ne 0 ]; then
    fail "$name" "msmvm-trace exit $rec_rc: $(cat "$tmp/rec.err")"; return 1
  fi
  return 0
}

# closed_loop NAME LIMIT SIM_ARGS...
closed_loop() {
  local name=$1 limit=$2
  record "$@" || return
  if ! "$TUNE" "$tmp/$name.trace" --limits "256,$limit,4096,1000000" --json \
       >"$tmp/$name.json" 2>"$tmp/$name.err"; then
    fail "$name" "msmvm-tune failed: $(head -c 400 "$tmp/$name.err")"; return
  fi
  diffs=$(jq -rn --argjson L "$limit" --slurpfile t "$tmp/$name.json" --slurpfile m "$tmp/$name.sum" '
    $m as $m_all | $t[0] as $t | $m[0].totals as $m |
    ($t.limits[] | select(.limit == $L) | .driver) as $r |
    (["binds","pages_counted","pages_used","waits"][] as $k |
       ({binds: $r.binds, pages_counted: $r.pages_counted, pages_used: $r.pages_used,
         waits: $r.waits}[$k]) as $a |
       select($a != $m[$k]) | "\($k) at \($L): replay \($a), model \($m[$k])"),
    (select(($m_all[0].processes | length) == 1 and $r.peak_pages != $m.peak_in_flight) |
       "peak at \($L): replay \($r.peak_pages), model peak_in_flight \($m.peak_in_flight)"),
    (select((($r.wait_ns_total - $m.wait_ns_total) | fabs) > ($m.wait_ns_total * 0.10 + 200000 * ([$m.waits, 1] | max))) |
       "stall at \($L): replay \($r.wait_ns_total) ns, model \($m.wait_ns_total) ns (beyond 10 % + 200 us per wait)"),
    (select($r.count_mismatches != 0) | "\($r.count_mismatches) recorded counts differ from the ops recounted"),
    (select($t.binds_without_ops != 0) | "\($t.binds_without_ops) binds without ops"),
    (select($t.recorded_limit != $L) | "recorded limit read back as \($t.recorded_limit), not \($L)"),
    ($t.limits[] | select(.limit == 1000000) | select(.driver.waits != 0) |
       "\(.driver.waits) waits at limit 1000000"),
    ([$t.limits[] | .driver.peak_pages] as $p | select($p != ($p | sort)) |
       "peaks do not grow with the limit: \($p)"),
    ($t.limits[] | select(.exact.pages_counted > .driver.pages_counted) |
       "exact count above the driver'"'"'s at \(.limit)"),
    ($t.limits[] | select(.driver.undercounts + .exact.undercounts != 0) |
       "a job ran out of pages at \(.limit)")' 2>&1)
  if [ -z "$diffs" ]; then
    pass "$name" "$(jq -r --argjson L "$limit" '.limits[] | select(.limit == $L) | .driver |
      "waits \(.waits), stall \(.wait_ns_total / 1e6 | floor) ms"' "$tmp/$name.json") vs model stall $(jq '.totals.wait_ns_total / 1e6 | floor' "$tmp/$name.sum") ms"
  else
    fail "$name" "$diffs" "model: $(jq -c .totals "$tmp/$name.sum")"
  fi
}

# Jobs of 10-20 ms against calls of at most a few ms: every check lands far from any free.
closed_loop tune_closed_loop_storm 1024 -w storm -P 1 --queues 1 -n 40 --job-cost 20000 --seed 21
closed_loop tune_closed_loop_two_procs 512 -w storm -P 2 --queues 1 -n 25 --job-cost 20000 --seed 22
closed_loop tune_closed_loop_sparse 256 -w sparse -P 1 --queues 1 -n 100 --job-cost 10000 --seed 23

[ -s "$tmp/tune_closed_loop_storm.json" ] &&
  schema_case tune_json_schema_documented_trace "$tmp/tune_closed_loop_storm.json"

# A trace cut in the middle: the complete prefix is used, and msmvm-tune says so.
f=$tmp/tune_closed_loop_storm.trace
if [ -f "$f" ]; then
  head -c $(( $(stat -c %s "$f") / 2 )) "$f" >"$tmp/half.trace"
  if "$TUNE" "$tmp/half.trace" --json >"$tmp/half.json" 2>"$tmp/half.err" &&
     grep -q "cut short" "$tmp/half.err"; then
    n=$(jq .binds "$tmp/half.json"); all=$(jq .totals.binds "$tmp/tune_closed_loop_storm.sum")
    if [ "$n" -gt 0 ] && [ "$n" -lt "$all" ]; then pass tune_truncated_prefix "$n of $all binds"
    else fail tune_truncated_prefix "$n binds of $all"; fi
  else
    fail tune_truncated_prefix "exit or message wrong: $(head -c 300 "$tmp/half.err")"
  fi
fi

# Recorded without ops: the replay still runs on the recorded counts, and says so.
if start_rec -o "$tmp/noops.trace" --no-ops; then
  "$SIM" run -w sparse -P 1 -n 50 --seed 24 -o "$tmp/noops.sum" 2>/dev/null
  stop_rec
  if "$TUNE" "$tmp/noops.trace" --json >"$tmp/noops.json" 2>"$tmp/noops.err" &&
     grep -q "have no ops" "$tmp/noops.err" &&
     [ "$(jq .binds_without_ops "$tmp/noops.json")" = "$(jq .totals.binds "$tmp/noops.sum")" ]; then
    pass tune_trace_without_ops
  else
    fail tune_trace_without_ops "$(head -c 300 "$tmp/noops.err")"
  fi
else
  fail tune_trace_without_ops "msmvm-trace did not attach: $(cat "$tmp/rec.err")"; stop_rec
fi
