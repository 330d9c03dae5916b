#!/usr/bin/env bash
# In the arm64 guest, against the REAL msm.ko: msmvm-alert with a stall rule and the HTTP
# metrics on a free loopback port starts (its "watching" line), serves /metrics with every
# VM_BIND family at 0 (msm binds no device: no VM_BIND can happen) and no alert, and stops
# cleanly on SIGTERM (exit 0).
set -u
cd "$(dirname "$0")/../../.." || exit 1
tmp=$(mktemp -d)
alert_pid=
trap '[ -n "$alert_pid" ] && kill -9 "$alert_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
. tests/guest-arm64/lib.sh

msm_ready alert_msm || exit 0

# GET /metrics with bash's /dev/tcp (no curl in the guest)
scrape() {
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  sed '1,/^\r\{0,1\}$/d' <&3 >"$2"
  exec 3<&-
}

t0=$EPOCHREALTIME
port=$(free_port) || { fail alert_msm "no free port"; exit 0; }
: >"$tmp/alert.err"
"$ALERT" --json --stall 50/500 --listen "127.0.0.1:$port" >"$tmp/alerts" 2>"$tmp/alert.err" &
alert_pid=$!
if ! wait_for "$tmp/alert.err" watching "$alert_pid" 120; then
  kstop "$alert_pid" KILL; alert_pid=
  fail alert_msm "msmvm-alert did not start watching in 120 s (status $krc; port $port):" "$(cat "$tmp/alert.err")"
  exit 0
fi
start_s=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
scraped=0
for _ in 1 2 3 4 5; do
  scrape "$port" "$tmp/metrics.prom" 2>/dev/null && grep -q '^# TYPE msmvm_binds_total counter' "$tmp/metrics.prom" &&
    { scraped=1; break; }
  sleep 0.5
done
kstop "$alert_pid" TERM; alert_pid=
problems=()
[ "$krc" -eq 0 ] || problems+=("msmvm-alert exited $krc on SIGTERM: $(tail -n 5 "$tmp/alert.err")")
[ -s "$tmp/alerts" ] && problems+=("alerts with no msm device: $(head -c 300 "$tmp/alerts")")
if [ $scraped = 0 ]; then
  problems+=("GET /metrics on 127.0.0.1:$port gave no msmvm_binds_total family")
else
  # The VM_BIND families are per VM and process: with none, no sample at all; any sample
  # there is must be 0. The driver's own gauge says msm is attached (it is loaded).
  nz=$(awk '/^msmvm_(binds|ops|errors|pages|waits|interrupted|in_flight|peak|drift|waiters|stall|wait_)/ && $NF + 0 != 0' "$tmp/metrics.prom")
  [ -n "$nz" ] && problems+=("VM_BIND samples not zero: $nz")
  grep -q '^msmvm_driver_attached{module="msm"} 1$' "$tmp/metrics.prom" ||
    problems+=("no msmvm_driver_attached{module=\"msm\"} 1: $(grep '^msmvm_driver' "$tmp/metrics.prom")")
fi
if [ ${#problems[@]} -eq 0 ]; then
  pass alert_msm "watching after ${start_s}s ($(grep -o 'watching.*' "$tmp/alert.err" | head -1 | head -c 100)); /metrics: $(grep -c '^# TYPE msmvm_' "$tmp/metrics.prom") families, VM_BIND ones without a sample or 0, driver msm attached; no alert; SIGTERM: exit 0"
else
  fail alert_msm "${problems[@]}"
fi
