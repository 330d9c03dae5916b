#!/usr/bin/env bash
# The JSON examples in the docs have the fields the tools really print: each example is
# compared, by its set of field paths, with what the built tool prints on the model.
#
# A JSON example is an indented block of a doc (4 spaces or more; under a list item too)
# whose first line starts with "{": one or more JSON objects, which must parse (a schema
# written with placeholders is not an example, and fails here). Its kind: "type" (msmvm-stat:
# interval, final; msmvmtop: frame), "alert" for an object with a "trigger", "summary" for
# msmvm-sim run's (limit and totals). Field paths: jq's paths, array indices as "[]", without
# the paths of array elements themselves (an example shows one process of many, a histogram
# a few buckets). The tool's side is the union over every object of that kind it printed in
# these runs, all watching the same model run (a storm, so that waits and alerts happen):
#   msmvm-stat --sim --json -P 0.2 (intervals and final), msmvm-stat --replay --json -P of
#   msmvm-trace's recording of it, and of the recording cut short (final, with "replay");
#   msmvmtop --sim --json; msmvm-alert --sim --json with triggers that fire on a storm;
#   msmvm-sim run's summary.
# Every doc must have an example of each kind listed for it below, and no kind the tools
# did not print. And msmvm-stat --replay says a cut trace is truncated, in JSON and in text,
# with the file's size (stat) and fewer bytes read; the whole recording's report does not.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
B=${BUILD:-build}
DOCS=${DOCS_DIR:-docs}
# shellcheck source=tests/lib.sh
. tests/lib.sh

# doc: the kinds it must show
declare -A want=(
  [msmvm-stat.md]="interval final"
  [msmvmtop.md]="frame"
  [msmvm-alert.md]="alert"
  [model.md]="summary"
)
KIND='def kind: if type != "object" then "not an object" elif .type then .type
  elif .trigger then "alert" elif (.limit and .totals) then "summary" else "unknown" end;'
PATHS='[paths | map(if type == "number" then "[]" else . end)
        | select(last != "[]") | join(".")] | unique'

failed=0
tmp=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
FAIL_LINES=30

# examples DOC: each example object, compact, one a line; a block that does not parse is
# said on stderr (status 1)
examples() {
  local rc=0 n=0 f
  awk -v out="$tmp/ex" '
    {
      ind = ($0 ~ /^    /)
      if (ind && !inb && prevblank) { inb = 1; n++; ok = ($0 ~ /^ *[{]/) }
      else if (!ind) inb = 0
      if (inb && ok) print > (out "." n)
      prevblank = ($0 ~ /^[[:space:]]*$/)
    }
  ' "$1"
  for f in "$tmp"/ex.*; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    if ! jq -c . "$f" 2>"$tmp/jq.err"; then
      echo "$1: the JSON example starting '$(head -c 60 "$f" | tr -s ' ')' does not parse: $(cat "$tmp/jq.err")" >&2
      rc=1
    fi
    rm -f "$f"
  done
  return $rc
}

if [ "$(id -u)" -ne 0 ]; then
  echo "skip docs_json # needs root to attach uprobes to the model"
  exit 0
fi
for t in msmvm-sim msmvm-stat msmvmtop msmvm-alert msmvm-trace; do
  if [ ! -x "$B/$t" ]; then
    echo "skip docs_json # $B/$t is not built (make)"
    exit 0
  fi
done

# A private copy of the model: uprobes bind to the file's inode, so no other model running
# here (another test) adds to what these tools see.
cp "$B/msmvm-sim" "$tmp/msmvm-sim"
SIM=$tmp/msmvm-sim
out=$tmp/out
mkdir -p "$out"

# wait_for FILE PATTERN PID: up to 60 s (a loaded machine) for PATTERN in FILE
wait_for() {
  for _ in $(seq 1200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

"$B/msmvm-stat" --sim="$SIM" --json -P 0.2 >"$out/stat.json" 2>"$tmp/stat.err" &
stat_pid=$!; pids+=("$stat_pid")
"$B/msmvmtop" --sim="$SIM" --json -d 0.5 >"$out/top.json" 2>"$tmp/top.err" &
top_pid=$!; pids+=("$top_pid")
"$B/msmvm-alert" --sim="$SIM" --json --wait-max 1 --stall 1/1000 --wedge 0.001 \
  >"$out/alert.json" 2>"$tmp/alert.err" &
alert_pid=$!; pids+=("$alert_pid")
"$B/msmvm-trace" --sim="$SIM" -o "$tmp/rec.perfetto-trace" 2>"$tmp/rec.err" &
rec_pid=$!; pids+=("$rec_pid")
ready=()
wait_for "$tmp/stat.err" attached "$stat_pid" || ready+=("msmvm-stat did not attach: $(cat "$tmp/stat.err")")
wait_for "$tmp/alert.err" watching "$alert_pid" || ready+=("msmvm-alert did not attach: $(cat "$tmp/alert.err")")
wait_for "$tmp/rec.err" attached "$rec_pid" || ready+=("msmvm-trace did not attach: $(cat "$tmp/rec.err")")
# msmvmtop says nothing once attached: its first frame is the sign
wait_for "$out/top.json" frame "$top_pid" || ready+=("msmvmtop printed no frame: $(cat "$tmp/top.err")")
if [ ${#ready[@]} -gt 0 ]; then
  fail docs_json_run "${ready[@]}"
  exit 1
fi
# a storm over two processes with two VMs each, jobs of 60 ms against 33 ms between one VM's
# binds: waits for certain (89 of 120 binds; with 30 ms jobs, 7 to 11 of a few ms, and a run
# now and then where msmvm-alert fired nothing), so wait-max and stall fire, and jobs long
# enough for a wedge check to see threads waiting
"$SIM" run -w storm -P 2 --vms 2 -n 60 -r 60 --job-cost 60000 --seed 7 -o "$out/summary.json" 2>"$tmp/sim.err" ||
  fail docs_json_run "msmvm-sim run failed: $(cat "$tmp/sim.err")"
# two more intervals after the run (gauges at rest), then end them all as Ctrl-C does
n0=$(grep -c "\"type\":\"interval\"" "$out/stat.json")
for _ in $(seq 400); do [ "$(grep -c "\"type\":\"interval\"" "$out/stat.json")" -ge $((n0 + 2)) ] && break; sleep 0.05; done
for p in "$stat_pid" "$top_pid" "$alert_pid" "$rec_pid"; do
  kill -INT "$p" 2>/dev/null
  wait "$p" 2>/dev/null
done
pids=()
"$B/msmvm-stat" --replay "$tmp/rec.perfetto-trace" --json -P >"$out/replay.json" 2>"$tmp/replay.err" ||
  fail docs_json_run "msmvm-stat --replay failed: $(cat "$tmp/replay.err")"
# cut inside a packet, as a killed recorder leaves it: the report says "truncated"
size=$(stat -c %s "$tmp/rec.perfetto-trace")
head -c $((size - 7)) "$tmp/rec.perfetto-trace" >"$tmp/cut.perfetto-trace"
"$B/msmvm-stat" --replay "$tmp/cut.perfetto-trace" --json -P >"$out/cut.json" 2>"$tmp/cut.err" ||
  fail docs_json_run "msmvm-stat --replay of a cut trace failed: $(cat "$tmp/cut.err")"
# the report says so (JSON and text), with the file's true size; the whole file's does not
"$B/msmvm-stat" --replay "$tmp/cut.perfetto-trace" >"$tmp/cut.txt" 2>/dev/null
problems=()
jq -e --argjson n $((size - 7)) '.replay.truncated == true and .replay.bytes == $n and .replay.bytes_read < $n' \
  "$out/cut.json" >/dev/null || problems+=("cut to $((size - 7)) bytes: $(jq -c .replay "$out/cut.json")")
jq -e --argjson n "$size" '.replay.truncated == false and .replay.finished and .replay.bytes == $n and .replay.bytes_read == $n' \
  "$out/replay.json" >/dev/null || problems+=("whole, $size bytes: $(jq -c .replay "$out/replay.json")")
grep -q "is truncated: read [0-9]* of its $((size - 7)) bytes" "$tmp/cut.txt" ||
  problems+=("the text report does not say it: $(tail -2 "$tmp/cut.txt")")
if [ ${#problems[@]} -eq 0 ]; then
  pass docs_json_replay_truncated "$(jq -c '.replay | {bytes, bytes_read, truncated}' "$out/cut.json")"
else
  fail docs_json_replay_truncated "${problems[@]}"
fi
[ -s "$out/alert.json" ] || fail docs_json_run "msmvm-alert fired nothing on the storm: $(tail -3 "$tmp/alert.err")"

# msmvm-stat's intervals against the model: their deltas add up to the model's counts, in
# total and per process (-P), and the last gauges are the model's final in_flight and drift
# (the run ended two intervals before msmvm-stat did)
diffs=$(jq -rs --slurpfile m "$out/summary.json" '
  def exact: ["binds","ops","errors","pages_counted","pages_used","pages_overcount","waits","interrupted_waits"];
  [.[] | select(.type == "interval")] as $iv | $m[0] as $m
  | (exact[] as $k | ([$iv[].deltas[$k]] | add) as $a
     | select($a != $m.totals[$k]) | "totals \($k): intervals add up to \($a), model \($m.totals[$k])"),
    ($m.processes[] as $mp | exact[] as $k
     | ([$iv[].processes[]? | select(.pid == $mp.pid) | .deltas[$k]] | add // 0) as $a
     | select($a != $mp.totals[$k]) | "process \($mp.pid) \($k): intervals add up to \($a), model \($mp.totals[$k])"),
    (["in_flight","drift"][] as $k | select($iv[-1].gauges[$k] != $m.totals[$k])
     | "last interval gauges.\($k) \($iv[-1].gauges[$k]), model \($m.totals[$k])")
' "$out/stat.json" 2>&1)
if [ -z "$diffs" ]; then
  pass stat_interval_deltas_add_up "$(grep -c '"type":"interval"' "$out/stat.json") intervals, $(jq '.processes | length' "$out/summary.json") processes"
else
  fail stat_interval_deltas_add_up "$diffs"
fi

# DOCS_JSON_KEEP=DIR: keep what the tools printed there (to write an example from)
[ -n "${DOCS_JSON_KEEP:-}" ] && cp "$out"/*.json "$DOCS_JSON_KEEP"/

# the tools' kinds and paths: {kind: [paths]}
cat "$out"/*.json | jq -s "$KIND"' group_by(kind) | map({key: (.[0] | kind), value: ([.[] | '"$PATHS"'] | add | unique)}) | from_entries' \
  >"$tmp/actual.json" 2>"$tmp/jq.err" || fail docs_json_run "the tools printed something that is not JSON: $(cat "$tmp/jq.err")"

for doc in "${!want[@]}"; do
  name=docs_json_${doc%.md}
  if ! examples "$DOCS/$doc" >"$tmp/examples" 2>"$tmp/examples.err"; then
    fail "$name" "$(cat "$tmp/examples.err")"
    continue
  fi
  errs=()
  for k in ${want[$doc]}; do
    jq -se --arg k "$k" "$KIND"' map(select(kind == $k)) | length > 0' "$tmp/examples" >/dev/null 2>&1 ||
      errs+=("no JSON example of kind $k in $DOCS/$doc")
  done
  # per kind the doc shows: its paths against the tools'
  while IFS= read -r line; do
    errs+=("$line")
  done < <(jq -rs --slurpfile act "$tmp/actual.json" "$KIND"'
    group_by(kind)[] | (.[0] | kind) as $k | ([.[] | '"$PATHS"'] | add | unique) as $doc
    | if $act[0][$k] == null then "the doc has an example of kind \($k), which no tool printed"
      else
        ($doc - $act[0][$k] | .[] | "\($k): in the doc, not printed: \(.)"),
        ($act[0][$k] - $doc | .[] | "\($k): printed, not in the doc: \(.)")
      end' "$tmp/examples")
  if [ ${#errs[@]} -eq 0 ]; then
    pass "$name" "$(wc -l <"$tmp/examples") examples ($(jq -rs "$KIND"' map(kind) | unique | join(", ")' "$tmp/examples")) match the tools' fields"
  else
    fail "$name" "${errs[@]}"
  fi
done

[ $failed -eq 0 ]
