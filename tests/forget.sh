#!/usr/bin/env bash
# Exited processes leave the maps (src/lib/forget.c): thousands of short-lived processes run
# through the model under msmvm-alert --forget-after 1. Afterwards the maps and /metrics hold
# a bounded number of entries and series (the processes are gone, their counts in the
# vm="exited" series), every counter summed over the series equals the sum of the model's
# summaries exactly, and every process is counted as forgotten exactly once.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
ALERT=$(realpath "$B/msmvm-alert")
RUNS=${FORGET_RUNS:-500}	# of 4 processes each
PROCS=4

if [ "$(id -u)" -ne 0 ]; then
  echo "skip forget_exited # needs root to attach uprobes"
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
# shellcheck source=tests/lib.sh
. tests/lib.sh

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
scrape() { curl -sf "http://127.0.0.1:$port/metrics" >"$1"; }
sum_of() { awk -v m="$1" 'index($0, m "{") == 1 {s += $NF} END {printf "%.0f\n", s}' "$2"; }
value_of() { awk -v m="$1" '$1 == m {print $NF}' "$2"; }

(cd "$tmp" && exec "$ALERT" --sim="$SIM" --listen "127.0.0.1:$port" --forget-after 1) \
  >"$tmp/alerts" 2>"$tmp/alert.err" &
alert_pid=$!
for _ in $(seq 600); do grep -q watching "$tmp/alert.err" && break; sleep 0.05; done
if ! grep -q watching "$tmp/alert.err"; then
  fail forget_exited "msmvm-alert did not start" "$(cat "$tmp/alert.err")"
  exit 0
fi

# the runs, one after another: each its own 4 processes, their VMs, their summary
peak_entries=0
for i in $(seq "$RUNS"); do
  "$SIM" run -w sparse -P $PROCS -n 8 --seed "$i" -o "$tmp/sum-$i.json" 2>/dev/null ||
    { fail forget_exited "run $i failed"; exit 0; }
  if [ $((i % 100)) -eq 0 ] && scrape "$tmp/mid.prom"; then
    e=$(awk '$1 == "msmvm_map_entries{map=\"usage\"}" {print $NF}' "$tmp/mid.prom")
    [ "${e:-0}" -gt "$peak_entries" ] && peak_entries=$e
  fi
done
jq -s '{binds: map(.totals.binds) | add, ops: map(.totals.ops) | add,
        errors: map(.totals.errors) | add, pages_counted: map(.totals.pages_counted) | add,
        pages_used: map(.totals.pages_used) | add, waits: map(.totals.waits) | add,
        processes: map(.processes | length) | add}' "$tmp"/sum-*.json >"$tmp/truth.json"

# forgotten within the grace period and the once-a-second pass: wait (generously) for it
nprocs=$(jq .processes "$tmp/truth.json")
for _ in $(seq 120); do
  scrape "$tmp/m.prom" && [ "$(value_of msmvm_forgotten_processes_total "$tmp/m.prom")" = "$nprocs" ] && break
  sleep 0.5
done
scrape "$tmp/m.prom"

problems=()
got=$(value_of msmvm_forgotten_processes_total "$tmp/m.prom")
[ "$got" = "$nprocs" ] || problems+=("forgotten processes $got, the model ran $nprocs")
for c in binds ops errors pages_counted pages_used waits; do
  got=$(sum_of "msmvm_${c}_total" "$tmp/m.prom")
  want=$(jq ".$c" "$tmp/truth.json")
  [ "$got" = "$want" ] || problems+=("msmvm_${c}_total summed: $got, the model's summaries: $want")
done
got=$(awk 'index($0, "msmvm_wait_seconds_count{") == 1 {s += $NF} END {print s + 0}' "$tmp/m.prom")
[ "$got" = "$(jq .waits "$tmp/truth.json")" ] || problems+=("wait histogram count $got")
if [ ${#problems[@]} -eq 0 ]; then
  pass forget_totals_exact "$nprocs processes in $RUNS runs: $(jq -c 'del(.processes)' "$tmp/truth.json")"
else
  fail forget_totals_exact "${problems[@]}"
fi

# bounded: every process gone, so no series but the exited one; the maps nearly empty
vms=$(grep -o '^msmvm_binds_total{vm="[^"]*"' "$tmp/m.prom" | sort -u | tr '\n' ' ')
usage=$(awk '$1 == "msmvm_map_entries{map=\"usage\"}" {print $NF}' "$tmp/m.prom")
stalls=$(awk '$1 == "msmvm_map_entries{map=\"stalls\"}" {print $NF}' "$tmp/m.prom")
lines=$(grep -vc '^#' "$tmp/m.prom")
if [ "$vms" = 'msmvm_binds_total{vm="exited" ' ] && [ "$usage" = 0 ] && [ "$stalls" = 0 ] &&
   [ "$lines" -lt 200 ]; then
  pass forget_bounded "after $nprocs processes: 1 VM series (exited), $lines metric lines, usage map $usage (peak seen $peak_entries), stalls map $stalls"
else
  fail forget_bounded "VM series: $vms" "usage map $usage, stalls map $stalls, $lines lines" "$(grep -v "^#" "$tmp/m.prom" | grep -v "vm=\"exited\"" | grep "vm=" | grep -v "_bucket" | head -12)"
fi
if awk -v p="$peak_entries" -v n="$nprocs" 'BEGIN {exit !(p < n / 4)}'; then
  pass forget_bounded_while_running "usage map at most $peak_entries entries at the scrapes, for $nprocs processes"
else
  fail forget_bounded_while_running "usage map reached $peak_entries entries for $nprocs processes"
fi
out=$(promtool check metrics <"$tmp/m.prom" 2>&1) && pass forget_metrics_valid ||
  fail forget_metrics_valid "$out"
kill -TERM "$alert_pid"; wait "$alert_pid"; rc=$?; alert_pid=
[ "$rc" = 0 ] && pass forget_alert_exits_cleanly || fail forget_alert_exits_cleanly "exit $rc" "$(tail -5 "$tmp/alert.err")"
