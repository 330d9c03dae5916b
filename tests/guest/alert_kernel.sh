#!/usr/bin/env bash
# msmvm-alert on the kernel flavor, in the guest: a stall rule and the HTTP metrics on a free
# port, attached to the kernel twin while `msmvm-sim run --kernel` runs a storm. The stall
# alert must fire for the storm's processes, with facts that agree with the twin's; and
# /metrics, scraped after the run, must hold the twin's ground truth exactly.
set -u
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
alert_pid=
cleanup() {
  [ -n "$alert_pid" ] && kill -9 "$alert_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
. tests/guest/lib.sh

guest_ready alert_kernel || exit 0
attach_args auto

# metric FILE NAME: the sum of a family over its label sets
# (The exposition format itself is checked with promtool by tests/alert.sh on the host: the
# same code writes it here, and promtool takes seconds to start in the emulated guest.)
metric() {
  awk -v m="$2" 'index($0, m "{") == 1 || index($0, m " ") == 1 {s += $NF} END {printf "%d\n", s}' "$1"
}
# scrape URL OUT: GET /metrics, with curl or, without it, bash's /dev/tcp
scrape() {
  if command -v curl >/dev/null; then
    curl -sf --max-time 5 "http://127.0.0.1:$1/metrics" >"$2"
  else
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    sed '1,/^\r\{0,1\}$/d' <&3 >"$2"
    exec 3<&-
  fi
}

# 127.0.0.1 needs the loopback interface up (a bare guest may not have brought it up)
lo_note=
if [ -r /sys/class/net/lo/flags ] && [ $(( $(cat /sys/class/net/lo/flags) & 1 )) -eq 0 ]; then
  ip link set lo up 2>/dev/null && lo_note="; brought lo up"
fi

t0=$SECONDS
port=$(free_port) || { fail alert_kernel "no free port"; exit 0; }
: >"$tmp/alert.err"
"$ALERT" "${KARGS[@]}" --json --stall 50/500 --listen "127.0.0.1:$port" >"$tmp/alerts" 2>"$tmp/alert.err" &
alert_pid=$!
if ! wait_for "$tmp/alert.err" watching "$alert_pid" 60; then
  fail alert_kernel_stall_fires "msmvm-alert did not attach in $((SECONDS - t0)) s (port $port):" "$(cat "$tmp/alert.err")"
  fail alert_kernel_metrics_equal_twin "not attached"
  exit 0
fi
attach_s=$((SECONDS - t0))
# a storm whose jobs take 10 ms each: every bind waits for the job before it
if ! krun "$tmp/sum.json" '.waits > 0 and .peak_in_flight > 1024 and .errors == 0' \
               -w storm -P 2 --queues 2 -n 16 --job-cost 10000 --seed 61 >"$tmp/krun.out"; then
  fail alert_kernel_stall_fires "$(cat "$tmp/krun.out")"; fail alert_kernel_metrics_equal_twin "the run failed"
  exit 0
fi
run_s=$((SECONDS - t0 - attach_s))
# the metrics are rebuilt every 0.1 s: scrape until they have caught up with the run's end
want_binds=$(printf '%s\n' "$run_note" | sed -n 's/^binds \([0-9]*\),.*/\1/p')
scraped=0
end=$((SECONDS + 10))
while [ "$SECONDS" -le "$end" ]; do
  if scrape "$port" "$tmp/metrics.prom"; then
    scraped=1
    [ "$(metric "$tmp/metrics.prom" msmvm_binds_total)" = "$want_binds" ] && break
  fi
  sleep 0.2
done
kstop "$alert_pid" TERM; alert_pid=

# The metrics as JSON: each family summed over its label sets (and its largest value), the
# processes that have series; then one jq holds the alerts and the metrics to the twin.
[ "$scraped" = 1 ] || : >"$tmp/metrics.prom"
awk 'BEGIN {printf "{\"sum\":{"} /^msmvm_[a-z_]+[{ ]/ {
       name = $1; sub(/[{ ].*/, "", name); v = $NF + 0; sum[name] += v
       if (!(name in max) || v > max[name]) max[name] = v
       if (name == "msmvm_binds_total" && match($0, /pid="[0-9]+"/)) pids[substr($0, RSTART + 5, RLENGTH - 6)] = 1 }
     END { n = 0; for (k in sum) printf "%s\"%s\":%.0f", (n++ ? "," : ""), k, sum[k]
           printf "},\"max\":{"; n = 0; for (k in max) printf "%s\"%s\":%.0f", (n++ ? "," : ""), k, max[k]
           printf "},\"pids\":["; n = 0; for (p in pids) printf "%s%s", (n++ ? "," : ""), p; print "]}" }' \
  "$tmp/metrics.prom" >"$tmp/metrics.json"
jq -n -r --slurpfile m "$tmp/sum.json" --slurpfile al "$tmp/alerts" --slurpfile x "$tmp/metrics.json" '
  $m[0] as $m | $x[0] as $x | [$al[] | select(.trigger == "stall")] as $st |
  "nstall \($st | length)",
  (if ($st | length) == 0 then "stall no stall alert (\($al | length) alerts)" else empty end),
  # each names a process of the run by pid and comm, and its stalled time within the window
  # is no more than that process waited in all (+1 ms of rounding)
  ($st[] as $a | ([$m.processes[] | select(.pid == $a.pid)] | first) as $p |
   if $p == null then "stall alert for pid \($a.pid) (\($a.comm)), not a process of the run"
   elif $a.comm != $p.comm then "stall alert comm \($a.comm), twin \($p.comm)"
   elif $a.value > ($p.totals.wait_ns_total / 1e6) + 1 then "stall alert value \($a.value) ms > the process waited (\($p.totals.wait_ns_total / 1e6) ms)"
   else empty end | "stall \(.)"),
  # the metrics after the run: the twin totals exactly
  (([["binds","msmvm_binds_total"],["ops","msmvm_ops_total"],["errors","msmvm_errors_total"],
     ["pages_counted","msmvm_pages_counted_total"],["pages_used","msmvm_pages_used_total"],
     ["waits","msmvm_waits_total"],["interrupted_waits","msmvm_interrupted_waits_total"],
     ["in_flight","msmvm_in_flight_pages"],["drift","msmvm_drift_pages"],
     ["waits","msmvm_wait_seconds_count"]][] as [$k, $f]
    | select(($x.sum[$f] // 0) != $m.totals[$k]) | "\($f): \($x.sum[$f] // 0), twin \($k) \($m.totals[$k])"),
   (if ($x.max.msmvm_peak_in_flight_pages // 0) > $m.totals.peak_in_flight
    then "msmvm_peak_in_flight_pages (largest): \($x.max.msmvm_peak_in_flight_pages // 0), above the twin'"'"'s \($m.totals.peak_in_flight) (a lower bound on the kernel: tests/lib.sh)" else empty end),
   ($m.processes[].pid | select(. as $p | $x.pids | index($p) | not) | "no series for process \(.)")
  | "metrics \(.)")' >"$tmp/verdict" 2>&1 || echo "metrics jq failed: $(cat "$tmp/verdict")" >>"$tmp/verdict"
nstall=$(sed -n 's/^nstall //p' "$tmp/verdict")

# --- the stall alert fired for the storm, for its processes, with plausible numbers ---
problems=()
[ "$krc" -eq 0 ] || problems+=("msmvm-alert exited $krc: $(tail -n 3 "$tmp/alert.err")")
sed -n 's/^stall //p' "$tmp/verdict" >"$tmp/p"	# (no <(...): the guest has no /dev/fd)
while IFS= read -r l; do problems+=("$l"); done <"$tmp/p"
if [ ${#problems[@]} -eq 0 ]; then
  pass alert_kernel_stall_fires "$nstall stall alerts; $run_note; attach ${attach_s} s ($(sed -n 's/.*watching .*(msm_kmodel[^;]*; \([^)]*\)).*/\1/p' "$tmp/alert.err" | head -1)), run ${run_s} s$lo_note"
else
  fail alert_kernel_stall_fires "${problems[@]}" "alerts: $(head -c 400 "$tmp/alerts")"
fi

# --- /metrics after the run: the twin's totals ---
problems=()
[ "$scraped" = 1 ] || problems+=("GET /metrics on 127.0.0.1:$port failed")
grep -v '^nstall \|^stall ' "$tmp/verdict" | sed 's/^metrics //' >"$tmp/p"
while IFS= read -r l; do problems+=("$l"); done <"$tmp/p"
if [ ${#problems[@]} -eq 0 ]; then
  pass alert_kernel_metrics_equal_twin "$((SECONDS - t0)) s in all"
else
  fail alert_kernel_metrics_equal_twin "${problems[@]}" "twin: $(cat "$tmp/sum.json")"
fi
