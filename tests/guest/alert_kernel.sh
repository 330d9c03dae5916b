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

# metric FILE NAME [max]: the sum (or the largest value) of a family over its label sets
metric() {
  awk -v m="$2" -v op="${3:-sum}" 'index($0, m "{") == 1 || index($0, m " ") == 1 {
      v = $NF + 0; if (op == "max") { if (!n++ || v > s) s = v } else s += v }
    END {printf "%d\n", s}' "$1"
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
if ! diffs=$(krun "$tmp/sum.json" -w storm -P 2 --queues 2 -n 16 --job-cost 10000 --seed 61); then
  fail alert_kernel_stall_fires "$diffs"; fail alert_kernel_metrics_equal_twin "the run failed"
  exit 0
fi
run_s=$((SECONDS - t0 - attach_s))
# the metrics are rebuilt every 0.1 s: scrape until they have caught up with the run's end
want_binds=$(jq .totals.binds "$tmp/sum.json")
scraped=0
for _ in $(seq 50); do
  if scrape "$port" "$tmp/metrics.prom"; then
    scraped=1
    [ "$(metric "$tmp/metrics.prom" msmvm_binds_total)" = "$want_binds" ] && break
  fi
  sleep 0.2
done
kstop "$alert_pid" TERM; alert_pid=

# --- the stall alert fired for the storm, with the twin's process and plausible numbers ---
problems=()
[ "$krc" -eq 0 ] || problems+=("msmvm-alert exited $krc: $(tail -n 3 "$tmp/alert.err")")
jq -e '.totals.waits > 0 and .totals.peak_in_flight > 1024' "$tmp/sum.json" >/dev/null ||
  problems+=("the twin did not throttle: $(jq -c .totals "$tmp/sum.json")")
nstall=$(jq -s '[.[] | select(.trigger == "stall")] | length' "$tmp/alerts" 2>/dev/null)
[ "${nstall:-0}" -ge 1 ] || problems+=("no stall alert: $(head -c 400 "$tmp/alerts")")
# each names a process of the run, by pid and comm, and its stalled time within the window
# is no more than that process waited in all (+1 ms of rounding)
bad=$(jq -s --slurpfile m "$tmp/sum.json" '
  [.[] | select(.trigger == "stall") as $a
   | ([$m[0].processes[] | select(.pid == $a.pid)] | first) as $p
   | select($p == null or $a.comm != $p.comm or $a.value > ($p.totals.wait_ns_total / 1e6) + 1)]
  | length' "$tmp/alerts" 2>/dev/null)
[ "${bad:-1}" = 0 ] || problems+=("${bad:-?} stall alerts disagree with the twin: $(head -c 400 "$tmp/alerts")")
if [ ${#problems[@]} -eq 0 ]; then
  pass alert_kernel_stall_fires "$nstall alerts; $(jq -r '.totals | "waits \(.waits), wait \(.wait_ns_total / 1e6 | floor) ms"' "$tmp/sum.json"); attach ${attach_s} s, run ${run_s} s$lo_note"
else
  fail alert_kernel_stall_fires "${problems[@]}"
fi

# --- /metrics after the run: the twin's totals ---
problems=()
[ "$scraped" = 1 ] || problems+=("GET /metrics on 127.0.0.1:$port failed")
if [ "$scraped" = 1 ]; then
  for k in binds ops errors pages_counted pages_used waits interrupted_waits; do
    got=$(metric "$tmp/metrics.prom" "msmvm_${k}_total"); want=$(jq ".totals.$k" "$tmp/sum.json")
    [ "$got" = "$want" ] || problems+=("msmvm_${k}_total: $got, twin $want")
  done
  for pair in in_flight:msmvm_in_flight_pages drift:msmvm_drift_pages; do
    got=$(metric "$tmp/metrics.prom" "${pair#*:}"); want=$(jq ".totals.${pair%%:*}" "$tmp/sum.json")
    [ "$got" = "$want" ] || problems+=("${pair#*:}: $got, twin ${pair%%:*} $want")
  done
  got=$(metric "$tmp/metrics.prom" msmvm_peak_in_flight_pages max); want=$(jq .totals.peak_in_flight "$tmp/sum.json")
  [ "$got" = "$want" ] || problems+=("msmvm_peak_in_flight_pages (largest): $got, twin $want")
  got=$(metric "$tmp/metrics.prom" msmvm_wait_seconds_count); want=$(jq .totals.waits "$tmp/sum.json")
  [ "$got" = "$want" ] || problems+=("msmvm_wait_seconds_count: $got, twin waits $want")
  # one series per VM of the run, labelled with its process
  for pid in $(jq -r '.processes[].pid' "$tmp/sum.json"); do
    grep -q "^msmvm_binds_total{.*pid=\"$pid\"" "$tmp/metrics.prom" || problems+=("no series for process $pid")
  done
  if command -v promtool >/dev/null; then
    out=$(promtool check metrics <"$tmp/metrics.prom" 2>&1) || problems+=("promtool: $out")
  fi
fi
if [ ${#problems[@]} -eq 0 ]; then
  pass alert_kernel_metrics_equal_twin "$(jq -c '.totals | {binds, pages_counted, waits}' "$tmp/sum.json"); $((SECONDS - t0)) s in all"
else
  fail alert_kernel_metrics_equal_twin "${problems[@]}" "twin: $(jq -c .totals "$tmp/sum.json")"
fi
