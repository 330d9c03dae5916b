#!/usr/bin/env bash
# msmvm-trace --sim end to end: msmvm-sim runs fixed seeds while msmvm-trace records them.
# Every file is decoded by protoc against tests/trace.proto and checked the way
# trace_processor reads it (build/tests/test_trace check: track and interning rules,
# slices nesting per track, counters on counter tracks, flows); then compared with the
# model's own ground truth (its summary and its --log lines): VM_BIND slices = binds, wait
# slices = waits, frees = freed jobs, and msmvm-stat --replay's totals and histograms =
# the model's. Each call's ops (recorded by default) are read back as a workload (what
# msmvm-tune replays) and held against the model's own log of them (MSMVM_SIM_LOG_OPS=1:
# an "ops" line per call). Also: SIGKILL mid-recording, a tiny ring buffer overloaded, a
# full disk, the size limit, the flight recorder, the JSON format, --no-ops, a cut file.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
TRACE=$B/msmvm-trace
STAT=$B/msmvm-stat
CHECK=$B/tests/test_trace

if [ "$(id -u)" -ne 0 ]; then
  echo "skip trace_sim # needs root to attach uprobes"
  exit 0
fi
if ! command -v protoc >/dev/null; then
  echo "skip trace_sim # protoc is not installed (tools/deps.sh installs protobuf-compiler)"
  exit 0
fi
tmp=$(mktemp -d)
rec_pid=
cleanup() {
  [ -n "$rec_pid" ] && kill -9 "$rec_pid" 2>/dev/null
  mountpoint -q "$tmp/full" 2>/dev/null && umount "$tmp/full"
  rm -rf "$tmp"
}
trap cleanup EXIT
# A private copy of the model: uprobes bind to the file's inode (see stat_sim.sh).
cp "$B/msmvm-sim" "$tmp/msmvm-sim"
SIM=$tmp/msmvm-sim

. tests/lib.sh

# decode FILE [--allow-open]: protoc's text in FILE.txt, the checker's JSON line in FILE.chk
# (with its checksums held against FILE's bytes); prints protoc's or the checker's
# complaints and fails when there are any
decode() {
  local f=$1; shift
  if ! protoc --decode=perfetto.protos.Trace -I tests tests/trace.proto <"$f" >"$f.txt" 2>"$f.perr"; then
    echo "protoc cannot decode $f: $(head -c 300 "$f.perr")"
    return 1
  fi
  if ! "$CHECK" check "$@" --trace "$f" "$f.txt" >"$f.chk" 2>"$f.cerr"; then
    echo "trace_processor's rules broken in $f:"
    cat "$f.cerr"
    return 1
  fi
}

# The model's totals against msmvm-stat --replay's JSON (as stat_sim.sh compares live).
read -r -d '' COMPARE <<'JQ'
def exact: ["binds","ops","errors","pages_counted","pages_used","pages_overcount","waits",
            "interrupted_waits","peak_in_flight","in_flight","drift"];
def cmp($where; $a; $b):
  (exact[] as $k | select($a[$k] != $b[$k]) | "\($where) \($k): replay \($a[$k]), model \($b[$k])"),
  (["wait_ns_total","wait_ns_max"][] as $k
     | select((($a[$k] - $b[$k]) | fabs) > ($b[$k] * 0.02 + 100000 * ([$b.waits, 1] | max)))
     | "\($where) \($k): replay \($a[$k]), model \($b[$k]) (beyond tolerance)");
$stat[0] as $s | $sum[0] as $m |
cmp("totals"; $s.totals; $m.totals),
($m.processes[] as $mp |
  ([$s.processes[] | select(.pid == $mp.pid)] | first) as $sp |
  if $sp == null then "process \($mp.pid) (\($mp.comm)) missing from the replay"
  else
    (if $sp.comm != $mp.comm then "process \($mp.pid): comm \($sp.comm) != \($mp.comm)" else empty end),
    cmp("process \($mp.pid)"; $sp.totals; $mp.totals),
    ($mp.vms[] as $mv |
      ([$sp.vms[] | select(.addr == $mv.addr)] | first) as $sv |
      if $sv == null then "process \($mp.pid) vm \($mv.addr) missing"
      else cmp("process \($mp.pid) vm \($mv.addr)"; $sv.totals; $mv.totals) end)
  end)
JQ

# The histograms the log implies (log2 buckets as msmvm-stat's), against the replay's.
read -r -d '' HISTS <<'JQ'
def slot: if . <= 0 then 0 else [limit(64; recurse(if . > 1 then (. / 2 | floor) else empty end))] | length end;
def hist(vals): reduce vals as $v ([]; .[[$v | slot, 39] | min] += 1) | map(. // 0);
[$log[] | select(.ev == "bind" and .counted == 1) | .count] as $counts |
[$log[] | select(.ev == "free" and .count > 0)] as $frees |
{pages_per_bind: hist($counts[]),
 overcount_pages: hist($frees[] | .count - .ptr),
 overcount_pct: hist($frees[] | ((.count - .ptr) * 100 / .count | floor))} as $want |
$stat[0].histograms as $got |
(["pages_per_bind","overcount_pages","overcount_pct"][] as $h
   | select($got[$h] != $want[$h]) | "histogram \($h): replay \($got[$h]), log \($want[$h])"),
(if ($got.wait_ns | add // 0) != $stat[0].totals.waits then "histogram wait_ns: not one per wait" else empty end)
JQ

# Ops records the probes send for the calls of a model log (8 ops a record, 1024 ops at most)
read -r -d '' OPS_RECORDS <<'JQ'
[$log[] | select(.ev == "bind") | (([.nr_ops, 1024] | min) + 7) / 8 | floor] | add // 0
JQ

# The workload a trace loads to (test_trace workload) against the model's log and summary:
# every call, in each thread's order, with exactly the ops the model logged for it.
read -r -d '' WL_OPS <<'JQ'
$wl[0] as $w | $sum[0].totals as $m |
([$log[] | select(.ev == "ops")] | group_by(.tid) | map({key: (.[0].tid | tostring), value: map(.ops)}) | from_entries) as $want |
($w.binds | group_by(.tid) | map({key: (.[0].tid | tostring), value: map(.ops)}) | from_entries) as $got |
(if $w.nbinds != $m.binds then "workload binds \($w.nbinds), model \($m.binds)" else empty end),
(if ([$w.binds[].nr_ops] | add // 0) != $m.ops then "sum of nr_ops \([$w.binds[].nr_ops] | add), model ops \($m.ops)" else empty end),
(if $w.nops != $m.ops then "ops loaded \($w.nops), model ops \($m.ops)" else empty end),
(if $w.binds_without_ops != 0 or ([$w.binds[] | select(.ops_known | not)] | length) != 0 then "\($w.binds_without_ops) binds without their ops" else empty end),
(if $w.frees_without_bind != 0 then "\($w.frees_without_bind) frees without their bind" else empty end),
(if ([$w.binds[] | select(.counted and .ret == 0 and .free_ns == 0)] | length) != 0 then "jobs never freed in the workload" else empty end),
(if ([$w.binds[] | select(.counted)] | length) != ([$log[] | select(.ev == "bind" and .counted == 1)] | length) then "counted binds differ" else empty end),
(if $got != $want then
   ($want | keys[] as $t | select($got[$t] != $want[$t]) |
    "thread \($t): ops differ from the model's log (\($got[$t] | length) calls, log \($want[$t] | length))")
 else empty end)
JQ

# count_check WL: msmvm-sim count on each counted call's ops gives its count (the syntax is
# msmvm-sim count's: a user pastes the argument); prints the calls where it does not
count_check() {
  jq -r '.binds[] | select(.counted and .ret == 0 and .ops_known) | "\(.count) \(.ops)"' "$1" |
    while read -r c ops; do
      # shellcheck disable=SC2086
      got=$("$SIM" count $ops 2>&1 | head -1)
      [ "$got" = "$c" ] || echo "msmvm-sim count gives $got for a call that counted $c"
    done | head -5
}

# truth NAME HOOKS CHECK -- SIM_ARGS...: record a run, hold the file against the model
truth() {
  local name=$1 hooks=$2 check=$3; shift 4
  local f=$tmp/$name.perfetto-trace diffs binds frees size ntev records nops
  if ! start_rec -o "$f" --hooks "$hooks"; then
    fail "$name" "msmvm-trace did not attach:" "$(cat "$tmp/rec.err")"; stop_rec KILL; return
  fi
  MSMVM_SIM_LOG_OPS=1 "$SIM" run "$@" -o "$tmp/sum.json" --log "$tmp/log.jsonl" 2>"$tmp/sim.err"
  stop_rec INT
  if [ "$rec_rc" -ne 0 ]; then
    fail "$name" "msmvm-trace exited $rec_rc:" "$(cat "$tmp/rec.err")"; return
  fi
  if ! diffs=$(decode "$f"); then fail "$name" "$diffs"; return; fi
  frees=$(grep -c '"ev":"free"' "$tmp/log.jsonl")
  binds=$(jq .totals.binds "$tmp/sum.json")
  records=$(jq -n --slurpfile log "$tmp/log.jsonl" "$OPS_RECORDS")
  "$CHECK" workload "$f" >"$tmp/wl.json" 2>"$tmp/wl.err" ||
    { fail "$name" "the workload does not load:" "$(cat "$tmp/wl.err")"; return; }
  "$STAT" --replay "$f" --json >"$tmp/replay.json" 2>"$tmp/replay.err" ||
    { fail "$name" "msmvm-stat --replay failed:" "$(cat "$tmp/replay.err")"; return; }
  diffs=$(
    jq -r --slurpfile sum "$tmp/sum.json" --argjson frees "$frees" --argjson records "$records" '
      $sum[0].totals as $m | . as $c |
      (if $c.slices.VM_BIND != $m.binds then "VM_BIND slices \($c.slices.VM_BIND), model binds \($m.binds)" else empty end),
      (if ($c.slices["throttle wait"] // 0) != $m.waits then "wait slices \($c.slices["throttle wait"] // 0), model waits \($m.waits)" else empty end),
      (if ($c.instants["wait interrupted"] // 0) != $m.interrupted_waits then "interrupted instants \($c.instants["wait interrupted"] // 0), model \($m.interrupted_waits)" else empty end),
      (($c.slices.job // 0) + ($c.instants["job freed"] // 0) + ($c.instants["job freed in VM_BIND"] // 0)) as $f |
      (if $f != $frees then "frees in the trace \($f), in the log \($frees)" else empty end),
      (if $c.stats.events_recorded != $m.binds + $frees + $records then "recorded \($c.stats.events_recorded), produced \($m.binds + $frees) + \($records) ops records" else empty end),
      (if $c.stats.dropped_total != 0 or $c.loss_marks != 0 then "drops: \($c.stats.dropped_total), marks \($c.loss_marks)" else empty end),
      (if ($c.sealed | not) or $c.checksums < 2 then "\($c.checksums) checksum packets, sealed: \($c.sealed) (the file must end with its final checksum)" else empty end)
    ' "$f.chk"
    jq -rn --slurpfile stat "$tmp/replay.json" --slurpfile sum "$tmp/sum.json" "$COMPARE"
    jq -rn --slurpfile stat "$tmp/replay.json" --slurpfile log "$tmp/log.jsonl" "$HISTS"
    jq -rn --slurpfile wl "$tmp/wl.json" --slurpfile log "$tmp/log.jsonl" --slurpfile sum "$tmp/sum.json" "$WL_OPS"
    jq -e ".totals | $check" "$tmp/sum.json" >/dev/null || echo "the model run does not show what this case is about: $check"
  )
  if [ -n "$diffs" ]; then
    fail "$name" "$diffs" "model: $(jq -c .totals "$tmp/sum.json")"
    return
  fi
  size=$(stat -c %s "$f")
  ntev=$(jq .track_events "$f.chk")
  nops=$(jq .nops "$tmp/wl.json")
  pass "$name" "binds $binds, frees $frees, ops $nops (all read back); $size bytes: $(( size / (binds + frees) )) per probe event, $(awk "BEGIN{printf \"%.1f\", $size/$ntev}") per trace event ($ntev)"
}

truth storm_direct direct '.waits > 0 and .peak_in_flight > 1024' -- \
  -w storm -P 2 --queues 2 -n 100 --seed 12
truth interrupted_fallback fallback '.interrupted_waits > 0 and .drift < 0' -- \
  -w storm -P 2 -n 150 --interrupt-rate 0.3 --seed 13
truth alloc_fail_direct direct '.drift > 0' -- \
  -w sparse -P 2 -n 1500 --alloc-fail-rate 0.01 --wedge-timeout 0.3 --seed 14

# --- the calls' ops, as msmvm-tune reads them: a mixed run at another limit ---
# The workload holds every call with the ops the model logged for it, the limit recorded
# with --limit, and msmvm-sim count gives each counted call's count from its "ops" argument.
f=$tmp/ops.perfetto-trace
ops_size=
if start_rec -o "$f" --limit 1500; then
  MSMVM_SIM_LOG_OPS=1 "$SIM" run -w mixed -P 2 -n 200 --seed 21 --limit 1500 -o "$tmp/sum.json" \
    --log "$tmp/log.jsonl" 2>"$tmp/sim.err"
  stop_rec INT
  if [ "$rec_rc" -ne 0 ]; then
    fail ops_read_back_as_the_model_logged_them "msmvm-trace exited $rec_rc:" "$(cat "$tmp/rec.err")"
  elif ! diffs=$(decode "$f"); then
    fail ops_read_back_as_the_model_logged_them "$diffs"
  elif ! "$CHECK" workload "$f" >"$tmp/wl.json" 2>"$tmp/wl.err"; then
    fail ops_read_back_as_the_model_logged_them "the workload does not load:" "$(cat "$tmp/wl.err")"
  else
    diffs=$(
      jq -rn --slurpfile wl "$tmp/wl.json" --slurpfile log "$tmp/log.jsonl" --slurpfile sum "$tmp/sum.json" "$WL_OPS"
      jq -r 'if .limit != 1500 then "limit read back: \(.limit), recorded 1500" else empty end,
             if .truncated or (.finished | not) then "a whole recording read as cut" else empty end,
             if ([.procs[].comm] | sort) != ["mixed-0", "mixed-1"] then "procs: \(.procs)" else empty end' "$tmp/wl.json"
      count_check "$tmp/wl.json"
      grep -q 'of the events are ops records' "$tmp/rec.err" || echo "the summary line does not count the ops records"
    )
    if [ -n "$diffs" ]; then
      fail ops_read_back_as_the_model_logged_them "$diffs"
    else
      ops_size=$(stat -c %s "$f")
      cp "$f" "$tmp/ops-whole.perfetto-trace"
      cp "$tmp/wl.json" "$tmp/wl-whole.json"
      pass ops_read_back_as_the_model_logged_them "$(jq .nbinds "$tmp/wl.json") binds, $(jq .nops "$tmp/wl.json") ops, each as logged; limit $(jq .limit "$tmp/wl.json"); $ops_size bytes"
    fi
  fi
else
  fail ops_read_back_as_the_model_logged_them "did not attach" "$(cat "$tmp/rec.err")"; stop_rec KILL
fi

# --- --no-ops: the same run without them; what they cost per op in the file ---
f=$tmp/noops.perfetto-trace
if start_rec -o "$f" --no-ops; then
  "$SIM" run -w mixed -P 2 -n 200 --seed 21 --limit 1500 -o "$tmp/sum.json" --log "$tmp/log.jsonl" 2>"$tmp/sim.err"
  stop_rec INT
  frees=$(grep -c '"ev":"free"' "$tmp/log.jsonl")
  if [ "$rec_rc" -ne 0 ]; then
    fail no_ops_leaves_them_out "msmvm-trace exited $rec_rc:" "$(cat "$tmp/rec.err")"
  elif ! diffs=$(decode "$f"); then
    fail no_ops_leaves_them_out "$diffs"
  elif ! "$CHECK" workload "$f" >"$tmp/wl.json" 2>"$tmp/wl.err"; then
    fail no_ops_leaves_them_out "the workload does not load:" "$(cat "$tmp/wl.err")"
  else
    diffs=$(
      jq -r --slurpfile sum "$tmp/sum.json" '
        if .nbinds != $sum[0].totals.binds then "binds \(.nbinds), model \($sum[0].totals.binds)" else empty end,
        if .binds_without_ops != .nbinds or .nops != 0 then "\(.binds_without_ops) of \(.nbinds) binds without ops, \(.nops) ops" else empty end,
        if .limit != 1024 then "limit \(.limit): the default is 1024" else empty end' "$tmp/wl.json"
      jq -r --slurpfile sum "$tmp/sum.json" --argjson frees "$frees" '
        if .stats.events_recorded != $sum[0].totals.binds + $frees then "recorded \(.stats.events_recorded), produced \($sum[0].totals.binds + $frees)" else empty end' "$f.chk"
    )
    if [ -n "$diffs" ]; then
      fail no_ops_leaves_them_out "$diffs"
    else
      size=$(stat -c %s "$f")
      # against its packets before compression: the file with the ops is not compressed
      raw=$(sed -n 's/.*; \([0-9]*\) bytes of packets before compression.*/\1/p' "$tmp/rec.err")
      cost=
      [ -n "$ops_size" ] && cost="; the ops cost $(awk "BEGIN{printf \"%.1f\", ($ops_size - ${raw:-$size}) / $(jq .totals.ops "$tmp/sum.json")}") bytes per op"
      pass no_ops_leaves_them_out "$(jq .nbinds "$tmp/wl.json") binds, none with ops; $size bytes$cost"
    fi
  fi
else
  fail no_ops_leaves_them_out "did not attach" "$(cat "$tmp/rec.err")"; stop_rec KILL
fi

# --- --no-compress: the same run, its packets as they are; the default --no-ops file held compressed ones ---
f=$tmp/raw.perfetto-trace
noops_compressed=$(jq -r '.compressed // 0' "$tmp/noops.perfetto-trace.chk" 2>/dev/null)
if start_rec -o "$f" --no-ops --no-compress; then
  "$SIM" run -w mixed -P 2 -n 200 --seed 21 --limit 1500 -o "$tmp/sum.json" 2>"$tmp/sim.err"
  stop_rec INT
  if [ "$rec_rc" -ne 0 ]; then
    fail no_compress_writes_the_packets_as_they_are "msmvm-trace exited $rec_rc:" "$(cat "$tmp/rec.err")"
  elif ! diffs=$(decode "$f"); then
    fail no_compress_writes_the_packets_as_they_are "$diffs"
  else
    diffs=$(
      [ "${noops_compressed:-0}" -gt 0 ] ||
        echo "the default (--no-ops) recording held no compressed packets (${noops_compressed:-no checker output})"
      jq -r 'if .compressed != 0 then "\(.compressed) compressed packets with --no-compress" else empty end' "$f.chk"
      grep -q 'before compression' "$tmp/rec.err" && echo "the summary speaks of compression: $(cat "$tmp/rec.err")"
      "$STAT" --replay "$f" --json >"$tmp/raw.json" 2>"$tmp/raw.err" || echo "replay failed: $(cat "$tmp/raw.err")"
      jq -nr --slurpfile stat "$tmp/raw.json" --slurpfile sum "$tmp/sum.json" "$COMPARE" 2>&1
    )
    if [ -n "$diffs" ]; then
      fail no_compress_writes_the_packets_as_they_are "$diffs"
    else
      pass no_compress_writes_the_packets_as_they_are "$(stat -c %s "$f") bytes, replayed to the model's totals; the default file: $noops_compressed compressed packets"
    fi
  fi
else
  fail no_compress_writes_the_packets_as_they_are "did not attach" "$(cat "$tmp/rec.err")"; stop_rec KILL
fi

# --- --compress: with the ops as well; every op read back, the totals the model's ---
f=$tmp/zops.perfetto-trace
ops_compressed=$(jq -r '.compressed // "none"' "$tmp/ops.perfetto-trace.chk" 2>/dev/null)
if start_rec -o "$f" --compress; then
  "$SIM" run -w mixed -P 2 -n 200 --seed 21 --limit 1500 -o "$tmp/sum.json" 2>"$tmp/sim.err"
  stop_rec INT
  if [ "$rec_rc" -ne 0 ]; then
    fail compress_with_the_ops "msmvm-trace exited $rec_rc:" "$(cat "$tmp/rec.err")"
  elif ! diffs=$(decode "$f"); then
    fail compress_with_the_ops "$diffs"
  elif ! "$CHECK" workload "$f" >"$tmp/wl.json" 2>"$tmp/wl.err"; then
    fail compress_with_the_ops "the workload does not load:" "$(cat "$tmp/wl.err")"
  else
    diffs=$(
      [ "$ops_compressed" = 0 ] ||
        echo "the default recording with the ops held compressed packets ($ops_compressed), or was not checked"
      jq -r 'if .compressed == 0 then "no compressed packet with --compress" else empty end' "$f.chk"
      jq -r --slurpfile sum "$tmp/sum.json" '
        if .nbinds != $sum[0].totals.binds then "binds \(.nbinds), model \($sum[0].totals.binds)" else empty end,
        if .nops != $sum[0].totals.ops or .binds_without_ops != 0 then "\(.nops) ops read back (\(.binds_without_ops) binds without), model \($sum[0].totals.ops)" else empty end' "$tmp/wl.json"
      "$STAT" --replay "$f" --json >"$tmp/zops.json" 2>"$tmp/zops.err" || echo "replay failed: $(cat "$tmp/zops.err")"
      jq -nr --slurpfile stat "$tmp/zops.json" --slurpfile sum "$tmp/sum.json" "$COMPARE" 2>&1
    )
    if [ -n "$diffs" ]; then
      fail compress_with_the_ops "$diffs"
    else
      pass compress_with_the_ops "$(stat -c %s "$f") bytes ($(jq .nops "$tmp/wl.json") ops; $ops_size without --compress); the default with ops: not compressed"
    fi
  fi
else
  fail compress_with_the_ops "did not attach" "$(cat "$tmp/rec.err")"; stop_rec KILL
fi

# --- a recording cut in the middle: its whole calls load, with their ops, and it says so ---
if [ -s "$tmp/ops-whole.perfetto-trace" ]; then
  whole=$tmp/ops-whole.perfetto-trace
  cut=$(( $(stat -c %s "$whole") / 2 + 7 ))
  # Inside a packet, as a killed recorder leaves it: a cut on a packet boundary is one byte later.
  head -c "$cut" "$whole" >"$tmp/ops-cut.perfetto-trace"
  if [ "$("$CHECK" complete "$tmp/ops-cut.perfetto-trace")" -eq "$cut" ]; then
    head -c $((cut + 1)) "$whole" >"$tmp/ops-cut.perfetto-trace"
  fi
  if ! "$CHECK" workload "$tmp/ops-cut.perfetto-trace" >"$tmp/wl-cut.json" 2>"$tmp/wl.err"; then
    fail cut_recording_loads_its_prefix "the cut file does not load:" "$(cat "$tmp/wl.err")"
  else
    diffs=$(jq -rn --slurpfile cut "$tmp/wl-cut.json" --slurpfile whole "$tmp/wl-whole.json" '
      $cut[0] as $c | $whole[0] as $w |
      ($w.binds | map({key: "\(.tid)@\(.entry_ns)", value: .}) | from_entries) as $by |
      (if $c.truncated | not then "not said to be cut" else empty end),
      (if $c.finished then "a cut file said finished" else empty end),
      (if $c.nbinds == 0 or $c.nbinds >= $w.nbinds then "\($c.nbinds) binds of \($w.nbinds): not a prefix" else empty end),
      ($c.binds[] | . as $b | $by["\(.tid)@\(.entry_ns)"] as $o |
        if $o == null then "bind of \(.tid) at \(.entry_ns) not in the whole file"
        elif $o.ops != $b.ops or $o.return_ns != $b.return_ns or $o.ops_known != $b.ops_known then "bind of \(.tid) at \(.entry_ns) differs from the one in the whole file"
        else empty end)' | head -5)
    if [ -n "$diffs" ]; then
      fail cut_recording_loads_its_prefix "$diffs"
    else
      pass cut_recording_loads_its_prefix "$(jq .nbinds "$tmp/wl-cut.json") of $(jq .nbinds "$tmp/wl-whole.json") binds from half the file, marked cut"
    fi
  fi
else
  echo "skip cut_recording_loads_its_prefix # no whole recording with ops to cut"
fi

# --- Chrome JSON: valid JSON, a B per call, every B and b ended ---
f=$tmp/t.json
if start_rec -o "$f" --format json; then
  "$SIM" run -w storm -P 2 --queues 2 -n 100 --seed 12 -o "$tmp/sum.json" 2>/dev/null
  stop_rec INT
  # [VM_BIND begins, all begins - all ends, async job begins - ends]: binds, 0, 0
  got=$(jq -c '[([.[] | select(.ph == "B" and .name == "VM_BIND")] | length),
               ([.[] | select(.ph == "B")] | length) - ([.[] | select(.ph == "E")] | length),
               ([.[] | select(.ph == "b")] | length) - ([.[] | select(.ph == "e")] | length)]' "$f" 2>&1)
  want=$(jq -c '[.totals.binds, 0, 0]' "$tmp/sum.json")
  if [ "$rec_rc" -eq 0 ] && [ "$got" = "$want" ]; then
    pass json_format "$(stat -c %s "$f") bytes"
  else
    fail json_format "exit $rec_rc; [VM_BIND, B - E, b - e]: $got, want $want" "$(cat "$tmp/rec.err")"
  fi
else
  fail json_format "did not attach" "$(cat "$tmp/rec.err")"; stop_rec KILL
fi

# --- SIGKILL while recording: the whole packets decode and keep the rules ---
f=$tmp/killed.perfetto-trace
if start_rec -o "$f"; then
  "$SIM" run -w storm -P 2 --queues 2 -n 600 --seed 16 -o "$tmp/sum.json" 2>/dev/null &
  sim_pid=$!
  sleep 0.7
  stop_rec KILL
  wait "$sim_pid"
  whole=$("$CHECK" complete "$f")
  head -c "$whole" "$f" >"$f.cut"
  if ! diffs=$(decode "$f.cut" --allow-open); then
    fail sigkill_leaves_whole_packets "$diffs"
  elif [ "$(jq '.slices.VM_BIND // 0' "$f.cut.chk")" -eq 0 ]; then
    fail sigkill_leaves_whole_packets "no VM_BIND recorded before the kill"
  elif ! "$STAT" --replay "$f" >/dev/null 2>"$tmp/replay.err"; then
    fail sigkill_leaves_whole_packets "replay of the killed file failed:" "$(cat "$tmp/replay.err")"
  else
    pass sigkill_leaves_whole_packets "$(stat -c %s "$f") bytes, $whole in whole packets, $(jq .slices.VM_BIND "$f.cut.chk") VM_BINDs"
  fi
else
  fail sigkill_leaves_whole_packets "did not attach" "$(cat "$tmp/rec.err")"; stop_rec KILL
fi

# --- overload: a one-page ring buffer, a stalled reader: drops, counted to the event ---
# (ops records included: each is recorded or counted dropped, as the other events; a call
# that lost any of its records says ops_incomplete, never a partial list)
f=$tmp/overload.perfetto-trace
if start_rec -o "$f" --buffer-size $(( $(getconf PAGESIZE) / 1024 )); then
  MSMVM_SIM_LOG_OPS=1 "$SIM" run -w sparse -P 2 -n 3000 --seed 20 -o "$tmp/sum.json" --log "$tmp/log.jsonl" 2>/dev/null &
  sim_pid=$!
  sleep 0.1
  kill -STOP "$rec_pid"; sleep 0.5; kill -CONT "$rec_pid"
  wait "$sim_pid"
  stop_rec INT
  records=$(jq -n --slurpfile log "$tmp/log.jsonl" "$OPS_RECORDS")
  produced=$(( $(jq .totals.binds "$tmp/sum.json") + $(grep -c '"ev":"free"' "$tmp/log.jsonl") + records ))
  if ! diffs=$(decode "$f" --allow-open); then
    fail overload_counts_add_up "$diffs"
  elif ! "$CHECK" workload "$f" >"$tmp/wl.json" 2>"$tmp/wl.err"; then
    fail overload_counts_add_up "the workload does not load:" "$(cat "$tmp/wl.err")"
  else
    rec=$(jq '.stats.events_recorded' "$f.chk"); drop=$(jq '.stats.dropped_total' "$f.chk")
    in_file=$(jq '.slices.VM_BIND + (.slices.job // 0) + (.instants["job freed"] // 0) + (.instants["job freed in VM_BIND"] // 0)' "$f.chk")
    ops_rec=$(grep -o '[0-9]* of the events are ops records' "$tmp/rec.err" | grep -o '^[0-9]*')
    marks=$(jq .loss_marks "$f.chk")
    # every call whose ops are known has all of them: its list is one the model logged
    partial=$(jq -n --slurpfile wl "$tmp/wl.json" --slurpfile log "$tmp/log.jsonl" '
      (reduce ($log[] | select(.ev == "ops")) as $o ({}; .["\($o.tid) \($o.ops)"] = true)) as $logged |
      [$wl[0].binds[] | select(.ops_known) | select($logged["\(.tid) \(.ops)"] | not)] | length')
    if [ "$rec_rc" -ne 0 ] || [ "$drop" -eq 0 ] || [ $((rec + drop)) -ne "$produced" ] ||
       [ "$in_file" -ne $((rec - ${ops_rec:-0})) ] || [ "$marks" -eq 0 ] || [ "$partial" != 0 ] ||
       ! grep -q 'events were lost' "$tmp/rec.err"; then
      fail overload_counts_add_up "exit $rec_rc; recorded $rec + dropped $drop vs produced $produced ($records ops records);" \
        "in the file $in_file + ${ops_rec:-no} ops records; loss marks $marks; ops lists partial: $partial" "$(cat "$tmp/rec.err")"
    else
      pass overload_counts_add_up "recorded $rec + dropped $drop = produced $produced ($records ops records), $marks loss marks; $(jq .binds_without_ops "$tmp/wl.json") of $(jq .nbinds "$tmp/wl.json") calls without their ops"
    fi
  fi
else
  fail overload_counts_add_up "did not attach" "$(cat "$tmp/rec.err")"; stop_rec KILL
fi

# --- a full disk: a clear error, exit 1, and the file is whole up to where it stopped ---
mkdir -p "$tmp/full"
if mount -t tmpfs -o size=64k tmpfs "$tmp/full" 2>/dev/null; then
  f=$tmp/full/t.perfetto-trace
  if start_rec -o "$f"; then
    "$SIM" run -w storm -P 2 --queues 2 -n 400 --seed 17 -o "$tmp/sum.json" 2>/dev/null
    stop_rec INT
    cp "$f" "$tmp/full.perfetto-trace"	# decoded outside the full disk
    f=$tmp/full.perfetto-trace
    if [ "$rec_rc" -ne 1 ] || ! grep -q 'No space left on device' "$tmp/rec.err"; then
      fail disk_full_keeps_the_file_valid "exit $rec_rc (expected 1) or no clear error:" "$(cat "$tmp/rec.err")"
    elif ! diffs=$(decode "$f"); then
      fail disk_full_keeps_the_file_valid "$diffs"
    elif ! "$STAT" --replay "$f" --json >"$tmp/replay.json" 2>"$tmp/replay.err"; then
      fail disk_full_keeps_the_file_valid "replay failed:" "$(cat "$tmp/replay.err")"
    elif [ "$(jq .totals.binds "$tmp/replay.json")" -ne "$(jq '.slices.VM_BIND' "$f.chk")" ]; then
      fail disk_full_keeps_the_file_valid "replay and protoc disagree on the binds"
    else
      pass disk_full_keeps_the_file_valid "$(stat -c %s "$f") bytes kept, $(jq .slices.VM_BIND "$f.chk") VM_BINDs; $(grep -o 'No space[^;]*' "$tmp/rec.err" | head -1)"
    fi
  else
    fail disk_full_keeps_the_file_valid "did not attach" "$(cat "$tmp/rec.err")"; stop_rec KILL
  fi
  umount "$tmp/full"
else
  echo "skip disk_full_keeps_the_file_valid # cannot mount a tmpfs here"
fi

# --- the size limit: recording stops, the file is whole and has its final stats ---
f=$tmp/limited.perfetto-trace
if start_rec -o "$f" --max-size 0.02; then
  "$SIM" run -w storm -P 2 --queues 2 -n 100 --seed 12 -o "$tmp/sum.json" 2>/dev/null
  stop_rec INT
  size=$(stat -c %s "$f")
  if [ "$rec_rc" -ne 0 ] || ! grep -q 'reached --max-size' "$tmp/rec.err"; then
    fail size_limit "exit $rec_rc, or not said:" "$(cat "$tmp/rec.err")"
  elif [ "$size" -gt $(( 20971 + 1024 )) ]; then
    fail size_limit "$size bytes for a limit of 20971"
  elif ! diffs=$(decode "$f"); then
    fail size_limit "$diffs"
  elif [ "$(jq '.stats.events_recorded // -1' "$f.chk")" -le 0 ]; then
    fail size_limit "no final stats in the file"
  else
    pass size_limit "$size bytes, $(jq .stats.events_recorded "$f.chk") events"
  fi
else
  fail size_limit "did not attach" "$(cat "$tmp/rec.err")"; stop_rec KILL
fi

# --- the flight recorder: SIGUSR1 writes the last seconds, the end writes FILE ---
f=$tmp/ring.perfetto-trace
if start_rec -o "$f" --ring 0.5; then
  "$SIM" run -w storm -P 2 --queues 2 -n 400 --seed 18 -o "$tmp/sum.json" --log "$tmp/ring.log" 2>/dev/null &
  sim_pid=$!
  # ask for the window once the run is well under way (a loaded machine starts it late)
  for _ in $(seq 400); do
    [ "$(grep -c '"ev":"bind"' "$tmp/ring.log" 2>/dev/null)" -ge 200 ] && break
    sleep 0.025
  done
  kill -USR1 "$rec_pid"
  for _ in $(seq 100); do grep -q 'ring-1.perfetto-trace' "$tmp/rec.err" && break; sleep 0.05; done
  wait "$sim_pid"
  stop_rec INT
  binds=$(jq .totals.binds "$tmp/sum.json")
  if [ "$rec_rc" -ne 0 ] || [ ! -s "$tmp/ring-1.perfetto-trace" ]; then
    fail flight_recorder "exit $rec_rc; no ring-1.perfetto-trace:" "$(cat "$tmp/rec.err")"
  elif ! diffs=$(decode "$tmp/ring-1.perfetto-trace" --allow-open) || ! diffs=$(decode "$f" --allow-open); then
    fail flight_recorder "$diffs"
  else
    n1=$(jq '.slices.VM_BIND // 0' "$tmp/ring-1.perfetto-trace.chk")
    if [ "$n1" -le 0 ] || [ "$n1" -ge "$binds" ]; then
      fail flight_recorder "the dump holds $n1 of $binds VM_BINDs: not a window"
    elif ! jq -s -e 'all(.sealed)' "$tmp/ring-1.perfetto-trace.chk" "$f.chk" >/dev/null; then
      fail flight_recorder "the dump or the file at exit does not end with its final checksum"
    else
      pass flight_recorder "dump: $n1 of $binds VM_BINDs; at exit: $(jq '.slices.VM_BIND // 0' "$f.chk")"
    fi
  fi
else
  fail flight_recorder "did not attach" "$(cat "$tmp/rec.err")"; stop_rec KILL
fi

# No recorder outlives its case, killed ones included: the probes go with their process
# (programs of other tools running on this machine may be loaded meanwhile).
left=$(pgrep -f -- "--sim=$SIM" | wc -l)
if [ "$left" -eq 0 ]; then
  echo "ok trace_no_recorder_left"
else
  echo "not ok trace_no_recorder_left"; echo "#   $left msmvm-trace processes still hold probes"
fi
