#!/usr/bin/env bash
# msmvm-alert against the model: triggers fire when (and only when) the model shows the
# condition, alerts carry the model's facts, --exec gets them untouched without a shell,
# the metrics pass promtool and equal the model's summary, config errors name their line.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
ALERT=$(realpath "$B/msmvm-alert")

if [ "$(id -u)" -ne 0 ]; then
  echo "skip msmvm_alert # needs root to attach uprobes"
  exit 0
fi
tmp=$(mktemp -d)
alert_pid=
cleanup() {
  [ -n "$alert_pid" ] && kill "$alert_pid" 2>/dev/null && wait "$alert_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
cp "$B/msmvm-sim" "$tmp/msmvm-sim"	# a private inode: only these runs are probed
SIM=$tmp/msmvm-sim

pass() { echo "ok $1${2:+ # $2}"; }
fail() { echo "not ok $1"; shift; for l in "$@"; do echo "#   $l"; done; }

# start_alert ARGS...: msmvm-alert on the private model, alerts (JSON) in $tmp/alerts
start_alert() {
  : >"$tmp/alert.err"
  (cd "$tmp" && exec "$ALERT" --sim="$SIM" --json "$@") >"$tmp/alerts" 2>"$tmp/alert.err" &
  alert_pid=$!
  for _ in $(seq 400); do grep -q watching "$tmp/alert.err" && return 0; sleep 0.05; done
  return 1
}
stop_alert() {
  kill -TERM "$alert_pid"; wait "$alert_pid"; local rc=$?; alert_pid=; return $rc
}
count() { jq -s --arg t "$1" '[.[] | select(.trigger == $t)] | length' "$tmp/alerts"; }

# --- stall: fires within one window of the stall starting ---
start_alert --stall 100/1000
"$SIM" run -w storm -P 2 -n 80 --job-cost 3000 --seed 31 --log "$tmp/log" -o "$tmp/sum.json" 2>/dev/null
sleep 0.3
stop_alert
first_stall=$(jq -s '[.[] | select(.ev == "bind" and .slept == 1) | .ts - .wait_ns] | min' "$tmp/log")
first_alert=$(jq -s '[.[] | select(.trigger == "stall") | .ts_ns] | min' "$tmp/alerts")
if [ "$first_alert" != null ] && [ "$first_stall" != null ] &&
   [ $((first_alert - first_stall)) -le 1200000000 ]; then
  pass alert_stall_within_a_window "$(( (first_alert - first_stall) / 1000000 )) ms after the stall began"
else
  fail alert_stall_within_a_window "first stall $first_stall, first alert $first_alert" "$(head -3 "$tmp/alerts")"
fi
# its numbers agree with the model: the process is the model's, stall <= the VM's waits
bad=$(jq -s --slurpfile m "$tmp/sum.json" '
  [.[] | select(.trigger == "stall") as $a
   | ($m[0].processes[] | select(.pid == $a.pid)) as $p
   | select($p == null or $a.comm != $p.comm or $a.value > ($p.totals.wait_ns_total / 1e6) + 1)]
  | length' "$tmp/alerts")
if [ "$bad" = 0 ]; then pass alert_stall_facts_match_model; else
  fail alert_stall_facts_match_model "$bad alerts disagree" "$(head -3 "$tmp/alerts")"; fi

# --- flight recorder: a Perfetto trace of the last seconds per alert, kept bounded ---
mkdir -p "$tmp/fr"
start_alert --stall 50/500 --flight-recorder "$tmp/fr" --ring 3
"$SIM" run -w storm -P 2 -n 80 --job-cost 3000 --seed 39 -o /dev/null 2>/dev/null
sleep 0.3
stop_alert
files=("$tmp"/fr/msmvm-alert-*-stall-*.perfetto-trace)
problems=()
[ -e "${files[0]}" ] || problems+=("no trace written")
[ "${#files[@]}" -le 16 ] || problems+=("${#files[@]} files kept (at most 16)")
[ "${#files[@]}" -le "$(count stall)" ] || problems+=("more traces than alerts")
for f in "${files[@]}"; do
  [ -e "$f" ] || continue
  if ! protoc --decode=perfetto.protos.Trace -I tests tests/trace.proto <"$f" >"$f.txt" 2>"$f.err"; then
    problems+=("protoc cannot decode $f"); break
  fi
  # (with its bytes: the checksums msmvm-trace's files carry, the last one at the end)
  if ! "$B/tests/test_trace" check --allow-open --trace "$f" "$f.txt" >"$f.chk" 2>"$f.err"; then
    problems+=("trace rules broken in $f: $(head -c 200 "$f.err")"); break
  fi
  jq -e .sealed "$f.chk" >/dev/null || problems+=("$f does not end with its final checksum")
  jq -e '.slices.VM_BIND > 0' "$f.chk" >/dev/null || problems+=("no VM_BIND slice in $f")
done
if [ ${#problems[@]} -eq 0 ]; then
  pass alert_flight_recorder_traces "${#files[@]} traces"
else
  fail alert_flight_recorder_traces "${problems[@]}"
fi

# --- no false positives: a calm sparse run at a low rate, as long ---
start_alert --stall 100/1000 --wait-max 50 --wedge 1 --drift 0
"$SIM" run -w sparse -P 2 --rate 40 -d 3 --seed 32 -o "$tmp/calm.json" 2>/dev/null
stop_alert
calm_waits=$(jq .totals.waits "$tmp/calm.json")
if [ "$calm_waits" != 0 ]; then
  # the model itself stalled (a machine too busy to keep even this rate): no ground truth
  # of calm to hold the alerts against
  echo "skip alert_calm_run_fires_nothing # the model waited $calm_waits times: machine too busy"
elif [ ! -s "$tmp/alerts" ]; then
  pass alert_calm_run_fires_nothing
else
  fail alert_calm_run_fires_nothing "$(head -3 "$tmp/alerts")" "model waits: $calm_waits"
fi

# --- wait-max: fires while the thread still waits ---
start_alert --wait-max 150
"$SIM" run -w storm -n 6 --job-cost 400000 --seed 33 --log "$tmp/log" -o "$tmp/sum.json" 2>/dev/null
stop_alert
ok=$(jq -s --slurpfile log "$tmp/log" '
  [.[] | select(.trigger == "wait-max") as $a
   | $log[] | select(.ev == "bind" and .tid == $a.tid and .slept == 1
                     and (.ts - .wait_ns) < $a.ts_ns and .ts > $a.ts_ns and .wait_ns > 150000000)]
  | length' "$tmp/alerts")
if [ "${ok:-0}" -ge 1 ]; then
  pass alert_wait_max_during_the_wait "$ok alerts inside their wait"
else
  fail alert_wait_max_during_the_wait "$(head -3 "$tmp/alerts")"
fi

# --- wedge: a hung scheduler keeps in_flight up with threads waiting ---
start_alert --wedge 1
"$SIM" run -w storm -P 1 -d 3 --hang-scheduler-after 0.3 --seed 34 --log "$tmp/wlog" \
  -o "$tmp/sum.json" 2>/dev/null
stop_alert
n=$(count wedge)
if [ "$n" -ge 1 ] && jq -se --slurpfile m "$tmp/sum.json" \
     'map(select(.trigger == "wedge")) | all(.in_flight > 1024 and .waiters > 0 and .pid == $m[0].processes[0].pid)' \
     "$tmp/alerts" >/dev/null; then
  pass alert_wedge_fires "$n"
else
  fail alert_wedge_fires "$(head -3 "$tmp/alerts")"
fi
# its tid: a thread the model's log says slept in the throttle (the longest waiter)
if [ "$n" -ge 1 ] && jq -se --slurpfile log "$tmp/wlog" \
     '([$log[] | select(.ev == "bind" and .slept == 1) | .tid] | unique) as $slept
      | map(select(.trigger == "wedge")) | all(.tid as $t | any($slept[]; . == $t))' \
     "$tmp/alerts" >/dev/null; then
  pass alert_wedge_tid "$(jq -sc 'map(select(.trigger == "wedge") | .tid)' "$tmp/alerts")"
else
  fail alert_wedge_tid "a wedge alert's tid is no thread that slept in the model's log" \
    "$(jq -sc 'map(select(.trigger == "wedge") | .tid)' "$tmp/alerts")"
fi

# --- drift: interrupted waits drive in_flight below what is outstanding ---
start_alert --drift 100
"$SIM" run -w storm -P 1 -n 150 --interrupt-rate 0.3 --seed 35 -o "$tmp/sum.json" 2>/dev/null
stop_alert
final=$(jq .totals.drift "$tmp/sum.json")
if [ "$(count drift)" -ge 1 ] && jq -se --argjson f "$final" \
     'map(select(.trigger == "drift")) | all(.drift < 0 and .drift >= $f)' "$tmp/alerts" >/dev/null; then
  pass alert_drift_fires "model drift $final"
else
  fail alert_drift_fires "model drift $final" "$(head -3 "$tmp/alerts")"
fi

# --- exec: the facts reach the program unchanged, and no shell ever runs ---
cat >"$tmp/hook" <<'EOF'
#!/bin/sh
printf '%s' "$MSMVM_COMM" >"$(dirname "$0")/got.comm"
printf '%s|%s|%s' "$MSMVM_TRIGGER" "$MSMVM_PID" "$1" >"$(dirname "$0")/got.rest"
EOF
chmod +x "$tmp/hook"
hostile=$(printf 'q"x;touch pw\nn')	# quotes, ;, a newline: 14 bytes, "-0" makes 16 > 15
hostile=${hostile:0:13}
start_alert --drift 0 --exec "$tmp/hook a;touch"
"$SIM" run -w storm -n 60 --interrupt-rate 0.3 --comm "$hostile" --seed 36 -o "$tmp/sum.json" 2>/dev/null
sleep 0.3
stop_alert
want_comm=$(jq -r '.processes[0].comm' "$tmp/sum.json")
got_comm=$(cat "$tmp/got.comm" 2>/dev/null)
if [ -f "$tmp/got.comm" ] && [ "$got_comm" = "$want_comm" ] &&
   [ "$(cut -d'|' -f1,3 "$tmp/got.rest")" = "drift|a;touch" ] && [ ! -e "$tmp/pw" ] && [ ! -e "$tmp/touch" ]; then
  pass alert_exec_env_unchanged_no_shell
else
  fail alert_exec_env_unchanged_no_shell "comm got '$got_comm' want '$want_comm'" "rest '$(cat "$tmp/got.rest" 2>/dev/null)'" "$(cat "$tmp/alert.err")"
fi

# --- metrics: promtool, histogram invariants, equal to the model's summary ---
start_alert --textfile "$tmp/metrics.prom" --listen 127.0.0.1:19464
# a comm with a quote, a backslash and a newline: label values must be escaped
"$SIM" run -w storm -P 2 --queues 2 -n 80 --seed 37 --comm "$(printf 'm"\\\nx')" \
  -o "$tmp/sum.json" 2>/dev/null
sleep 0.5
curl -sf http://127.0.0.1:19464/metrics >"$tmp/http.prom"; curl_rc=$?
caps=$(awk '/^CapEff/ {print $2}' "/proc/$alert_pid/status")
stop_alert
for src in textfile http; do
  f=$tmp/metrics.prom; [ $src = http ] && f=$tmp/http.prom
  problems=()
  [ $src = http ] && [ "$curl_rc" != 0 ] && problems+=("curl failed ($curl_rc)")
  out=$(promtool check metrics <"$f" 2>&1) || problems+=("promtool: $out")
  # buckets never decrease, +Inf equals _count
  inv=$(awk '
    /^msmvm_[a-z_]+_bucket/ { split($0, a, "le=\""); key = a[1]; v = $NF
      if (key in last && v < last[key]) bad++; last[key] = v
      if ($0 ~ /le="\+Inf"/) inf[key] = v }
    /^msmvm_[a-z_]+_count/ { k = $1; sub(/_count/, "_bucket", k); sub(/}$/, ",", k); cnt[k] = $NF }
    END { for (k in inf) if (inf[k] != cnt[k]) bad++; print bad + 0 }' "$f")
  [ "$inv" = 0 ] || problems+=("$inv histogram invariant violations")
  for pair in binds:binds ops:ops errors:errors pages_counted:pages_counted \
              pages_used:pages_used waits:waits interrupted_waits:interrupted_waits; do
    metric=msmvm_${pair%%:*}_total; key=${pair##*:}
    got=$(awk -v m="$metric" 'index($0, m "{") == 1 {s += $NF} END {print s + 0}' "$f")
    want=$(jq ".totals.$key" "$tmp/sum.json")
    [ "$got" = "$want" ] || problems+=("$metric: $got, model $want")
  done
  # a process stalls whenever one of its VMs does: its total is at least each VM's
  pst=$(awk 'index($0, "msmvm_process_stall_seconds_total{") == 1 {s += $NF} END {print s + 0}' "$f")
  vst=$(awk 'index($0, "msmvm_stall_seconds_total{") == 1 {s += $NF} END {print s + 0}' "$f")
  awk -v p="$pst" -v v="$vst" 'BEGIN {exit !(p > 0 && p <= v + 1e-6)}' ||
    problems+=("process stall $pst vs VM stall $vst")
  got=$(awk 'index($0, "msmvm_wait_seconds_count{") == 1 {s += $NF} END {print s + 0}' "$f")
  [ "$got" = "$(jq .totals.waits "$tmp/sum.json")" ] || problems+=("wait histogram count $got")
  if [ ${#problems[@]} -eq 0 ]; then pass "alert_metrics_$src"; else fail "alert_metrics_$src" "${problems[@]}"; fi
done
if [ "$caps" = 0000000000000000 ]; then pass alert_drops_capabilities; else
  fail alert_drops_capabilities "CapEff $caps"; fi

# --- config: errors with line numbers; SIGHUP re-reads ---
printf '# comment\nstall = 100/1000\nbogus = 1\n' >"$tmp/c1"
printf 'stall = 100/1000\n\nwedge = soon\n' >"$tmp/c2"
"$ALERT" --sim="$SIM" --config "$tmp/c1" >/dev/null 2>"$tmp/e1"; r1=$?
"$ALERT" --sim="$SIM" --config "$tmp/c2" >/dev/null 2>"$tmp/e2"; r2=$?
"$ALERT" --sim="$SIM" --config "$tmp/none" >/dev/null 2>"$tmp/e3"; r3=$?
"$ALERT" --sim="$SIM" >/dev/null 2>"$tmp/e4"; r4=$?
if [ $r1 = 2 ] && grep -q "c1:3: unknown key 'bogus'" "$tmp/e1" && [ $r2 = 2 ] &&
   grep -q "c2:3: bad value for wedge: 'soon'" "$tmp/e2" && [ $r3 = 2 ] && [ $r4 = 2 ]; then
  pass alert_config_errors_name_the_line
else
  fail alert_config_errors_name_the_line "$r1 $(cat "$tmp/e1")" "$r2 $(cat "$tmp/e2")" "$r3 $r4"
fi
printf 'stall = 100/1000\n' >"$tmp/c3"
start_alert --config "$tmp/c3"
printf 'drift = 0\n' >>"$tmp/c3"
kill -HUP "$alert_pid"; sleep 0.3
printf 'drift = lots\n' >>"$tmp/c3"
kill -HUP "$alert_pid"; sleep 0.3
"$SIM" run -w storm -n 60 --interrupt-rate 0.3 --seed 38 -o /dev/null 2>/dev/null
sleep 0.3
stop_alert; rc=$?
if [ $rc = 0 ] && grep -q "re-read" "$tmp/alert.err" && grep -q "c3:3: bad value for drift" "$tmp/alert.err" &&
   [ "$(count drift)" -ge 1 ]; then
  pass alert_sighup_rereads_config
else
  fail alert_sighup_rereads_config "status $rc" "$(cat "$tmp/alert.err")"
fi
